"""`prmonitor diagnose`: the line prmonitor picks in a job's log, with its rule, family, signature
and excerpt, for a user who finds a line wrong."""

import argparse
import os
import re
import sys
from typing import NamedTuple

# A job's page on GitHub (or GitHub Enterprise Server): .../OWNER/REPO/actions/runs/RUN/job/JOB
JOB_URL = re.compile(
    r"https?://[^/\s]+/([A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100})"
    r"/actions/runs/([0-9]{1,20})/jobs?/([0-9]{1,20})/?(?:[?#]\S*)?"
)
JOB_ID = re.compile(r"[0-9]{1,20}")
GENERIC = "none: a generic line is never evidence that two failures are the same"
NOT_FROM_A_LOG = "not decided by a log alone: it takes the job's re-runs, base branch and other PRs"


class JobRef(NamedTuple):
    """A job named on the command line: GitHub's job id, and from a URL its repository and run."""

    job_id: int
    repo: str | None = None
    run_id: int | None = None


def add_parser(commands):
    """Register `prmonitor diagnose (--log FILE | JOB)` on the command's subparsers."""
    sub = commands.add_parser("diagnose", help="the line prmonitor picks in a job's log, and why")
    target = sub.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "job", nargs="?", type=job_reference, help="a job id or a job's URL (needs credentials)"
    )
    target.add_argument("--log", metavar="FILE", help="a job's log saved as a file")
    sub.set_defaults(command=cmd_diagnose)


def job_reference(raw):
    """argparse type: a job id, or a job's URL (.../actions/runs/RUN/job/JOB)."""
    if JOB_ID.fullmatch(raw) and int(raw) > 0:
        return JobRef(int(raw))
    found = JOB_URL.fullmatch(raw.strip())
    if found is None:
        raise argparse.ArgumentTypeError(
            "a job is its id or its URL: https://github.com/OWNER/REPO/actions/runs/RUN/job/JOB"
        )
    return JobRef(int(found[3]), found[1], int(found[2]))


def cmd_diagnose(config, args):
    """`prmonitor diagnose --log FILE` or `prmonitor diagnose JOB`: its exit status."""
    if args.log is not None:
        return diagnose_log(args.log)
    return diagnose_job(config, args.job)


def diagnose_log(path):
    """Print what prmonitor picks in the log file at `path`: 0, or 1 when it cannot be read."""
    try:
        with open(path, "rb"):  # a missing file, a folder, no permission: said in one line
            pass
        from prmonitor.failures import extract

        finding = extract.diagnose_file(path)
    except OSError as exc:
        print(f"prmonitor: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if finding is None:
        print(f"no failing line found in {path}: its job would keep the failed step's name")
        return 0
    print_finding(finding)
    return 0


# -- `prmonitor diagnose JOB` --------------------------------------------------------------------


def diagnose_job(config, ref):
    """Read a job's log from GitHub as the worker does and print what prmonitor picks: 0, or 1
    with one line when it cannot (no credentials, an unknown job, GitHub's refusal)."""
    if not config.can_poll:
        print(
            "prmonitor: reading a job's log needs GitHub credentials (APP_ID with PRIVATE_KEY, or "
            "GITHUB_TOKEN); or save the log and run `prmonitor diagnose --log FILE`",
            file=sys.stderr,
        )
        return 1
    from prmonitor.failures.diagnose import Diagnoser
    from prmonitor.github import GitHub, GitHubError

    stored, failure_class = _stored_job(config, ref.job_id)
    github = GitHub.from_config(config)
    try:
        job = stored or _job_of_url(github, ref)
        if job is None:
            print(
                f"prmonitor: job {ref.job_id} is not stored here: give its URL "
                "(https://github.com/OWNER/REPO/actions/runs/RUN/job/JOB)",
                file=sys.stderr,
            )
            return 1
        found, source, _ = Diagnoser(github, config.log_max_bytes).find(job)
    except GitHubError as exc:
        print(f"prmonitor: job {ref.job_id}: {exc}", file=sys.stderr)
        return 1
    finally:
        github.close()
    if found is None:
        print(f"no failing line found in job {ref.job_id}'s log: it keeps the failed step's name")
        return 0
    print_finding(found, failure_class)
    print(f"source:    {source}")
    return 0


def _stored_job(config, job_id):
    """(diagnose.Job, its stored class) when this database has the job, else (None, None)."""
    from peewee import DatabaseError, InterfaceError

    from prmonitor.storage import db, diagnoses

    path = db.sqlite_path(config.database_url)
    if path and path != ":memory:" and not os.path.exists(path):
        return None, None  # not created for this
    try:
        with db.bind(config.database_url).connection_context():
            job = diagnoses.job_to_read(job_id)
    except (DatabaseError, InterfaceError, OSError):
        return None, None
    return job, job.failure_class if job else None


def _job_of_url(github, ref):
    """A job named by its URL but not stored: its repository's installation asked of GitHub."""
    from prmonitor.poll import installation_for
    from prmonitor.storage.diagnoses import Job

    if ref.repo is None:
        return None
    installation = installation_for(github, ref.repo) if github.is_app else None
    return Job(ref.job_id, ref.repo, installation, None, None)


# -- output -----------------------------------------------------------------------------------


def print_finding(finding, failure_class=None, reason=None):
    """A finding (extract.Finding: line, rule, family, signature, generic, infrastructure,
    excerpt, truncated) as text; the class when known, else what a log alone can say."""
    rule = getattr(finding, "rule", None) or "?"
    family = getattr(finding, "family", None)
    print(f"line:      {finding.line}")
    print(f"rule:      {rule}" + (f" (family {family})" if family else ""))
    generic = getattr(finding, "generic", False)
    print(f"signature: {GENERIC if generic else finding.signature or '(none)'}")
    print(f"class:     {failure_class or _class_from_log(finding)}" + _reason(reason))
    if getattr(finding, "truncated", False):
        print("note:      the log was cut at its size cap; this is the best line before the cut")
    print("excerpt:")
    for line in (finding.excerpt or finding.line).splitlines():
        print(f"  | {line}".rstrip())


def _class_from_log(finding):
    return "infrastructure" if getattr(finding, "infrastructure", False) else NOT_FROM_A_LOG


def _reason(reason):
    return f" ({reason})" if reason else ""
