"""Picking the line that explains a failed job: real-shaped logs, signatures, annotations."""
# ruff: noqa: E501

import itertools
import time
import tracemalloc
from pathlib import Path

import pytest

from prmonitor.failures import (
    Finding,
    best,
    diagnose_annotations,
    diagnose_file,
    diagnose_lines,
    read_log,
    signature,
)

LOGS = Path(__file__).parent / "logs"
FIXTURES = sorted(path.stem for path in LOGS.glob("*.log"))


def expected(name: str) -> tuple[str, str, set[str]]:
    """A fixture's sidecar: the expected line, its family, and optional flags."""
    line, family, *rest = (LOGS / f"{name}.expected").read_text(encoding="utf-8").split("\n")
    return line, family, set(" ".join(rest).split())


def test_there_are_enough_fixtures():
    assert len(FIXTURES) >= 60


@pytest.mark.parametrize("name", FIXTURES)
def test_the_fixture_log_gives_its_expected_line(name):
    line, family, flags = expected(name)
    finding = diagnose_file(LOGS / f"{name}.log")
    assert finding is not None
    assert (finding.line, finding.family) == (line, family)
    assert finding.generic == ("generic" in flags)
    assert finding.infrastructure == ("infrastructure" in flags)
    assert not finding.truncated
    assert len(finding.line) <= 500 and "\n" not in finding.line
    assert "##[" not in finding.line and "\x1b" not in finding.excerpt
    assert line in finding.excerpt.split("\n")[10] or line in finding.excerpt
    assert len(finding.excerpt.split("\n")) <= 40


def job(*body: str) -> list[str]:
    """Cleaned lines of a small job: a setup step, the body as one step, post-job cleanup."""
    return [
        "##[group]Run actions/checkout@v4",
        "with:",
        "  repository: acme/app",
        "##[endgroup]",
        "Syncing repository: acme/app",
        "##[group]Run make test",
        "make test",
        "shell: /usr/bin/bash -e {0}",
        "##[endgroup]",
        *body,
        "Post job cleanup.",
        "/usr/bin/git version",
        "Cleaning up orphan processes",
    ]


def test_the_cause_beats_its_wrappers():
    finding = diagnose_lines(
        job(
            "cc -Wall -Werror -c src/a.c",
            "src/a.c:3:5: error: unknown type name 'sizet'",
            "src/a.c:9:1: error: expected ';' before '}' token",
            "make: *** [Makefile:4: a.o] Error 1",
            "##[error]Process completed with exit code 2.",
        )
    )
    assert finding.line == "src/a.c:3:5: error: unknown type name 'sizet'"
    assert (finding.rule, finding.generic) == ("compiler", False)


def test_the_script_header_is_not_output():
    finding = diagnose_lines(
        [
            "##[group]Run grep -rn 'error:' src || echo 'FAILED: nothing'",
            "grep -rn 'error:' src || echo 'FAILED: nothing'",
            "shell: /usr/bin/bash -e {0}",
            "##[endgroup]",
            "FAILED: nothing",
            "##[error]Process completed with exit code 1.",
        ]
    )
    assert finding.line == "FAILED: nothing"


def test_errors_in_an_earlier_step_that_did_not_fail_the_job_lose():
    finding = diagnose_lines(
        [
            "##[group]Run ./lint.sh",
            "./lint.sh",
            "##[endgroup]",
            "src/a.py:1:1: F401 'os' imported but unused",
            "##[error]Process completed with exit code 1.",
            "##[group]Run pytest",
            "pytest",
            "##[endgroup]",
            "E       assert 1 == 2",
            "##[error]Process completed with exit code 1.",
        ]
    )
    assert finding.line == "E       assert 1 == 2"


def test_a_step_header_that_never_ends_does_not_hide_the_rest_of_the_log():
    finding = diagnose_lines(
        ["##[group]Run ./ci.sh", *(f"echo step {n}" for n in range(500)), "E       assert 1 == 2"]
    )
    assert finding.line == "E       assert 1 == 2"


def test_a_last_step_that_only_wrapped_the_failure_yields_to_the_step_that_explains_it():
    finding = diagnose_lines(
        [
            "##[group]Run pytest",
            "##[endgroup]",
            "FAILED tests/test_a.py::test_b - assert 1 == 2",
            "##[error]Process completed with exit code 1.",
            "##[group]Run ./check-results.sh",
            "##[endgroup]",
            "##[error]Process completed with exit code 1.",
        ]
    )
    assert finding.line == "FAILED tests/test_a.py::test_b - assert 1 == 2"


def test_diagnose_file_takes_a_cap(tmp_path):
    path = tmp_path / "job.log"
    path.write_bytes(b"x\n" * 1000 + b"E       assert 1 == 2\n")
    assert diagnose_file(path).line == "E       assert 1 == 2"
    assert diagnose_file(path, cap_bytes=100) is None


def test_a_log_with_only_a_wrapper_is_generic():
    finding = diagnose_lines(job("##[error]Process completed with exit code 1."))
    assert (finding.line, finding.rule, finding.generic) == (
        "Process completed with exit code 1.",
        "exit-code",
        True,
    )


def test_without_a_known_shape_the_last_words_before_the_wrapper_are_shown():
    finding = diagnose_lines(
        job(
            "checking release notes",
            "CHANGELOG.md has no entry for 2.4.1",
            "##[error]Process completed with exit code 1.",
        )
    )
    assert (finding.line, finding.rule, finding.generic) == (
        "CHANGELOG.md has no entry for 2.4.1",
        "last-output",
        True,
    )


def test_infrastructure_lines_are_marked():
    finding = diagnose_lines(
        job(
            "Receiving objects: 45% (1200/2666)",
            "##[error]The hosted runner: GitHub Actions 7 lost communication with the server. Anything in your workflow that terminates the runner process can cause this error.",
        )
    )
    assert finding.infrastructure and finding.family == "runner"
    assert finding.line.startswith("The hosted runner: GitHub Actions 7 lost communication")


def test_a_passing_log_has_no_finding():
    assert diagnose_lines(job("ok  \tgithub.com/acme/calc\t0.004s", "PASS")) is None
    assert diagnose_lines([]) is None


def test_the_excerpt_surrounds_the_line():
    body = (
        [f"line {n}" for n in range(50)]
        + ["E       assert 1 == 2"]
        + [f"after {n}" for n in range(50)]
    )
    finding = diagnose_lines(job(*body, "##[error]Process completed with exit code 1."))
    lines = finding.excerpt.split("\n")
    assert len(lines) == 40
    assert lines[:2] == ["line 40", "line 41"] and lines[10] == "E       assert 1 == 2"
    assert lines[-1] == "after 28"


def test_truncation_is_reported():
    data = b"E       assert 1 == 2\n" + b"noise\n" * 1000
    lines = read_log([data], cap_bytes=200)
    finding = diagnose_lines(lines)
    assert finding.truncated and finding.line == "E       assert 1 == 2"


def test_a_long_line_is_cut_to_500_characters():
    finding = diagnose_lines(
        job("E       AssertionError: " + "x" * 2000, "##[error]Process completed with exit code 1.")
    )
    assert len(finding.line) == 500


RUN_A = "FAILED tests/test_io.py::test_upload[case-7] - AssertionError: wrote 4096 bytes to /tmp/tmpab12cd/out.bin in 12.3s (expected 4097) at 0x7ffd2a1b3c40"
RUN_B = "FAILED tests/test_io.py::test_upload[case-9] - AssertionError: wrote 8192 bytes to /tmp/tmpzz99xy/out.bin in 0.4s (expected 8193) at 0x55aa11bb22cc"


@pytest.mark.parametrize(
    "one, other",
    [
        (RUN_A, RUN_B),
        (
            "/home/runner/work/shop/shop/src/Cart.java:[42,17] cannot find symbol",
            "/home/runner/work/shop/shop/src/Cart.java:[57,3] cannot find symbol",
        ),
        (
            "Error: fetch https://api.example.com/v1/jobs/1f0e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b failed after 2024-05-01T12:34:56Z",
            "Error: fetch https://api.example.com/v1/jobs/9a8b7c6d-5e4f-3a2b-1c0d-9e8f7a6b5c4d failed after 2024-06-02T01:02:03Z",
        ),
        (
            "panic: commit 3f2a9c1b7d not found (took 45 ms) on 127.0.0.1:54321",
            "panic: commit a1b2c3d4e5f6a7b8 not found (took 1.5 ms) on 127.0.0.1:40001",
        ),
        (
            "D:\\a\\engine\\engine\\src\\win32.cpp(57,12): error C2065: 'X': undeclared identifier",
            "D:\\a\\engine\\engine\\src\\win32.cpp(60,1): error C2065: 'X': undeclared identifier",
        ),
        (
            "[gw3] [ 50%] FAILED tests/test_api.py::test_create_user",
            "[gw0] [ 12%] FAILED tests/test_api.py::test_create_user",
        ),
    ],
)
def test_the_same_failure_on_two_runs_has_one_signature(one, other):
    assert signature(one) == signature(other)


@pytest.mark.parametrize(
    "one, other",
    [
        (
            "FAILED tests/test_io.py::test_upload - AssertionError",
            "FAILED tests/test_io.py::test_download - AssertionError",
        ),
        ("error[E0308]: mismatched types", "error[E0425]: cannot find value"),
        (
            "src/api/client.ts(42,7): error TS2322: Type 'string'",
            "src/api/client.ts(42,7): error TS2339: Property 'x'",
        ),
    ],
)
def test_different_failures_have_different_signatures(one, other):
    assert signature(one) != signature(other)


def test_a_rule_signature_group_picks_the_identifying_part():
    one = diagnose_lines(
        job("--- FAIL: TestAdd (0.00s)", "##[error]Process completed with exit code 1.")
    )
    other = diagnose_lines(
        job("    --- FAIL: TestAdd (12.31s)", "##[error]Process completed with exit code 1.")
    )
    assert one.signature == other.signature == "TestAdd"


def annotation(
    level: str, message: str, path: str = ".github", line: int = 1, title: str = ""
) -> dict:
    return {"path": path, "start_line": line, "end_line": line, "annotation_level": level,
            "title": title, "message": message, "raw_details": ""}  # fmt: skip


def test_annotations_give_the_failure_a_problem_matcher_reported():
    finding = diagnose_annotations(
        [
            annotation("warning", "Node.js 16 actions are deprecated."),
            annotation(
                "failure",
                "'useState' is defined but never used (no-unused-vars)",
                path="src/App.tsx",
                line=12,
            ),
            annotation("failure", "Process completed with exit code 1."),
        ]
    )
    assert finding.line == "src/App.tsx:12: 'useState' is defined but never used (no-unused-vars)"
    assert not finding.generic


def test_githubs_own_exit_code_annotation_is_generic():
    finding = diagnose_annotations([annotation("failure", "Process completed with exit code 1.")])
    assert finding.generic and finding.rule == "exit-code"
    assert (
        diagnose_annotations([annotation("notice", "fine"), annotation("warning", "careful")])
        is None
    )


def test_annotations_are_chosen_when_the_log_only_has_a_wrapper():
    from_log = diagnose_lines(job("##[error]Process completed with exit code 1."))
    from_annotations = diagnose_annotations(
        [annotation("failure", "src/a.py:1:8: F401 [*] `os` imported but unused", path="src/a.py")]
    )
    assert best(from_log, from_annotations) is from_annotations
    assert best(None, from_annotations) is from_annotations
    assert best(from_log, None) is from_log


def test_a_specific_log_finding_beats_annotations():
    from_log = diagnose_lines(
        job("E       assert 3 == 4", "##[error]Process completed with exit code 1.")
    )
    from_annotations = diagnose_annotations(
        [annotation("failure", "something failed", path="tests/t.py")]
    )
    assert best(from_log, from_annotations) is from_log


def test_a_runner_failure_only_annotations_know_wins():
    from_log = diagnose_lines(
        job("E       assert 3 == 4", "##[error]Process completed with exit code 1.")
    )
    lost = diagnose_annotations(
        [
            annotation(
                "failure",
                "The self-hosted runner: ci-7 lost communication with the server. Verify the machine is running.",
            )
        ]
    )
    assert lost.infrastructure and best(from_log, lost) is lost


def test_finding_is_a_frozen_record():
    finding = diagnose_lines(job("E       assert 3 == 4"))
    with pytest.raises(AttributeError):
        finding.line = "changed"
    assert isinstance(finding, Finding)


STAMP = "2024-05-01T12:34:56.1234567Z "
NOISE = [
    "tests/test_module_{n}.py::test_case_{n} PASSED                              [ {p}%]",
    "  Downloading package_{n}-1.{n}.0-py3-none-any.whl (123 kB)",
    "[{n}/900] Building CXX object src/CMakeFiles/core.dir/file_{n}.cpp.o",
    "=== RUN   TestThing{n}",
    "--- PASS: TestThing{n} (0.00s)",
    "\x1b[32m✓\x1b[39m src/feature{n}.test.ts (3 tests) 45ms",
    "[INFO] Running com.example.Test{n}",
    "test_error_handling_{n} PASSED",
    "npm warn deprecated package-{n}@1.0.{n}: use something else",
]


def streamed_log(total: int, chunk: int = 1 << 16):
    """A realistic job log of about `total` bytes, made on the fly, failing near the end."""
    lines = (
        template.format(n=n % 997, p=n % 100) for n, template in enumerate(itertools.cycle(NOISE))
    )
    block = "".join(STAMP + line + "\n" for line in itertools.islice(lines, 4096)).encode()
    for _ in range(total // len(block) + 1):
        for start in range(0, len(block), chunk):
            yield block[start : start + chunk]
    tail = ["E       assert 41 == 42", "FAILED tests/test_answer.py::test_answer - assert 41 == 42"]
    yield "".join(
        STAMP + line + "\n" for line in [*tail, "##[error]Process completed with exit code 1."]
    ).encode()


def test_diagnosis_memory_stays_bounded_on_a_log_much_larger_than_the_bound():
    bound, size = 4 * 2**20, 32 * 2**20
    started = time.monotonic()
    tracemalloc.start()
    try:
        log = read_log(streamed_log(size))
        finding = diagnose_lines(log)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert log.bytes_read > 6 * bound
    assert finding.line == "FAILED tests/test_answer.py::test_answer - assert 41 == 42"
    assert peak < bound, f"peak {peak / 2**20:.1f} MiB"
    assert time.monotonic() - started < 20
