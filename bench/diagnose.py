"""Failure-diagnosis benchmark, run by hand: throughput and memory of diagnose_file on big logs.

It writes job logs of 10 MB and 300 MB in the shape of real GitHub Actions logs (the runner's
timestamps, step groups with their script headers, ANSI colours, pytest, compiler, npm, go and
pip output, some passing lines that mention errors, a failure near the end) into a temporary
directory. Then, for each size, it times diagnose_file and a bare loop that only reads the file
line by line and strips the timestamp (the ceiling), alternating them over a few rounds (CPU
time; the machine is shared, so the ratio is the median of the rounds' ratios), and runs each
diagnosis once more in a fresh process to read its peak RSS (ru_maxrss). Targets: the ratio to
the ceiling at least 0.3, and peak RSS flat from 10 MB to 300 MB (less than 50 MB more).

    python bench/diagnose.py [--sizes 10,300] [--rounds 5]
"""

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ")
MB = 2**20
CAP = 2**30  # above the largest log here: the default cap (256 MiB) would cut the 300 MB one
FAILURE = [
    "=================================== FAILURES ===================================",
    "___________________________________ test_refund ___________________________________",
    "",
    "    def test_refund(order):",
    ">       assert refund(order) == 10",
    "E       assert 0 == 10",
    "",
    "tests/test_pay.py:30: AssertionError",
    "=========================== short test summary info ============================",
    "FAILED tests/test_pay.py::test_refund - assert 0 == 10",
    "========================= 1 failed, 4211 passed in 812.20s =========================",
    "##[error]Process completed with exit code 1.",
    "Post job cleanup.",
    "[command]/usr/bin/git version",
    "Cleaning up orphan processes",
]


def step_lines(rng: random.Random, kind: str) -> list[str]:
    """About a hundred lines of one step's output, in its tool's shape."""
    n = rng.randint
    if kind == "pytest":
        return [
            f"tests/test_m{n(1, 400)}.py::test_{'error_' if n(0, 49) == 0 else ''}case_{n(1, 999)}"
            f" \x1b[32mPASSED\x1b[0m\x1b[32m{' ' * n(5, 30)}[{n(0, 99):3d}%]\x1b[0m"
            for _ in range(100)
        ]
    if kind == "compile":
        return [
            f"[{n(1, 900)}/900] Building CXX object src/CMakeFiles/core.dir/mod{n(1, 999)}.cpp.o"
            if n(0, 9)
            else f"/usr/bin/c++ -DNDEBUG -Iinclude -O2 -Wall -Werror -o o{n(1, 99)}.o -c src/m.cpp"
            for _ in range(100)
        ]
    if kind == "npm":
        return [
            f"npm warn deprecated pkg{n(1, 999)}@1.{n(0, 9)}.0: use something else"
            if n(0, 9) == 0
            else f"  \x1b[32m✓\x1b[39m renders widget {n(1, 999)}"
            f"{' without error' if n(0, 19) == 0 else ''} ({n(1, 90)} ms)"
            for _ in range(100)
        ]
    if kind == "go":
        return [
            f"=== RUN   TestThing{n(1, 999)}"
            if n(0, 1)
            else f"--- PASS: TestThing{n(1, 999)} (0.0{n(0, 9)}s)"
            for _ in range(100)
        ]
    return [
        f"Collecting package-{n(1, 999)}==1.{n(0, 30)}.0",
        f"  Downloading package_{n(1, 999)}-1.{n(0, 30)}.0-py3-none-any.whl ({n(10, 900)} kB)",
    ] * 50


def write_log(path: Path, size: int, seed: int = 7) -> None:
    """A job log of about `size` bytes: groups of steps repeated, the failure at the end."""
    rng = random.Random(seed)
    clock = time.mktime((2024, 5, 1, 9, 0, 0, 0, 0, 0))
    blocks = []
    for kind in ("pytest", "compile", "npm", "go", "pip") * 4:
        header = [
            f"##[group]Run step-{kind}",
            f"\x1b[36;1m./ci/{kind}.sh\x1b[0m",
            "shell: /usr/bin/bash -e {0}",
            "##[endgroup]",
        ]
        blocks.append(header + step_lines(rng, kind))
    with path.open("w", encoding="utf-8") as out:
        written = 0
        while written < size:
            for block in blocks:
                clock += 0.37
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(clock))
                text = "".join(f"{stamp}.{rng.randint(0, 9999999):07d}Z {line}\n" for line in block)
                written += out.write(text)
        out.write("".join(f"{stamp}.0000000Z {line}\n" for line in FAILURE))


def bare_loop(path: Path) -> int:
    """The ceiling: read the file line by line and strip the timestamp, nothing else."""
    count = 0
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            match = STAMP.match(line)
            count += len(line[match.end() :] if match else line)
    return count


def diagnose(path: Path) -> str:
    from prmonitor.failures import diagnose_file

    finding = diagnose_file(path, cap_bytes=CAP)
    return finding.line if finding else "(none)"


def seconds(function, path: Path) -> float:
    """CPU seconds of one call (the machine is shared: wall time would measure the others)."""
    started = time.process_time()
    function(path)
    return time.process_time() - started


def peak_rss(path: Path | None) -> float:
    """Peak RSS in MB of a fresh process that imports prmonitor and diagnoses `path` (if any)."""
    code = (
        "import resource, sys; from prmonitor.failures import diagnose_file; "
        f"sys.argv[1:] and diagnose_file(sys.argv[1], cap_bytes={CAP}); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    argv = [sys.executable, "-c", code, *([str(path)] if path else [])]
    output = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return int(output.split()[-1]) / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,300", help="log sizes in MB")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    with tempfile.TemporaryDirectory() as tmp:
        baseline = peak_rss(None)
        print(f"peak RSS of a process that only imports prmonitor: {baseline:.1f} MB")
        for size in map(int, args.sizes.split(",")):
            path = Path(tmp) / f"job-{size}mb.log"
            write_log(path, size * MB)
            megabytes = os.path.getsize(path) / MB
            print(f"{megabytes:.0f} MB log: finding {diagnose(path)!r}")
            bare, ours = [], []
            for _ in range(args.rounds):  # alternate, so that a busy spell hits both alike
                bare.append(seconds(bare_loop, path))
                ours.append(seconds(diagnose, path))
            ceiling, speed = megabytes / median(bare), megabytes / median(ours)
            ratio = median(one / other for one, other in zip(bare, ours, strict=True))
            rss = peak_rss(path)
            print(
                f"  bare loop {ceiling:6.1f} MB/s   diagnose_file {speed:6.1f} MB/s   "
                f"ratio {ratio:.2f}   peak RSS {rss:.1f} MB (+{rss - baseline:.1f} MB)"
            )
            path.unlink()


if __name__ == "__main__":
    main()
