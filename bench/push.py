"""Webhook ingest as deployed, run by hand: one large push, GitHub-sized, into the Procfile's web.

The stream is bench/github_stream.py's: a pull request, then 600 workflow runs of 10 jobs each
on its one head SHA, every run requested, in progress and completed and every job queued, in
progress and completed (19,801 deliveries), with GitHub's own published payloads (7 to 24 KB
of compact JSON). The server is the Procfile's `web` command run from the checkout as Heroku
runs it (gunicorn.conf.py, so prmonitor.server.settings(): the worker model, the access log
on stdout, here into a file), with WEB_CONCURRENCY workers. The client is wrk with
bench/replay.lua (Debian's package): one C event loop replaying the pre-signed requests over
keep-alive connections, so that it takes as little of the machine as it can.

Backends: `sqlite`; `postgres` with a poller (App credentials and a worker holding the poller's
lease, so deliveries commit without waiting for the WAL flush); `pg-nopoll`, Postgres without
one, where every COMMIT waits for the disk; and `bare`, the ceiling: bench/bare_app.py under
the same command, settings and access log, which only checks the HMAC and parses the JSON.
Rounds alternate the backends (and checkouts), so that drift in the machine's speed hits all
alike; throughput is the median round's. `--root before=PATH` adds another checkout (a copy of
the tree before a change), measured in the same rounds against its own ceiling.

The rounds are closed-loop: each connection sends its next request when the last is
answered, so the server is saturated and its latency is mostly the queue (with 8 connections,
mean latency is 8 / throughput). `--rate N` paces the stream instead at N deliveries a second
(wrk's delay(), never more than the connections allow): the latency of a given load, below
saturation, as GitHub sends it. The ratios are then not measured; run both.

    python bench/push.py [--repeat 3] [--backends sqlite,postgres,pg-nopoll,bare]
        [--runs 600 --jobs-per-run 10] [--connections 8] [--workers 2] [--client wrk|python]
        [--rate DELIVERIES_PER_SECOND]
"""

import argparse
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import harness
import wrk_client
from deliveries import ping_deliveries
from github_stream import EXAMPLES, build_push, examples_missing, expected_rows

SECRET = "bench-" + uuid.uuid4().hex
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgres", "pg-nopoll", "bare")
APP_SETTINGS = ("API_TOKEN", "APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "GITHUB_TOKEN", "NOTIFY")
TARGETS = {"sqlite": 0.5, "postgres": 1 / 3, "pg-nopoll": 1 / 3}
P99_TARGET_MS = 20.0
ROW_QUERIES = {
    "workflows": "SELECT COUNT(*) FROM workflows",
    "linked": "SELECT COUNT(*) FROM workflows WHERE pr_id IS NOT NULL",
    "jobs": "SELECT COUNT(*) FROM workflow_jobs",
    "linked_jobs": "SELECT COUNT(*) FROM workflow_jobs WHERE pr_id IS NOT NULL",
    "prs": "SELECT COUNT(*) FROM prs",
}


@dataclass
class Round:
    replay: wrk_client.Replay
    cpu: dict
    rows: dict | None = None

    def cpu_ms(self, group):
        return 1000 * self.cpu[group] / max(1, self.replay.answered)


@dataclass
class Result:
    root: str
    backend: str
    rounds: list = field(default_factory=list)

    @property
    def rate(self):
        return statistics.median(r.replay.rate for r in self.rounds)

    @property
    def typical(self):
        ordered = sorted(self.rounds, key=lambda r: r.replay.rate)
        return ordered[(len(ordered) - 1) // 2]

    @property
    def errors(self):
        return sum(r.replay.errors for r in self.rounds)

    def percentile(self, name):
        """The median round's percentile, in ms (wrk's histogram is per round)."""
        return statistics.median(r.replay.percentiles[name] for r in self.rounds)


# -- one round -------------------------------------------------------------------------------


def web_command(root, target):
    """The Procfile's web command of the checkout at `root`, serving `target` instead of its
    app when given (the ceiling)."""
    for line in (Path(root) / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == "web":
            words = shlex.split(command)
            words[0] = str(Path(sys.executable).parent / words[0])
            if target:
                words = [target if w == "app:app" else w for w in words]
            return words
    raise LookupError(f"no web process in {root}/Procfile")


@contextmanager
def web(root, target, env, workers, log_path):
    """The Procfile's web from `root` on a free loopback port; yields a harness.Server."""
    port = harness.free_port()
    env = {**env, "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            web_command(root, target),
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        harness.wait_healthy(process, port, log_path)
        yield harness.Server(port, process.pid)
    finally:
        harness.stop(process)


def app_env(database_url, poller):
    env = {k: v for k, v in os.environ.items() if k not in APP_SETTINGS}
    env.update(DATABASE_URL=database_url, WEBHOOK_SECRET=SECRET, LOG_LEVEL="INFO")
    if poller:
        env.update(APP_ID="1", PRIVATE_KEY=harness.private_key())  # never used to sign here
    return env


def measure(root, target, env, stream, args, log_path):
    with web(root, target, env, args.workers, log_path) as server:
        warm_up = [d.request for d in ping_deliveries(SECRET, 4 * args.connections)]
        harness.drive(server.port, warm_up, args.connections)
        meter = harness.CpuMeter(server.pid)
        with profiling(server.pid, args.profile, log_path.with_suffix(".collapsed")):
            meter.start()
            if args.client == "wrk":
                replay = wrk_client.replay(
                    server.port,
                    stream.files,
                    args.connections,
                    timeout=replay_timeout(stream, args),
                    rate=args.rate,
                )
            else:
                replay = python_replay(server.port, stream.requests, args.connections)
            cpu = meter.stop()
        cpu["client"] = replay.cpu if args.client == "wrk" else cpu["client"]
        return Round(replay, cpu)


def replay_timeout(stream, args):
    """wrk's time limit: 10 minutes, or half again as long as a paced stream takes."""
    paced = len(stream.requests) / args.rate if args.rate else 0
    return max(600, int(1.5 * paced))


@contextmanager
def profiling(pid, enabled, output):
    """py-spy sampling the server's workers meanwhile (--profile): collapsed stacks in
    `output`, one line per stack with its count of samples (flamegraph.pl reads them)."""
    if not enabled:
        yield
        return
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [py_spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking"]
    command += ["--rate", "250", "--gil", "--format", "raw", "--output", str(output)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached to every worker before the stream starts
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)


def python_replay(port, requests, connections):
    """bench/ingest.py's client (harness.drive: Python threads, raw sockets), as a Replay."""
    outcome = harness.drive(port, requests, connections)
    latencies = sorted(outcome.latencies)

    def at(fraction):
        return 1000 * latencies[min(len(latencies) - 1, int(fraction * len(latencies)))]

    statuses = Counter(s for s in outcome.statuses if s is not None)
    return wrk_client.Replay(
        sent=len(requests),
        answered=sum(statuses.values()),
        elapsed=outcome.elapsed,
        percentiles={"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": 1000 * latencies[-1]},
        statuses=dict(statuses),
        socket_errors={"lost": sum(1 for s in outcome.statuses if s is None)},
    )


def bench_round(root_name, root, backend, stream, args, workdir):
    log_path = workdir / f"{root_name}-{backend}.log"
    if backend == "bare":
        env = app_env("sqlite:///unused", poller=False)
        return measure(root, "bench.bare_app:app", env, stream, args, log_path)
    if backend == "sqlite":
        database = harness.sqlite_database(Path(tempfile.mkdtemp(dir=workdir)))
    else:
        database = harness.postgres_database(args.postgres_url)
    with database as url:
        poller = backend != "pg-nopoll"
        env = app_env(url, poller)
        harness.migrate({**env, "PYTHONPATH": str(root)})
        if poller:
            harness.hold_poller_lease(url)
        measured = measure(root, None, env, stream, args, log_path)
        measured.rows = harness.count_rows(url, ROW_QUERIES)
    return measured


# -- the report ------------------------------------------------------------------------------


def ceilings(results):
    """Each checkout's bare throughput, which its backends' ratios are taken against."""
    return {r.root: r.rate for r in results if r.backend == "bare"}


def print_table(results, top):
    print(f"{'checkout':<10}{'backend':<11}{'deliv/s':>9}{'p50 ms':>9}{'p99 ms':>9}", end="")
    print(f"{'errors':>8}{'x ceiling':>11}")
    for r in results:
        ratio = f"{r.rate / top[r.root]:.2f}" if r.root in top else "-"
        print(
            f"{r.root:<10}{r.backend:<11}{r.rate:>9.0f}{r.percentile('p50'):>9.2f}"
            f"{r.percentile('p99'):>9.2f}{r.errors:>8}{ratio:>11}"
        )


def print_details(results, expected):
    for r in results:
        typical = r.typical
        rates = ", ".join(f"{x.replay.rate:.0f}" for x in r.rounds)
        p99s = ", ".join(f"{x.replay.percentiles['p99']:.1f}" for x in r.rounds)
        replies = Counter()
        for x in r.rounds:
            statuses = {f"status {k}": v for k, v in x.replay.statuses.items()}
            replies.update(x.replay.outcomes or statuses)
        cpu = ", ".join(f"{g} {typical.cpu_ms(g):.3f}" for g in ("server", "postgres", "client"))
        print(f"  {r.root}/{r.backend}: deliveries/s per round {rates}; p99 ms {p99s}")
        print(f"    replies {', '.join(f'{k} {v}' for k, v in sorted(replies.items()))}")
        lost = Counter()
        for x in r.rounds:
            lost.update(x.replay.socket_errors)
        if lost:
            print(f"    socket errors {dict(lost)}")
        print(f"    CPU ms/delivery {cpu}; CPUs busy {100 * typical.cpu['busy']:.0f}%")
        for number, x in enumerate(r.rounds, 1):
            if x.rows:
                exact = all(x.rows[k] == expected[k] for k in expected)
                rows = ", ".join(f"{k} {v}/{expected[k]}" for k, v in x.rows.items())
                print(f"    round {number} rows {rows}: {'exact' if exact else 'WRONG'}")


def print_targets(results, top):
    for r in results:
        if r.backend not in TARGETS:
            continue
        p99 = r.percentile("p99")
        checks = [(f"p99 {p99:.1f} ms < {P99_TARGET_MS:.0f} ms", p99 < P99_TARGET_MS)]
        checks.append((f"{r.errors} errors", r.errors == 0))
        if r.root in top:
            ratio, want = r.rate / top[r.root], TARGETS[r.backend]
            checks.insert(0, (f"{ratio:.2f} x ceiling >= {want:.2f}", ratio >= want))
        verdict = "; ".join(f"{text}: {'met' if ok else 'MISSED'}" for text, ok in checks)
        print(f"  {r.root}/{r.backend}: {verdict}")


# -- main ------------------------------------------------------------------------------------


@dataclass
class Stream:
    requests: list
    files: tuple | None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--runs", type=int, default=600, help="workflow runs of the push (default 600)")
    add("--jobs-per-run", type=int, default=10, help="jobs per run (default 10)")
    add("--connections", type=int, default=8, help="client connections (default 8)")
    add("--workers", type=int, default=2, help="WEB_CONCURRENCY (default 2)")
    add("--backends", default=",".join(BACKENDS), help="comma list (default all)")
    add("--repeat", type=int, default=3, help="rounds per backend (default 3)")
    add("--client", choices=("wrk", "python"), default="wrk", help="default wrk")
    add("--root", action="append", default=[], metavar="NAME=PATH", help="another checkout")
    add("--only-roots", action="store_true", help="measure the --root checkouts, not this one")
    add("--postgres-url", default=DEFAULT_POSTGRES, help=f"default {DEFAULT_POSTGRES}")
    add("--examples", default=str(EXAMPLES), help="GitHub's payload examples (webhooks/)")
    add("--seed", type=int, default=1, help="seed of the delivery plan")
    add("--keep", action="store_true", help="keep the work dir (logs, request files, SQLite)")
    add("--profile", action="store_true", help="py-spy the workers (kept in the work dir)")
    add("--rate", type=float, help="pace the stream at this many deliveries a second (wrk)")
    args = parser.parse_args(argv)
    args.keep = args.keep or args.profile
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if set(args.backends) - set(BACKENDS):
        parser.error(f"--backends takes a comma list of {', '.join(BACKENDS)}")
    args.roots = {} if args.only_roots else {"this": harness.ROOT}
    for item in args.root:
        name, _, path = item.partition("=")
        if not path or not (Path(path) / "Procfile").is_file():
            parser.error(f"--root {item}: NAME=PATH of a checkout with a Procfile")
        args.roots[name] = Path(path).resolve()
    missing = examples_missing(args.examples)
    if missing:
        parser.error(f"GitHub's payload examples missing from {args.examples}: {missing[0]}")
    if args.rate is not None and (args.rate <= 0 or args.client != "wrk"):
        parser.error("--rate takes a positive number of deliveries a second, with --client wrk")
    if args.client == "wrk" and shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install -y wrk), or use --client python")
    return args


def describe(deliveries, args):
    kinds = Counter(d.event for d in deliveries)
    sizes = sorted(len(d.request) for d in deliveries)
    for name, root in args.roots.items():
        command = " ".join(web_command(root, None))
        print(f"{name}: {root} ({harness_revision(root)}), web: {command}")
    print(
        f"{len(deliveries)} deliveries ({', '.join(f'{k} {v}' for k, v in kinds.items())}), "
        f"median request {sizes[len(sizes) // 2]} bytes, {sum(sizes) / 1e6:.0f} MB; "
        f"{args.connections} connections ({args.client}), {args.workers} workers, "
        f"{args.repeat} rounds, {os.cpu_count()} CPUs"
    )
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.1f} before starting; other work skews the numbers")


def harness_revision(root):
    command = ["git", "-C", str(root), "describe", "--always", "--dirty"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
        return done.stdout.strip() or "not a git checkout"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown revision"


def main(argv=None):
    args = parse_args(argv)
    started = time.monotonic()
    deliveries = build_push(SECRET, args.runs, args.jobs_per_run, args.seed, args.examples)
    describe(deliveries, args)
    workdir = Path(tempfile.mkdtemp(prefix="prmonitor-push-"))
    requests = [d.request for d in deliveries]
    files = wrk_client.write_requests(requests, workdir) if args.client == "wrk" else None
    stream = Stream(requests, files)
    print(f"built and signed in {time.monotonic() - started:.0f} s", flush=True)
    results = {(n, b): Result(n, b) for n in args.roots for b in args.backends}
    try:
        for number in range(1, args.repeat + 1):
            for (name, backend), result in results.items():
                root = args.roots[name]
                result.rounds.append(bench_round(name, root, backend, stream, args, workdir))
                last = result.rounds[-1].replay
                print(
                    f"  round {number}: {name}/{backend} {last.rate:.0f}/s "
                    f"p99 {last.percentiles['p99']:.1f} ms, {last.errors} errors",
                    flush=True,
                )
    finally:
        if args.keep:
            print(f"work dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results = list(results.values())
    print()
    top = {} if args.rate else ceilings(results)  # paced rounds all run at the same rate
    print_table(results, top)
    print("\ndetails (CPU of the median round):")
    print_details(results, expected_rows(args.runs, args.jobs_per_run))
    if args.rate:
        print(f"\ntargets (paced at {args.rate:g}/s: p99 < 20 ms; ratios need unpaced rounds):")
    else:
        print("\ntargets (SQLite >= 0.5 x ceiling, Postgres >= 1/3 x ceiling, p99 < 20 ms):")
    print_targets(results, top)
    return 0 if all(r.errors == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
