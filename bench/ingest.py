"""Webhook ingest benchmark, run by hand: signed deliveries into gunicorn on SQLite and Postgres.

It signs a realistic stream of deliveries (bench/deliveries.py) before anything is timed, then for
each backend starts gunicorn on a free loopback port over a fresh database, warms it up, and sends
every delivery over a few keep-alive connections from cheap client threads (raw sockets, prebuilt
requests). It reports deliveries/s, p50/p99 latency and errors next to a ceiling: bench/bare_app.py
on the same stack, which only checks the HMAC and parses the JSON. Rounds alternate the backends
so that drift in the machine's speed hits all of them alike; throughput is the median round's.

The app runs as deployed: with App credentials (a key it never signs with here) and a worker
holding the poller's lease (a lease row the benchmark writes), so that on Postgres deliveries
commit without waiting for the WAL flush (webhooks.receiver.poller_restores). `pg-nopoll` is
Postgres without a poller, where every COMMIT waits for the disk.

    /work/venv/bin/python bench/ingest.py [--runs 200] [--backends sqlite,postgres,pg-nopoll,bare]
"""

import argparse
import functools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import harness
from deliveries import build_deliveries, ping_deliveries

from prmonitor.server import THREADS

SECRET = "bench-" + uuid.uuid4().hex
APP_TARGET = "app:app"  # the thin module at the repository root, as in the Procfile
BARE_TARGET = "bench.bare_app:app"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgres", "pg-nopoll", "bare")
# Settings the app reads that would change what a delivery does; the benchmark sets its own.
APP_SETTINGS = ("API_TOKEN", "APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "GITHUB_TOKEN", "NOTIFY")
TARGETS = {"sqlite": 0.5, "postgres": 1 / 3}  # throughput as a fraction of the ceiling
P99_TARGET_MS = 20.0
ROW_QUERIES = {
    "workflows": "SELECT COUNT(*) FROM workflows",
    "linked": "SELECT COUNT(*) FROM workflows WHERE pr_id IS NOT NULL",
    "jobs": "SELECT COUNT(*) FROM workflow_jobs",
    "prs": "SELECT COUNT(*) FROM prs",
}


# -- results ---------------------------------------------------------------------------------


@dataclass
class Round:
    outcome: harness.Outcome
    cpu: dict
    rows: dict | None = None

    @property
    def rate(self):
        return len(self.outcome.statuses) / self.outcome.elapsed

    @property
    def errors(self):
        return sum(1 for s in self.outcome.statuses if s is None or not 200 <= s < 300)

    def cpu_ms(self, group):
        return 1000 * self.cpu[group] / len(self.outcome.statuses)


@dataclass
class Result:
    backend: str
    worker_class: str
    rounds: list = field(default_factory=list)

    @property
    def typical(self):
        """The round with the median throughput."""
        ordered = sorted(self.rounds, key=lambda r: r.rate)
        return ordered[(len(ordered) - 1) // 2]

    @property
    def rate(self):
        return statistics.median(r.rate for r in self.rounds)

    @property
    def errors(self):
        return sum(r.errors for r in self.rounds)

    def percentile_ms(self, fraction):
        """Latency percentile over every delivery of every round."""
        ordered = sorted(lat for r in self.rounds for lat in r.outcome.latencies)
        return 1000 * ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]

    def replies(self):
        """How often the server answered each outcome (or status), over all rounds."""
        tally = Counter()
        for r in self.rounds:
            for status, body in zip(r.outcome.statuses, r.outcome.bodies, strict=True):
                try:
                    tally[json.loads(body).get("outcome", status)] += 1
                except ValueError:
                    tally[f"status {status}"] += 1
        return tally


# -- one round -------------------------------------------------------------------------------


def app_env(database_url, poller=True):
    env = {k: v for k, v in os.environ.items() if k not in APP_SETTINGS}
    env.update(DATABASE_URL=database_url, WEBHOOK_SECRET=SECRET, LOG_LEVEL="INFO")
    if poller:
        env.update(APP_ID="1", PRIVATE_KEY=harness.private_key())  # never used to sign here
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(harness.ROOT), env.get("PYTHONPATH")]))
    return env


def measure(target, env, requests, args, worker_class, log_path):
    command = functools.partial(
        harness.gunicorn_command, target, args.workers, worker_class, args.threads
    )
    with harness.gunicorn(command, env, log_path) as server:
        warm_up = [d.request for d in ping_deliveries(SECRET, 4 * args.concurrency)]
        harness.drive(server.port, warm_up, args.concurrency)
        meter = harness.CpuMeter(server.pid)
        meter.start()
        outcome = harness.drive(server.port, requests, args.concurrency)
        return Round(outcome, meter.stop())


def bench_round(backend, requests, args, worker_class, workdir):
    log_path = workdir / f"{backend}-{worker_class}.log"
    if backend == "bare":
        env = app_env("sqlite:///unused")
        return measure(BARE_TARGET, env, requests, args, worker_class, log_path)
    if backend == "sqlite":
        database = harness.sqlite_database(Path(tempfile.mkdtemp(dir=workdir)))
    else:
        database = harness.postgres_database(args.postgres_url)
    with database as url:
        poller = backend != "pg-nopoll"
        env = app_env(url, poller)
        harness.migrate(env)
        if poller:
            harness.hold_poller_lease(url)
        measured = measure(args.app_target, env, requests, args, worker_class, log_path)
        measured.rows = harness.count_rows(url, ROW_QUERIES)
    return measured


# -- the report ------------------------------------------------------------------------------


def ceilings(results):
    return {r.worker_class: r.rate for r in results if r.backend == "bare"}


def print_table(results):
    top = ceilings(results)
    print(f"{'backend':<10}{'workers':<10}{'deliv/s':>9}{'p50 ms':>9}{'p99 ms':>9}", end="")
    print(f"{'errors':>8}{'x ceiling':>11}")
    for r in results:
        ratio = f"{r.rate / top[r.worker_class]:.2f}" if r.worker_class in top else "-"
        print(
            f"{r.backend:<10}{r.worker_class:<10}{r.rate:>9.0f}{r.percentile_ms(0.5):>9.2f}"
            f"{r.percentile_ms(0.99):>9.2f}{r.errors:>8}{ratio:>11}"
        )


def print_details(results, expected):
    for r in results:
        typical = r.typical
        rates = ", ".join(f"{x.rate:.0f}" for x in r.rounds)
        replies = ", ".join(f"{k} {v}" for k, v in sorted(r.replies().items(), key=str))
        cpu = ", ".join(f"{g} {typical.cpu_ms(g):.2f}" for g in ("server", "postgres", "client"))
        print(f"  {r.backend}/{r.worker_class}: deliveries/s per round {rates}; replies {replies}")
        print(f"    CPU ms/delivery {cpu}; CPUs busy {100 * typical.cpu['busy']:.0f}%")
        if typical.rows:
            rows = ", ".join(f"{k} {v}/{expected[k]}" for k, v in typical.rows.items())
            print(f"    stored rows {rows}")


def print_targets(results):
    top = ceilings(results)
    for r in results:
        if r.backend not in TARGETS:
            continue
        p99 = r.percentile_ms(0.99)
        checks = [(f"p99 {p99:.1f} ms < {P99_TARGET_MS:.0f} ms", p99 < P99_TARGET_MS)]
        checks.append((f"{r.errors} errors", r.errors == 0))
        if r.worker_class in top:
            ratio, want = r.rate / top[r.worker_class], TARGETS[r.backend]
            checks.insert(0, (f"{ratio:.2f} x ceiling >= {want:.2f}", ratio >= want))
        verdict = "; ".join(f"{text}: {'met' if ok else 'MISSED'}" for text, ok in checks)
        print(f"  {r.backend}/{r.worker_class}: {verdict}")


def expected_rows(args):
    runs = args.runs
    prs = math.ceil(runs / args.runs_per_pr)
    return {"workflows": runs, "linked": runs, "jobs": runs * args.jobs_per_run, "prs": prs}


# -- main ------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--runs", type=int, default=200, help="workflow runs (default 200)")
    add("--jobs-per-run", type=int, default=4, help="jobs per run (default 4)")
    add("--runs-per-pr", type=int, default=4, help="runs per pull request (default 4)")
    add("--concurrency", type=int, default=8, help="client connections (default 8)")
    add("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    add(
        "--worker-class",
        default="sync",
        help="comma list of sync, gthread, deployed (prmonitor.server's model; default sync)",
    )
    add("--threads", type=int, default=THREADS, help=f"per gthread worker (default {THREADS})")
    add("--backends", default=",".join(BACKENDS), help="comma list (default all)")
    add("--postgres-url", default=DEFAULT_POSTGRES, help=f"default {DEFAULT_POSTGRES}")
    add("--repeat", type=int, default=3, help="rounds per backend (default 3)")
    add("--app-target", default=APP_TARGET, help=f"gunicorn app (default {APP_TARGET})")
    add("--seed", type=int, default=1, help="seed of the delivery plan")
    add("--keep", action="store_true", help="keep the work dir (gunicorn logs, SQLite files)")
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    args.worker_classes = [w.strip() for w in args.worker_class.split(",") if w.strip()]
    if set(args.backends) - set(BACKENDS):
        parser.error(f"--backends takes a comma list of {', '.join(BACKENDS)}")
    return args


def revision():
    """The checkout being measured, as `git describe --always --dirty` (read-only)."""
    command = ["git", "-C", str(harness.ROOT), "describe", "--always", "--dirty"]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def describe(deliveries, args):
    print(f"prmonitor {revision() or '(unknown revision)'}, {args.app_target}")
    kinds = Counter(d.event for d in deliveries)
    sizes = sorted(len(d.request) for d in deliveries)
    print(
        f"{len(deliveries)} deliveries ({', '.join(f'{k} {v}' for k, v in kinds.items())}), "
        f"median request {sizes[len(sizes) // 2]} bytes; {args.concurrency} connections, "
        f"{args.workers} workers, {args.repeat} rounds, {os.cpu_count()} CPUs"
    )
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.1f} before starting; other work skews the numbers")


def run_all(requests, args, workdir):
    results = {(b, w): Result(b, w) for w in args.worker_classes for b in args.backends}
    for number in range(1, args.repeat + 1):
        for (backend, worker_class), result in results.items():
            result.rounds.append(bench_round(backend, requests, args, worker_class, workdir))
            print(f"  round {number}: {backend}/{worker_class} done", flush=True)
    return list(results.values())


def main(argv=None):
    args = parse_args(argv)
    deliveries = build_deliveries(SECRET, args.runs, args.jobs_per_run, args.runs_per_pr, args.seed)
    describe(deliveries, args)
    workdir = Path(tempfile.mkdtemp(prefix="prmonitor-bench-"))
    try:
        results = run_all([d.request for d in deliveries], args, workdir)
    finally:
        if args.keep:
            print(f"work dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print_table(results)
    print("\ndetails (CPU of the median round):")
    print_details(results, expected_rows(args))
    print("\ntargets (SQLite >= 0.5 x ceiling, Postgres >= 1/3 x ceiling, p99 < 20 ms):")
    print_targets(results)
    return 0 if all(r.errors == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
