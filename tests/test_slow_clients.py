"""Slow clients do not stall deliveries: with more stalled uploads than there are workers (each
sent its headers and part of its body), a real signed delivery is still answered at once, by
the Procfile's `web` (gunicorn.conf.py) and by `prmonitor serve` alike; the stalled ones are
answered 408 and closed once the body timeout passes, with nothing stored, and GitHub's
redelivery of one of them is processed as usual."""

import fcntl
import json
import os
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from prmonitor.server import ADMITTED, ARRIVING, BODY_TIMEOUT

from .helpers import SECRET, WEBHOOKS, delivery_headers
from .servers import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
WORKERS = 2
# More slow clients than the workers admit at once (server.ADMITTED each): were they counted
# as requests about to run, no worker would take another connection.
STALLED = ADMITTED * WORKERS
ANSWERED_WITHIN = BODY_TIMEOUT - 1  # s: GitHub gives up after 10, stalled sync workers took 31.5
# Settings that would start a poller or change what a delivery does.
UNSET = ("APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "GITHUB_TOKEN", "API_TOKEN", "NOTIFY")


def web_command():
    """The Procfile's `web` command line, the gunicorn beside this Python."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == "web":
            words = shlex.split(command.strip())
            return [str(Path(sys.executable).parent / words[0]), *words[1:]]
    raise LookupError("web")


def serve_command():
    return [sys.executable, "-m", "prmonitor.cli", "serve"]


@contextmanager
def running(kind, tmp_path, workers=WORKERS):
    """(port, database path, process) of the web server started as `kind` runs it; its output
    is in process.output afterwards."""
    port = free_port()
    path = tmp_path / "pr_tracking.db"
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(
        DATABASE_URL=f"sqlite:///{path}",
        WEBHOOK_SECRET=SECRET,
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    )
    if kind == "web":
        # Heroku's release phase first: the web process does not migrate.
        migrate = [sys.executable, "-m", "prmonitor.cli", "migrate"]
        subprocess.run(migrate, cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
        command = web_command()
    else:
        command = serve_command()
    process = subprocess.Popen(
        command,
        cwd=ROOT if kind == "web" else tmp_path,  # Heroku runs web from the repository root
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        yield port, path, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM if kind == "web" else signal.SIGINT)
        try:
            process.output = process.communicate(timeout=40)[0]
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.output = process.communicate(timeout=10)[0]
            raise
        finally:
            print(process.output[-5000:])  # shown when the test fails


def run_delivery(delivery_id=None):
    """(delivery id, the whole signed request) of a workflow_run delivery."""
    body = (FIXTURES / "workflow_run.completed.json").read_bytes()
    body = json.dumps(json.loads(body), separators=(",", ":")).encode()
    delivery_id = delivery_id or str(uuid.uuid4())
    headers = {
        **delivery_headers("workflow_run", body, delivery_id),
        "Host": "127.0.0.1",
        "Content-Length": str(len(body)),
    }
    head = "POST {} HTTP/1.1\r\n{}\r\n\r\n".format(
        WEBHOOKS, "\r\n".join(f"{k}: {v}" for k, v in headers.items())
    )
    return delivery_id, head.encode() + body


def stall(port, request):
    """A connection that sent the headers and half of the body, then nothing more."""
    head, _, body = request.partition(b"\r\n\r\n")
    sock = socket.create_connection(("127.0.0.1", port), timeout=BODY_TIMEOUT + 10)
    sock.sendall(head + b"\r\n\r\n" + body[: len(body) // 2])
    return sock


def exchange(port, request, timeout):
    """(status, headers, JSON body) of one request on a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        return read_response(sock)


def read_response(sock):
    """(status, {lowercase header: value}, JSON body); the body runs to Content-Length."""
    reader = sock.makefile("rb")
    status = int(reader.readline().split()[1])
    headers = {}
    for line in iter(reader.readline, b"\r\n"):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers["content-length"]))
    return status, headers, json.loads(body)


def closed_by_server(sock):
    """Whether the server has closed the connection (reading gives end of file)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def stored_deliveries(path):
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT delivery_id, outcome FROM deliveries").fetchall())


@pytest.mark.parametrize("kind", ["web", "serve"])
def test_a_delivery_is_answered_while_more_clients_than_workers_stall(kind, tmp_path):
    with running(kind, tmp_path) as (port, path, process), ExitStack() as stack:
        stalled = [run_delivery() for _ in range(STALLED)]
        sockets = [stack.enter_context(stall(port, request)) for _, request in stalled]
        time.sleep(0.5)  # each is in a worker by now, waiting for the rest of its body
        stalled_at = time.monotonic()

        delivery_id, request = run_delivery()
        started = time.monotonic()
        status, _, answer = exchange(port, request, timeout=ANSWERED_WITHIN)
        assert status == 200 and answer["outcome"] == "processed"
        # Well inside GitHub's 10 s, and before BODY_TIMEOUT frees a thread: this one was
        # served beside the stalled uploads, not after them.
        assert time.monotonic() - started < ANSWERED_WITHIN

        # Each stalled upload is answered 408 once the body timeout has passed, then closed.
        for sock in sockets:
            status, headers, answer = read_response(sock)
            assert status == 408
            assert answer == {
                "ok": False,
                "success": False,
                "error": "request body not received in time",
            }
            assert headers["connection"] == "close"
            assert closed_by_server(sock)
        waited = time.monotonic() - stalled_at
        assert BODY_TIMEOUT - 1 < waited < BODY_TIMEOUT + 5

        # Nothing of theirs was stored; GitHub's redelivery of one (same id, whole body) is
        # processed like any delivery.
        assert stored_deliveries(path) == {delivery_id: "processed"}
        again_id, again = run_delivery(stalled[0][0])
        status, _, answer = exchange(port, again, timeout=5)
        assert status == 200 and answer["outcome"] == "processed"
        assert stored_deliveries(path) == {delivery_id: "processed", again_id: "processed"}
    assert "Traceback" not in process.output
    assert "status=500" not in process.output


def test_a_body_trickling_in_is_cut_off_at_the_body_timeout(tmp_path):
    """The timeout is a deadline for the whole body, not for each read: a client sending a
    byte every half second is answered 408 when the deadline passes, not after its last byte."""
    with running("web", tmp_path) as (port, path, process):
        _, request = run_delivery()
        head, _, body = request.partition(b"\r\n\r\n")
        with socket.create_connection(("127.0.0.1", port), timeout=BODY_TIMEOUT + 10) as sock:
            sock.sendall(head + b"\r\n\r\n")
            started = time.monotonic()
            sock.settimeout(0.5)
            answer = b""
            for byte in body:  # far more bytes than the deadline has half-seconds
                try:
                    sock.sendall(bytes([byte]))
                    answer = sock.recv(65536)
                except TimeoutError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    break
                if answer:
                    break
            waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert BODY_TIMEOUT - 1 < waited < BODY_TIMEOUT + 5
        assert stored_deliveries(path) == {}
    assert "Traceback" not in process.output
    assert "status=408" in process.output


def eventually(condition, timeout=10.0):
    """Whether `condition()` holds within `timeout` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def server_sockets(port):
    """(state, rx_queue) of the IPv4 sockets on local port `port`, from Linux's /proc/net/tcp:
    for the LISTEN socket (0A) the connections waiting to be accepted, for a connection (01,
    established) the bytes received and not yet read."""
    sockets = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, queues = fields[1], fields[3], fields[4]
        if int(local.rpartition(":")[2], 16) == port:
            sockets.append((state, int(queues.partition(":")[2], 16)))
    return sockets


def listen_queue(port):
    """Connections waiting in the accept queue of the socket listening on `port`."""
    return next(queued for state, queued in server_sockets(port) if state == "0A")


def taken_and_read(port, count):
    """Whether `count` connections are open on `port`, each accepted and its request read."""
    unread = [queued for state, queued in server_sockets(port) if state == "01"]
    return listen_queue(port) == 0 and unread == [0] * count


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc/net/tcp")
def test_a_worker_takes_no_more_connections_than_it_can_run(tmp_path):
    """A worker running ADMITTED requests (server.APP_SLOTS) leaves the next connection in the
    listening socket's queue, for a worker with a free slot, instead of taking it to queue
    behind its own; it takes it once one of its requests is done, and nothing is lost."""
    with running("web", tmp_path, workers=1) as (port, path, process), ExitStack() as stack:
        pool = stack.enter_context(ThreadPoolExecutor(ADMITTED + 1))
        # Every delivery's write waits for this file lock (storage.db.SqliteFile): held here,
        # the worker's requests stay in its slots. Closed before the pool waits for them.
        lock = stack.enter_context(open(f"{path}.lock", "a"))
        fcntl.flock(lock, fcntl.LOCK_EX)
        admitted = [run_delivery() for _ in range(ADMITTED)]
        answers = [pool.submit(exchange, port, request, 30) for _, request in admitted]
        assert eventually(lambda: taken_and_read(port, ADMITTED))

        extra_id, extra = run_delivery()
        answers.append(pool.submit(exchange, port, extra, 30))
        assert eventually(lambda: listen_queue(port) == 1)
        time.sleep(ARRIVING + 0.4)  # the gate waits for a slot, not for a clock
        assert listen_queue(port) == 1
        assert not any(answer.done() for answer in answers)

        fcntl.flock(lock, fcntl.LOCK_UN)
        for answer in answers:
            status, _, body = answer.result(timeout=30)
            assert status == 200 and body["outcome"] == "processed"
        assert eventually(lambda: listen_queue(port) == 0)
        expected = {delivery_id: "processed" for delivery_id, _ in [*admitted, (extra_id, extra)]}
        assert stored_deliveries(path) == expected
    assert "Traceback" not in process.output
