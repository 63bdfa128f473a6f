"""The moving parts of bench/ingest.py: a cheap HTTP client, gunicorn on a loopback port,
throwaway databases, and CPU accounting per process group. Nothing here leaves 127.0.0.1."""

import os
import resource
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from prmonitor.storage.db import open_database

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICK = os.sysconf("SC_CLK_TCK")

# -- the client ------------------------------------------------------------------------------


class ServerClosed(ConnectionError):
    """The server closed a kept-alive connection before answering."""


class Connection:
    """One client connection, kept alive while the server allows it (gunicorn's sync worker
    closes after every response; gthread keeps it)."""

    def __init__(self, port, timeout=30):
        self.address, self.timeout = ("127.0.0.1", port), timeout
        self.sock = self.reader = None

    def exchange(self, request):
        """(status, body) for one request; retried once when a reused connection was closed."""
        reused = self.sock is not None
        try:
            return self._exchange(request)
        except (ServerClosed, ConnectionResetError, BrokenPipeError):
            self.close()
            if not reused:
                raise
        return self._exchange(request)

    def _exchange(self, request):
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.reader = self.sock.makefile("rb")
        self.sock.sendall(request)
        return self._response()

    def _response(self):
        status_line = self.reader.readline()
        if not status_line:
            raise ServerClosed("no response")
        status = int(status_line.split()[1])
        length, close = None, status_line.startswith(b"HTTP/1.0")
        for line in iter(self.reader.readline, b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        body = self.reader.read(length) if length is not None else self.reader.read()
        if close or length is None:
            self.close()
        return status, body

    def close(self):
        if self.sock is not None:
            self.reader.close()
            self.sock.close()
        self.sock = self.reader = None


@dataclass
class Outcome:
    """Per-delivery status (None: no answer), body and latency, and the wall time of the run."""

    statuses: list
    bodies: list
    latencies: list
    elapsed: float


def drive(port, requests, concurrency, timeout=600):
    """Send every request over `concurrency` connections, each taking the next unsent one."""
    count = len(requests)
    statuses, bodies, latencies = [None] * count, [b""] * count, [0.0] * count
    cursor, lock = iter(range(count)), threading.Lock()

    def client():
        conn = Connection(port)
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            started = time.perf_counter()
            try:
                statuses[index], bodies[index] = conn.exchange(requests[index])
            except OSError as exc:
                bodies[index] = repr(exc).encode()
                conn.close()
            latencies[index] = time.perf_counter() - started
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    deadline = started + timeout
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()))
    return Outcome(statuses, bodies, latencies, time.perf_counter() - started)


# -- gunicorn --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    port: int
    pid: int


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_command(target, workers, worker_class, threads, port):
    """gunicorn with the checkout's gunicorn.conf.py (prmonitor.server.settings(), as the
    Procfile's web and `prmonitor serve` run); `deployed` keeps its worker model, `sync` and
    `gthread` override it."""
    command = [str(Path(sys.executable).parent / "gunicorn"), "--chdir", str(ROOT)]
    command += ["--config", str(ROOT / "gunicorn.conf.py")]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"]
    if worker_class != "deployed":
        command += ["--worker-class", worker_class, "--keep-alive", "5"]
    if worker_class == "gthread":
        command += ["--threads", str(threads)]
    return [*command, target]


@contextmanager
def gunicorn(build_command, env, log_path):
    """A running gunicorn whose output goes to log_path; yields a Server, then stops it.
    build_command(port) gives the command line."""
    port = free_port()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            build_command(port),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(process, port, log_path)
        yield Server(port, process.pid)
    finally:
        stop(process)


def wait_healthy(process, port, log_path, timeout=30):
    deadline = time.monotonic() + timeout
    probe = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            if Connection(port, timeout=2).exchange(probe)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer /healthz in {timeout}s:\n{_tail(log_path)}")


def _tail(path, lines=20):
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def stop(process, timeout=15):
    """SIGTERM (gunicorn stops its workers gracefully), then SIGKILL if it takes too long."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def migrate(env):
    prmonitor = Path(sys.executable).parent / "prmonitor"
    subprocess.run(
        [str(prmonitor), "migrate"], env=env, check=True, timeout=120, capture_output=True
    )


# -- databases -------------------------------------------------------------------------------


@contextmanager
def sqlite_database(directory):
    yield f"sqlite:///{directory}/bench.db"


@contextmanager
def postgres_database(base_url):
    """A fresh schema in the base database, dropped afterwards; yields a URL that uses it."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    _postgres_admin(base_url, f"CREATE SCHEMA {schema}")
    sep = "&" if urlsplit(base_url).query else "?"
    try:
        yield f"{base_url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        _postgres_admin(base_url, f"SET lock_timeout = '10s'; DROP SCHEMA {schema} CASCADE")


def _postgres_admin(url, sql):
    import psycopg2

    conn = psycopg2.connect(url, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def hold_poller_lease(database_url):
    """As a worker running `prmonitor poll` would: the poller's lease, held for an hour."""
    from prmonitor.storage import db as app_db
    from prmonitor.storage import lease

    database = app_db.bind(database_url)
    try:
        with database.connection_context():
            assert lease.acquire(lease.POLLER, "bench-worker", 3600)
    finally:
        getattr(database, "close_all", database.close)()


def private_key():
    """A PEM private key, so that the app starts with App credentials (the tests' own maker)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.fakes import new_private_key

    return new_private_key()


def count_rows(database_url, queries):
    """{name: the first column of each query's first row}, through the app's database layer."""
    db = open_database(database_url)
    try:
        with db.connection_context():
            return {name: db.execute_sql(sql).fetchone()[0] for name, sql in queries.items()}
    finally:
        getattr(db, "close_all", db.close)()


# -- CPU accounting --------------------------------------------------------------------------


def _proc_stat(pid):
    """(command, parent pid, CPU seconds) of a process, or None once it has gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    command, rest = raw[raw.index("(") + 1 : raw.rindex(")")], raw[raw.rindex(")") + 2 :].split()
    return command, int(rest[1]), (int(rest[11]) + int(rest[12])) / CLOCK_TICK


def cpu_by_group(server_pid):
    """CPU seconds so far of each process: {("server"|"postgres", pid): seconds}."""
    found = {}
    for entry in os.listdir("/proc"):
        stat = _proc_stat(entry) if entry.isdigit() else None
        if stat is None:
            continue
        command, parent, seconds = stat
        if int(entry) == server_pid or parent == server_pid:
            found["server", int(entry)] = seconds
        elif command == "postgres":
            found["postgres", int(entry)] = seconds
    return found


def machine_busy():
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class CpuMeter:
    """CPU seconds spent by the server, Postgres and this client between start() and stop()."""

    def __init__(self, server_pid):
        self.server_pid = server_pid

    def start(self):
        self.before = cpu_by_group(self.server_pid)
        self.client_before = _own_cpu()
        self.machine_before = machine_busy()

    def stop(self):
        after = cpu_by_group(self.server_pid)
        spent = {"server": 0.0, "postgres": 0.0}
        for key, seconds in after.items():
            spent[key[0]] += seconds - self.before.get(key, 0.0)
        spent["client"] = _own_cpu() - self.client_before
        busy, total = (a - b for a, b in zip(machine_busy(), self.machine_before, strict=True))
        spent["busy"] = busy / total if total else 0.0
        return spent


def _own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
