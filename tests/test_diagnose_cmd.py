"""`prmonitor diagnose --log FILE`: the line prmonitor picks in a saved log, its rule and excerpt;
and `prmonitor diagnose JOB`, which names a job by id or URL."""

from typing import NamedTuple

import pytest

from prmonitor import cli
from prmonitor.diagnose_cmd import GENERIC, JobRef, job_reference, print_finding

from .helpers import run_cli

PYTEST_LOG_LINES = """\
##[group]Run actions/checkout@v4
Syncing repository: acme/widgets
##[endgroup]
##[group]Run pytest -q
\x1b[36;1mpytest -q\x1b[0m
##[endgroup]
============================= test session starts ==============================
collected 3 items

tests/test_parser.py .F.                                                 [100%]

=================================== FAILURES ===================================
______________________________ test_empty_input _______________________________

    def test_empty_input():
>       assert parse("") == []
E       AssertionError: assert None == []
E        +  where None = parse('')

tests/test_parser.py:12: AssertionError
=========================== short test summary info ============================
FAILED tests/test_parser.py::test_empty_input - AssertionError: assert None == []
========================= 1 failed, 2 passed in 0.12s ==========================
##[error]Process completed with exit code 1.
Post job cleanup.
"""
PASSING_LOG_LINES = """\
##[group]Run ruff check .
##[endgroup]
All checks passed!
============================= test session starts ==============================
tests/test_parser.py ...                                                 [100%]
============================== 3 passed in 0.10s ===============================
Post job cleanup.
"""


class Finding(NamedTuple):
    """extract.Finding's documented fields."""

    line: str
    rule: str
    family: str
    excerpt: str
    signature: str | None
    generic: bool
    infrastructure: bool
    truncated: bool


def stamped(text):
    """A log as GitHub serves it: each line behind its timestamp."""
    return "".join(
        f"2026-11-20T10:00:{n // 10:02d}.{n:07d}Z {line}\n"
        for n, line in enumerate(text.splitlines())
    )


PYTEST_LOG, PASSING_LOG = stamped(PYTEST_LOG_LINES), stamped(PASSING_LOG_LINES)


def test_a_log_file_prints_the_line_rule_and_excerpt(tmp_path, capsys):
    log = tmp_path / "job.log"
    log.write_text(PYTEST_LOG)
    assert cli.main(["diagnose", "--log", str(log)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("line:      ") and "AssertionError: assert None == []" in lines[0]
    assert lines[1].startswith("rule:      ") and "(family " in lines[1]
    assert lines[2].startswith("signature: ") and lines[3].startswith("class:     ")
    assert "excerpt:" in lines
    assert "Process completed with exit code" not in lines[0]  # the cause, not the wrapper


def test_a_log_without_a_failing_line_says_so(tmp_path, capsys):
    log = tmp_path / "green.log"
    log.write_text(PASSING_LOG)
    assert cli.main(["diagnose", "--log", str(log)]) == 0
    assert capsys.readouterr().out.startswith(f"no failing line found in {log}")


def test_a_missing_log_file_is_one_line_and_exit_1(tmp_path):
    result = run_cli("diagnose", "--log", "nowhere.log", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "prmonitor: cannot read nowhere.log: No such file or directory"
    ]
    assert result.stdout == ""
    (tmp_path / "logs").mkdir()
    folder = run_cli("diagnose", "--log", "logs", cwd=tmp_path)
    assert (folder.returncode, folder.stderr.count("\n")) == (1, 1)
    assert "Traceback" not in folder.stderr


def test_a_job_is_named_by_its_id_or_its_url():
    assert job_reference("29000000001") == JobRef(29000000001)
    url = "https://github.com/acme/widgets/actions/runs/9100000001/job/29000000001"
    assert job_reference(url) == JobRef(29000000001, "acme/widgets", 9100000001)
    assert job_reference(f"{url}?pr=17") == JobRef(29000000001, "acme/widgets", 9100000001)
    ghes = "https://ghe.example.com/acme/widgets/actions/runs/5/job/6"
    assert job_reference(ghes) == JobRef(6, "acme/widgets", 5)


@pytest.fixture
def github_job(monkeypatch, tmp_path):
    """A failed job on the fake GitHub with PYTEST_LOG, and the App's settings pointing at it
    (a database that does not exist: the job is not stored here). Yields its URL."""
    from .fakes import FakeGitHub, serve_fake

    fake = FakeGitHub()
    fake.add_installation(7)
    fake.add_repo("acme/widgets", installation_id=7)
    pr = fake.open_pr("acme/widgets")
    run = fake.add_run("acme/widgets", pr["head"]["sha"], jobs=("test",))
    fake.finish_run(run["id"], {"test": "failure"})
    (job_id,) = [i for i, job in fake.jobs.items() if job["run_id"] == run["id"]]
    fake.set_log(job_id, PYTEST_LOG)
    with serve_fake(fake) as url:
        for name in ("GITHUB_TOKEN", "API_TOKEN", "WEBHOOK_SECRET", "PRIVATE_KEY_PATH"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("APP_ID", str(fake.app_id))
        monkeypatch.setenv("PRIVATE_KEY", fake.private_key_pem)
        monkeypatch.setenv("GITHUB_API_URL", url)
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/absent.db")
        yield fake.jobs[job_id]["html_url"], job_id


def test_a_job_url_is_read_from_github_as_the_worker_reads_it(github_job, capsys, tmp_path):
    url, _ = github_job
    assert cli.main(["diagnose", url]) == 0
    out = capsys.readouterr().out
    assert "line:" in out and "AssertionError: assert None == []" in out
    assert "source:    log" in out
    assert not (tmp_path / "absent.db").exists()  # nothing created for it


def test_a_job_id_not_stored_here_asks_for_its_url(github_job, capsys):
    _, job_id = github_job
    assert cli.main(["diagnose", str(job_id)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "give its URL" in err[0]


def test_a_job_needs_credentials(monkeypatch, capsys, tmp_path):
    for name in ("APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/absent.db")
    assert cli.main(["diagnose", "29000000001"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "credentials" in err[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["diagnose"],
        ["diagnose", "12", "--log", "x.log"],
        ["diagnose", "not-a-job"],
        ["diagnose", "0"],
        ["diagnose", "https://github.com/acme/widgets/pull/17"],
    ],
)
def test_usage_errors_are_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_a_finding_prints_its_rule_family_signature_and_excerpt(capsys):
    """The output's shape, whatever line the rules pick (a Finding as extract documents it)."""
    finding = Finding(
        line="No space left on device",
        rule="disk-full",
        family="infrastructure",
        excerpt="Writing image...\nNo space left on device",
        signature="No space left on device",
        generic=False,
        infrastructure=True,
        truncated=True,
    )
    print_finding(finding)
    assert capsys.readouterr().out.splitlines() == [
        "line:      No space left on device",
        "rule:      disk-full (family infrastructure)",
        "signature: No space left on device",
        "class:     infrastructure",
        "note:      the log was cut at its size cap; this is the best line before the cut",
        "excerpt:",
        "  | Writing image...",
        "  | No space left on device",
    ]
    generic = finding._replace(generic=True, infrastructure=False, truncated=False)
    print_finding(generic, "flaky", "it passed")
    out = capsys.readouterr().out
    assert f"signature: {GENERIC}\nclass:     flaky (it passed)\n" in out
