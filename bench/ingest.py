"""Webhook ingest benchmark, run by hand: signed deliveries into gunicorn on SQLite and Postgres.

It plans a realistic stream of GitHub deliveries (for each workflow run: workflow_run requested,
in_progress and completed, and workflow_job queued, in_progress and completed for each of its jobs;
a pull_request opened for every few runs, half of them named in the runs' `pull_requests` hint
and half not, like PRs from forks), interleaved across runs in the order GitHub would send them.
Every body is built from tests/fixtures/*.json and signed before the clock starts. Then, for each
backend, it starts gunicorn on a free loopback port, drives it with keep-alive connections from
cheap client threads (raw sockets, prebuilt requests), and prints throughput and latency next to
a "ceiling": bench/bare_app.py on the same stack, which only checks the HMAC and parses the JSON.

    /work/venv/bin/python bench/ingest.py [--runs 200] [--backends sqlite,postgres,bare]
"""

import argparse
import copy
import datetime
import hashlib
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from prmonitor.db import open_database
from prmonitor.webhooks import sign

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
BIN = Path(sys.executable).parent
SECRET = "bench-secret-" + uuid.uuid4().hex
APP_TARGET = "prmonitor.cli:wsgi_app()"
BARE_TARGET = "bench.bare_app:app"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
# Settings the app reads that would change what a delivery does; the benchmark sets its own.
APP_SETTINGS = ("API_TOKEN", "APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "GITHUB_TOKEN", "NOTIFY")

BASE_TIME = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC)
REPOS = ("acme/widgets", "acme/gadgets", "acme/gizmos")
WORKFLOWS = ("CI", "Lint", "Docs", "Build", "Release", "Deploy")
PUSH_INTERVAL = 6.0  # simulated seconds between pushes; runs last minutes, so hundreds overlap
MEAN_DELIVERY_DELAY = 0.5  # GitHub's own queueing, which reorders events close in time
FAILURE_RATE = 0.1

TARGETS = {"sqlite": 0.5, "postgres": 1 / 3}
P99_TARGET_MS = 20.0


# -- the deliveries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    event: str
    delivery_id: str
    request: bytes  # the whole HTTP/1.1 request, headers and signed body


@dataclass(frozen=True)
class Push:
    """One commit of a pull request; each of its runs is a workflow triggered by it."""

    repo: str
    number: int
    sha: str
    branch: str
    hinted: bool  # named in the runs' pull_requests (false for PRs from forks)
    time: float


class Planner:
    """Timed (time, event, payload) triples for pushes, their runs and the runs' jobs."""

    def __init__(self, jobs_per_run, rng):
        self.jobs_per_run = jobs_per_run
        self.rng = rng
        self.fixtures = {p.stem: json.loads(p.read_text()) for p in FIXTURES.glob("*.json")}
        self.events = []

    def fixture(self, name):
        return copy.deepcopy(self.fixtures[name])

    def plan(self, runs, runs_per_pr):
        for index in range(runs):
            push_index, slot = divmod(index, runs_per_pr)
            if slot == 0:
                push = self.push(push_index)
            self.run(index, slot, push)
        return self.events

    def push(self, index):
        repo = REPOS[index % len(REPOS)]
        sha = hashlib.sha1(f"push-{index}".encode()).hexdigest()
        at = index * PUSH_INTERVAL + self.rng.uniform(0, PUSH_INTERVAL)
        push = Push(repo, 100 + index, sha, f"feature-{index}", index % 2 == 0, at)
        self.add(at + self.rng.uniform(-1, 1), "pull_request", self.pr_payload(push))
        return push

    def add(self, at, event, payload):
        self.events.append((at, event, payload))

    def run(self, index, slot, push):
        requested = push.time + self.rng.uniform(0, 2)
        started, finished, failed = requested + self.rng.uniform(1, 4), requested, False
        for job in range(self.jobs_per_run):
            job_id = 29_000_000_000 + index * self.jobs_per_run + job
            end, conclusion = self.job(index, job_id, started, push, slot)
            finished, failed = max(finished, end), failed or conclusion == "failure"
        finished += self.rng.uniform(1, 3)
        run = RunInfo(index, WORKFLOWS[slot % len(WORKFLOWS)], push, requested, started)
        self.add(requested, "workflow_run", self.run_payload(run, "requested", None, requested))
        self.add(started, "workflow_run", self.run_payload(run, "in_progress", None, started))
        conclusion = "failure" if failed else "success"
        self.add(finished, "workflow_run", self.run_payload(run, "completed", conclusion, finished))

    def job(self, run_index, job_id, run_started, push, slot):
        """Plan one job's three events; returns (completed time, conclusion)."""
        queued = run_started - self.rng.uniform(0, 1)
        started = queued + self.rng.uniform(2, 20)
        finished = started + self.rng.uniform(30, 300)
        conclusion = "failure" if self.rng.random() < FAILURE_RATE else "success"
        job = JobInfo(run_index, job_id, WORKFLOWS[slot % len(WORKFLOWS)], push, queued)
        self.add(queued, "workflow_job", self.job_payload(job, "queued"))
        self.add(started, "workflow_job", self.job_payload(job, "in_progress", started))
        done = self.job_payload(job, "completed", started, (finished, conclusion))
        self.add(finished, "workflow_job", done)
        return finished, conclusion

    def pr_payload(self, push):
        payload = self.fixture("pull_request.opened")
        pr = payload["pull_request"]
        ends = {"head": (push.branch, push.sha), "base": ("main", pr["base"]["sha"])}
        for end, (ref, sha) in ends.items():
            pr[end].update(ref=ref, sha=sha, label=f"{push.repo.split('/')[0]}:{ref}")
            _set_repo(pr[end]["repo"], push.repo)
        url = f"https://github.com/{push.repo}/pull/{push.number}"
        pr.update(number=push.number, id=1_800_000_000 + push.number, html_url=url)
        pr.update(title=f"Change {push.number}", created_at=_iso(push.time))
        pr["updated_at"] = _iso(push.time)
        payload["number"] = push.number
        _set_repo(payload["repository"], push.repo)
        return payload

    def run_payload(self, run, status, conclusion, at):
        payload = self.fixture("workflow_run.completed")
        payload["action"] = status
        _set_repo(payload["repository"], run.push.repo)
        wr = payload["workflow_run"]
        url = f"https://github.com/{run.push.repo}/actions/runs/{run.run_id}"
        wr.update(id=run.run_id, name=run.workflow, head_sha=run.push.sha, html_url=url)
        wr.update(head_branch=run.push.branch, run_number=run.index + 1, conclusion=conclusion)
        wr.update(status="queued" if status == "requested" else status)
        wr.update(created_at=_iso(run.requested), updated_at=_iso(at))
        wr["run_started_at"] = _iso(run.started)
        wr["pull_requests"] = [_hint(wr["pull_requests"][0], run.push)] if run.push.hinted else []
        for key in ("repository", "head_repository"):
            wr[key].update(id=_repo_id(run.push.repo), full_name=run.push.repo)
        payload["workflow"]["name"] = run.workflow
        return payload

    def job_payload(self, job, status, started=None, completed=None):
        """A workflow_job delivery; `completed` is (finished, conclusion) once it is done."""
        payload = self.fixture("workflow_job.completed")
        payload["action"] = status
        _set_repo(payload["repository"], job.push.repo)
        wj = payload["workflow_job"]
        url = f"https://github.com/{job.push.repo}/actions/runs/{job.run_id}/job/{job.job_id}"
        wj.update(id=job.job_id, run_id=job.run_id, workflow_name=job.workflow, html_url=url)
        wj.update(head_sha=job.push.sha, head_branch=job.push.branch, status=status)
        wj.update(name=f"job-{job.job_id % 100}", created_at=_iso(job.queued))
        wj.update(started_at=_iso(started) if started else None, completed_at=None)
        wj.update(conclusion=None, steps=[], runner_name=None if status == "queued" else "runner-1")
        if status == "in_progress":
            wj["steps"] = _steps(self.fixtures["workflow_job.completed"], 1)
        if completed:
            finished, conclusion = completed
            wj.update(completed_at=_iso(finished), conclusion=conclusion)
            wj["steps"] = _steps(self.fixtures["workflow_job.completed"], conclusion=conclusion)
        return payload


@dataclass(frozen=True)
class RunInfo:
    index: int
    workflow: str
    push: Push
    requested: float
    started: float

    @property
    def run_id(self):
        return 9_100_000_000 + self.index


@dataclass(frozen=True)
class JobInfo:
    run_index: int
    job_id: int
    workflow: str
    push: Push
    queued: float

    @property
    def run_id(self):
        return 9_100_000_000 + self.run_index


def _steps(fixture, count=None, conclusion="success"):
    """The fixture job's steps: the first `count` done, all passing unless the job failed."""
    steps = copy.deepcopy(fixture["workflow_job"]["steps"])[:count]
    for step in steps:
        step["conclusion"] = "success"
    if conclusion == "failure":
        steps[len(steps) // 2]["conclusion"] = "failure"
    return steps


def _hint(template, push):
    hint = copy.deepcopy(template)
    hint.update(number=push.number, id=1_800_000_000 + push.number)
    hint["url"] = f"https://api.github.com/repos/{push.repo}/pulls/{push.number}"
    hint["head"].update(ref=push.branch, sha=push.sha)
    for end in ("head", "base"):
        hint[end]["repo"].update(id=_repo_id(push.repo), name=push.repo.split("/")[1])
    return hint


def _set_repo(repo, full_name):
    repo.update(id=_repo_id(full_name), full_name=full_name, name=full_name.split("/")[1])
    repo["html_url"] = f"https://github.com/{full_name}"


def _repo_id(full_name):
    return 700_000_001 + REPOS.index(full_name)


def _iso(at):
    moment = BASE_TIME + datetime.timedelta(seconds=int(at))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_deliveries(runs, jobs_per_run, runs_per_pr, seed):
    """Every delivery of the plan in sending order, each body signed into a ready request."""
    rng = random.Random(seed)
    planned = Planner(jobs_per_run, rng).plan(runs, runs_per_pr)
    timed = [
        (at + rng.expovariate(1 / MEAN_DELIVERY_DELAY), n, e, p)
        for n, (at, e, p) in enumerate(planned)
    ]
    timed.sort(key=lambda item: (item[0], item[1]))
    return [_delivery(event, payload) for _, _, event, payload in timed]


def _delivery(event, payload):
    body = json.dumps(payload).encode()
    delivery_id = str(uuid.uuid4())
    headers = [
        "POST /api/github/webhooks HTTP/1.1",
        "Host: 127.0.0.1",
        "Accept: */*",
        "User-Agent: GitHub-Hookshot/bench",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"X-GitHub-Delivery: {delivery_id}",
        f"X-GitHub-Event: {event}",
        "X-GitHub-Hook-ID: 400000001",
        f"X-Hub-Signature-256: {sign(body, SECRET)}",
    ]
    head = ("\r\n".join(headers) + "\r\n\r\n").encode()
    return Delivery(event, delivery_id, head + body)


def ping_deliveries(count):
    return [
        _delivery("ping", {"zen": "Keep it logically awesome.", "hook_id": n}) for n in range(count)
    ]


# -- the client ------------------------------------------------------------------------------


class ServerClosed(ConnectionError):
    """The server closed a kept-alive connection before answering."""


class Connection:
    """One client connection that keeps alive while the server allows it."""

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
    latencies: list = field(default_factory=list)
    statuses: list = field(default_factory=list)
    bodies: list = field(default_factory=list)
    elapsed: float = 0.0


def drive(port, deliveries, concurrency):
    """Send every delivery over `concurrency` connections; per-delivery status and latency."""
    count = len(deliveries)
    latencies, statuses, bodies = [0.0] * count, [None] * count, [b""] * count
    cursor = iter(range(count))
    lock = threading.Lock()

    def client():
        conn = Connection(port)
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            started = time.perf_counter()
            try:
                statuses[index], bodies[index] = conn.exchange(deliveries[index].request)
            except OSError as exc:
                statuses[index], bodies[index] = None, repr(exc).encode()
                conn.close()
            latencies[index] = time.perf_counter() - started
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    return Outcome(latencies, statuses, bodies, time.perf_counter() - started)


# -- the servers -----------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(database_url):
    env = {k: v for k, v in os.environ.items() if k not in APP_SETTINGS}
    env.update(DATABASE_URL=database_url, WEBHOOK_SECRET=SECRET, LOG_LEVEL="INFO")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def migrate(env):
    subprocess.run(
        [str(BIN / "prmonitor"), "migrate"], env=env, check=True, timeout=120, capture_output=True
    )


def gunicorn_command(target, port, args, worker_class):
    command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT)]
    command += ["--workers", str(args.workers), "--worker-class", worker_class]
    if worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    return [*command, "--keep-alive", "5", "--log-level", "warning", target]


@contextmanager
def gunicorn(target, env, args, worker_class, log_path):
    """A running gunicorn on a free loopback port; yields the port, then stops it."""
    port = free_port()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            gunicorn_command(target, port, args, worker_class),
            env=env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_healthy(process, port, log_path)
        yield port
    finally:
        stop(process)


def wait_healthy(process, port, log_path, timeout=30):
    deadline = time.monotonic() + timeout
    probe = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log_path}")
        try:
            if Connection(port, timeout=2).exchange(probe)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer /healthz in {timeout}s; see {log_path}")


def stop(process, timeout=15):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def sqlite_database(workdir):
    yield f"sqlite:///{workdir}/bench.db"


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


def stored_rows(database_url):
    """Row counts after a run, read through the app's own database layer."""
    db = open_database(database_url)
    sql = {
        "workflows": "SELECT COUNT(*) FROM workflows",
        "linked": "SELECT COUNT(*) FROM workflows WHERE pr_id IS NOT NULL",
        "jobs": "SELECT COUNT(*) FROM workflow_jobs",
        "prs": "SELECT COUNT(*) FROM prs",
    }
    try:
        with db.connection_context():
            return {name: db.execute_sql(query).fetchone()[0] for name, query in sql.items()}
    finally:
        getattr(db, "close_all", db.close)()


# -- one measurement -------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    worker_class: str
    outcome: Outcome
    rows: dict | None = None

    @property
    def count(self):
        return len(self.outcome.statuses)

    @property
    def rate(self):
        return self.count / self.outcome.elapsed

    def percentile_ms(self, fraction):
        ordered = sorted(self.outcome.latencies)
        return 1000 * ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]

    @property
    def errors(self):
        return sum(1 for s in self.outcome.statuses if s is None or not 200 <= s < 300)

    def replies(self):
        """How many deliveries the server answered with each outcome (or error)."""
        tally = Counter()
        for status, body in zip(self.outcome.statuses, self.outcome.bodies, strict=True):
            try:
                tally[json.loads(body).get("outcome", status)] += 1
            except ValueError:
                tally[f"status {status}"] += 1
        return tally


def measure(backend, target, env, deliveries, args, worker_class, log_path):
    with gunicorn(target, env, args, worker_class, log_path) as port:
        drive(port, ping_deliveries(4 * args.concurrency), args.concurrency)  # warm up
        return Result(backend, worker_class, drive(port, deliveries, args.concurrency))


def bench_backend(backend, deliveries, args, worker_class, workdir):
    log_path = workdir / f"{backend}-{worker_class}.log"
    if backend == "bare":
        return measure(backend, BARE_TARGET, app_env(""), deliveries, args, worker_class, log_path)
    if backend == "sqlite":
        database = sqlite_database(workdir / f"sqlite-{worker_class}")
    else:
        database = postgres_database(args.postgres_url)
    with database as url:
        env = app_env(url)
        migrate(env)
        result = measure(backend, args.app_target, env, deliveries, args, worker_class, log_path)
        result.rows = stored_rows(url)
    return result


# -- the report ------------------------------------------------------------------------------


def print_table(results):
    ceilings = {r.worker_class: r.rate for r in results if r.backend == "bare"}
    header = f"{'backend':<10}{'workers':<12}{'deliv/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    print(f"{header}{'errors':>8}{'ceiling':>9}")
    for r in results:
        ceiling = ceilings.get(r.worker_class)
        ratio = f"{r.rate / ceiling:.2f}x" if ceiling else "-"
        print(
            f"{r.backend:<10}{r.worker_class:<12}{r.rate:>9.0f}{r.percentile_ms(0.5):>9.2f}"
            f"{r.percentile_ms(0.99):>9.2f}{r.errors:>8}{ratio:>9}"
        )


def print_details(results, expected):
    for r in results:
        replies = ", ".join(f"{k} {v}" for k, v in sorted(r.replies().items(), key=str))
        rows = ""
        if r.rows:
            rows = "; rows " + ", ".join(f"{k} {v}/{expected[k]}" for k, v in r.rows.items())
        print(f"  {r.backend}/{r.worker_class}: {replies}{rows}")


def print_targets(results):
    ceilings = {r.worker_class: r.rate for r in results if r.backend == "bare"}
    for r in results:
        if r.backend not in TARGETS:
            continue
        checks = [
            (
                f"p99 {r.percentile_ms(0.99):.1f} ms < {P99_TARGET_MS:.0f} ms",
                r.percentile_ms(0.99) < P99_TARGET_MS,
            ),
            (f"{r.errors} errors", r.errors == 0),
        ]
        ceiling = ceilings.get(r.worker_class)
        if ceiling:
            want = TARGETS[r.backend]
            checks.insert(
                0, (f"{r.rate / ceiling:.2f} x ceiling >= {want:.2f}", r.rate >= want * ceiling)
            )
        verdict = "; ".join(f"{text} {'met' if ok else 'MISSED'}" for text, ok in checks)
        print(f"  {r.backend}/{r.worker_class}: {verdict}")


# -- main ------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="workflow runs (default 200)")
    parser.add_argument("--jobs-per-run", type=int, default=4, help="jobs per run (default 4)")
    parser.add_argument("--runs-per-pr", type=int, default=4, help="runs per PR (default 4)")
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--worker-class", default="sync", help="gunicorn worker classes, comma list: sync,gthread"
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--backends", default="sqlite,postgres,bare", help="comma list")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--app-target", default=APP_TARGET, help=f"default {APP_TARGET}")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, SQLite)")
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    args.worker_classes = [w.strip() for w in args.worker_class.split(",") if w.strip()]
    unknown = set(args.backends) - {"sqlite", "postgres", "bare"}
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    return args


def expected_rows(args):
    prs = math.ceil(args.runs / args.runs_per_pr)
    runs = args.runs
    return {"workflows": runs, "linked": runs, "jobs": runs * args.jobs_per_run, "prs": prs}


def main(argv=None):
    args = parse_args(argv)
    deliveries = build_deliveries(args.runs, args.jobs_per_run, args.runs_per_pr, args.seed)
    kinds = Counter(d.event for d in deliveries)
    sizes = sorted(len(d.request) for d in deliveries)
    print(
        f"{len(deliveries)} deliveries ({', '.join(f'{k} {v}' for k, v in kinds.items())}); "
        f"request bytes median {sizes[len(sizes) // 2]}; concurrency {args.concurrency}, "
        f"{args.workers} workers, {os.cpu_count()} CPUs"
    )
    workdir = Path(tempfile.mkdtemp(prefix="prmonitor-bench-"))
    results = []
    try:
        for worker_class in args.worker_classes:
            for backend in args.backends:
                results.append(bench_backend(backend, deliveries, args, worker_class, workdir))
                print(f"  done: {backend}/{worker_class}", flush=True)
    finally:
        if args.keep:
            print(f"work dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print_table(results)
    print("\nreplies and stored rows:")
    print_details(results, expected_rows(args))
    print("\ntargets (SQLite >= 0.5 x ceiling, Postgres >= 1/3 x ceiling, p99 < 20 ms):")
    print_targets(results)
    return 0 if all(r.errors == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
