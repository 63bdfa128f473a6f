"""Reconciliation budget benchmark, run by hand: prmonitor's poller against the loopback fake of
GitHub (tests/fakes/) in poll-only mode (no webhooks at all).

For each scenario (N open PRs across M repositories of one installation, 5 runs of 2 jobs per
PR, a tenth of the runs still in progress) it runs a first cycle on an empty database under the
real 5,000-an-hour budget (the poller reads at most its share of what is left above a fifth kept
in reserve, and defers the rest), then catches up with the limit lifted and reports what the cold
start cost in all; then, under a fresh 5,000, an idle cycle, a cycle after 5% of the runs changed
(unfinished ones finish, finished ones are re-run), another idle cycle, and the cycle after the
hourly new installation token (GitHub's ETags are per token: it reads in full, once an hour).
Per cycle it reports every call, the 304s, the calls GitHub counts against the installation's
5,000 an hour, and wall time; next to it, what the seed's per-PR polling (one call for a PR's
runs, one per run for its jobs, never conditional) would have made on the same data.

    /work/venv/bin/python bench/poll_budget.py [--scenarios 100/10,1000/50] [--database-url URL]
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prmonitor.poll import Poller  # noqa: E402
from prmonitor.storage import db  # noqa: E402
from tests.fakes import app_client, installed, serve_fake  # noqa: E402

RUNS_PER_PR = 5
INSTALLATION = 7


def build(prs, repos, seed=1):
    """The fake's truth: `prs` open PRs spread over `repos` repositories."""
    names = [f"bench-org/repo-{i:02d}" for i in range(repos)]
    fake = installed(names, INSTALLATION, page_limit=100)
    rng = random.Random(seed)
    for number in range(prs):
        full_name = names[number % repos]
        pr = fake.open_pr(full_name)
        for index in range(RUNS_PER_PR):
            run = fake.add_run(full_name, pr["head"]["sha"], name=f"workflow-{index}")
            if rng.random() < 0.9:
                fake.finish_run(run["id"], {"test": "failure"} if rng.random() < 0.2 else None)
            else:
                fake.start_job(min(fake.runs[run["id"]]["job_ids"]))
    return fake


def change(fake, fraction=0.05, seed=2):
    """Change `fraction` of the runs: unfinished ones finish, finished ones are re-run."""
    rng = random.Random(seed)
    runs = sorted(fake.runs)
    for run_id in rng.sample(runs, max(1, int(len(runs) * fraction))):
        if fake.runs[run_id]["status"] == "completed":
            fake.rerun(run_id)
        else:
            fake.finish_run(run_id)


def seed_calls(fake):
    """The seed's per-PR polling on the same data: 1 + runs per open PR, every cycle."""
    open_prs = [pr for pr in fake.prs.values() if pr["state"] == "open"]
    heads = {pr["head"]["sha"] for pr in open_prs}
    runs = sum(1 for run in fake.runs.values() if run["head_sha"] in heads)
    return len(open_prs) + runs


def cycle(poller, fake, label):
    fake.reset_calls()
    started = time.perf_counter()
    report = poller.run_once()
    seconds = time.perf_counter() - started
    return {
        "cycle": label,
        "calls": len(fake.calls),
        "304": fake.count(status=304),
        "counted": fake.rate_limited_calls,
        "seed": seed_calls(fake),
        "seconds": seconds,
        "deferred": report["runs_deferred"] if report else "-",
        "errors": report["errors"] if report else "no lease",
    }


def fresh_budget(poller, fake, remaining):
    fake.set_rate_limit(remaining, reset_in=3600)
    poller.github.budgets.buckets.clear()  # as if its reset time had come


def catch_up(poller, fake):
    """Cycles, with the limit lifted, until nothing is deferred: the cold start's full cost."""
    fresh_budget(poller, fake, 10**9)
    rows = []
    while not rows or rows[-1]["deferred"]:
        rows.append(cycle(poller, fake, "catch-up"))
    return {
        "cycle": f"+{len(rows)} catch-up",
        **{key: sum(row[key] for row in rows) for key in ("calls", "304", "counted", "seconds")},
        "seed": rows[-1]["seed"] * len(rows),
        "deferred": 0,
        "errors": sum(row["errors"] for row in rows),
    }


def scenario(prs, repos, database_url):
    fake = build(prs, repos)
    db.bind(database_url)
    db.migrate()
    rows = []
    with serve_fake(fake) as url:
        github = app_client(fake, url, timeout=(5, 30))
        poller = Poller(github, interval=60, lease_ttl=600)
        rows.append(cycle(poller, fake, "first"))
        rows.append(catch_up(poller, fake))
        fresh_budget(poller, fake, 5000)
        rows.append(cycle(poller, fake, "idle"))
        change(fake)
        rows.append(cycle(poller, fake, "5% changed"))
        rows.append(cycle(poller, fake, "idle"))
        # GitHub's ETags are specific to the token: the hourly new installation token reads
        # every conditional URL in full once.
        poller.github.forget_token(INSTALLATION)
        rows.append(cycle(poller, fake, "new token"))
        poller.release()
        github.close()
    db.database.obj.close_all()
    return rows


def print_table(prs, repos, rows):
    print(f"\n{prs} open PRs / {repos} repositories, {RUNS_PER_PR} runs per PR")
    header = (
        f"{'cycle':<16}{'calls':>8}{'304':>8}{'counted':>9}{'seed':>8}"
        f"{'counted/h':>11}{'seed/h':>9}{'wall s':>8}{'deferred':>10}{'errors':>8}"
    )
    print(header)
    for row in rows:
        # The new token's cycle comes once an hour; the catch-up, once.
        per_hour = {"new token": 1}.get(row["cycle"], 0 if "catch-up" in row["cycle"] else 60)
        hourly = row["counted"] * per_hour if per_hour else ""
        seed_hourly = row["seed"] * 60 if per_hour else ""
        print(
            f"{row['cycle']:<16}{row['calls']:>8}{row['304']:>8}{row['counted']:>9}"
            f"{row['seed']:>8}{hourly!s:>11}{seed_hourly!s:>9}"
            f"{row['seconds']:>8.2f}{row['deferred']!s:>10}{row['errors']!s:>8}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", default="100/10,1000/50", help="PRS/REPOS,...")
    parser.add_argument("--database-url", help="default: a fresh SQLite file per scenario")
    args = parser.parse_args()
    print("counted = calls GitHub counts against the installation's 5,000/h; /h at a 60 s interval")
    for spec in args.scenarios.split(","):
        prs, repos = (int(part) for part in spec.split("/"))
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite:///{tmp}/bench.db"
            print_table(prs, repos, scenario(prs, repos, url))


if __name__ == "__main__":
    main()
