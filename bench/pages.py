"""Dashboard pages benchmark, run by hand (issue 14): p50 and p95 of the PR list, its filtered
and searched forms, a typical PR's page and its repository's trends page, on a database of
10k jobs against the same pages on 1M (about 100k run attempts, 25k PRs, 20 repositories),
in one run.

The databases are bench/history_data.py's (plain SQL after the app's migrations); the app is
the real one (create_app and Flask's test client: the app and the database, without the HTTP
server). The sizes take turns, a round each, so that drift in the machine's speed hits them
alike. Targets: p50 under 25 ms for the PR page and 50 ms for the lists, at most 1.5x from
the smallest size to the largest.

    python bench/pages.py [--sizes 10k,1M] [--backends sqlite,postgres]
"""

import re
import statistics
import sys
from collections import defaultdict
from contextlib import ExitStack

import history

TARGETS_MS = {"PR page": 25, "trends": None}  # the rest are lists: 50 ms
LIST_TARGET_MS = 50


def routes(probe):
    pr = f"/prs/{probe.repo}/{probe.number}"
    return {
        "/": "/",
        "/?status=failing": "/?status=failing",
        "/?repo": f"/?repo={probe.busiest}",
        "/?q=number": f"/?q={probe.number}",
        "/api/prs": "/api/prs",
        "PR page": pr,
        "trends": f"/repos/{probe.repo}",
    }


def shown(client, path):
    """How much the page shows: PRs listed, runs on a PR page, runs a trends page read."""
    answer = client.get(path)
    text = answer.get_data(as_text=True)
    if path.startswith("/api/"):
        return len(answer.json["prs"])
    if path.startswith("/repos/"):
        found = re.search(r"The latest (\d+) workflow runs", text)
        return int(found.group(1)) if found else 0
    if path.startswith("/prs/"):
        return text.count('class="run-box"')
    return text.count('<td class="nowrap"><a href="/prs/')


def percentile(times, share):
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure_backend(backend, args):
    """{size: {route: (p50 ms, p95 ms, rows shown)}}."""
    per_round = max(1, args.requests // args.rounds)
    with ExitStack() as stack:
        built = {
            size: stack.enter_context(history.history(backend, size, args)) for size in args.sizes
        }
        samples = {size: defaultdict(list) for size in args.sizes}
        rows = {}
        for size, database in built.items():
            with history.serving(database.url) as client:
                for name, path in routes(database.probe).items():
                    rows[size, name] = shown(client, path)
        for _ in range(args.rounds):
            for size, database in built.items():
                with history.serving(database.url) as client:
                    for name, path in routes(database.probe).items():
                        samples[size][name] += history.timed(client, path, per_round, args.warm_up)
    return {
        size: {
            name: (1000 * statistics.median(t), 1000 * percentile(t, 0.95), rows[size, name])
            for name, t in by_route.items()
        }
        for size, by_route in samples.items()
    }


def print_table(backend, results):
    sizes = list(results)
    small, large = results[sizes[0]], results[sizes[-1]]
    labels = [history._size_label(size) for size in sizes]
    head = "".join(f"{label + ' p50':>10}{label + ' p95':>10}{'rows':>6}" for label in labels)
    print(f"\n{backend:<18}{head}{'ratio':>8}  target")
    missed = []
    for name in small:
        cells = "".join(
            f"{results[s][name][0]:>10.2f}{results[s][name][1]:>10.2f}{results[s][name][2]:>6}"
            for s in sizes
        )
        ratio = large[name][0] / small[name][0]
        target = TARGETS_MS.get(name, LIST_TARGET_MS)
        # The ratio speaks of history only where both pages show as much.
        same = small[name][2] == large[name][2]
        ok = (ratio <= history.LIMIT or not same) and (target is None or large[name][0] < target)
        if not ok:
            missed.append(name)
        goal = f"p50 < {target} ms, " if target else ""
        verdict = "yes" if ok else "NO"
        note = "" if same else " (the pages show different amounts: ratio not comparable)"
        print(f"{name:<18}{cells}{ratio:>8.2f}  {goal}<= {history.LIMIT}x: {verdict}{note}")
    return missed


def main(argv=None):
    args = history.parse_args(argv or ["--sizes", "10k,1M", *sys.argv[1:]])
    history.warn_if_busy("before starting")
    tables = {backend: measure_backend(backend, args) for backend in args.backends}
    history.warn_if_busy("at the end")
    missed = [print_table(backend, results) for backend, results in tables.items()]
    return 1 if any(missed) else 0


if __name__ == "__main__":
    sys.exit(main())
