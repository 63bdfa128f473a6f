"""Each failure class with its evidence, their precedence, and reclassification as evidence
arrives later: rows stored through the ingest path as deliveries store them, on both backends."""

import datetime
import json

from prmonitor.failures import classify
from prmonitor.failures.rules import RULES
from prmonitor.github import payloads
from prmonitor.storage import db, evidence, ingest
from prmonitor.storage.models import DiagnosisTask, WorkflowJob

from ..events import job_event, pr_event, run_event, steps

URL = "https://github.com/acme/widgets"
T0 = datetime.datetime(2026, 11, 20, 10, 0, 0)
NOW = T0 + datetime.timedelta(hours=2)
SIG = "FAILED tests/test_parser.py::test_empty_input - AssertionError: assert None == []"
PR_HEAD, OTHER_HEAD, BASE_HEAD = "a" * 40, "b" * 40, "c" * 40


def at(minutes):
    """GitHub's text for T0 plus `minutes`."""
    return (T0 + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_pr(number, author, head_sha, base="main"):
    payload = pr_event(
        "opened",
        number=number,
        user={"login": author},
        head={"sha": head_sha, "ref": f"branch-{number}"},
        base={"ref": base},
        html_url=f"{URL}/pull/{number}",
    )
    row = payloads.parse_pull_request(payload["pull_request"], payload["repository"])
    with db.writing():
        ingest.record_pull_request(row, "opened")


def run(run_id, head_sha, minutes=0, attempt=1, event="pull_request", branch="feature"):
    payload = run_event(
        "completed",
        id=run_id,
        head_sha=head_sha,
        run_attempt=attempt,
        event=event,
        head_branch=branch,
        created_at=at(minutes),
        updated_at=at(minutes + 6),
        html_url=f"{URL}/actions/runs/{run_id}",
        pull_requests=[],
    )
    with db.writing():
        ingest.record_run(payloads.parse_run(payload["workflow_run"], payload["repository"]))


def job(job_id, run_id, head_sha, conclusion="failure", minutes=0, attempt=1, **fields):
    fields.setdefault("steps", steps(conclusion))
    payload = job_event(
        "completed",
        id=job_id,
        run_id=run_id,
        run_attempt=attempt,
        head_sha=head_sha,
        name=fields.pop("name", "test"),
        conclusion=conclusion,
        created_at=at(minutes),
        started_at=at(minutes + 1),
        completed_at=at(minutes + 5),
        html_url=f"{URL}/actions/runs/{run_id}/job/{job_id}",
        **fields,
    )
    row = payloads.parse_job(payload["workflow_job"])
    with db.writing():
        ingest.record_jobs([(row, payloads.run_placeholder(row, payload["repository"]))])


def diagnose(job_id, signature=SIG, rule="pytest-failed", minutes=10):
    """What the worker does once it has read the job's log: store the line, classify, finish."""
    when = T0 + datetime.timedelta(minutes=minutes)
    with db.writing():
        WorkflowJob.update(failure_rule=rule, failure_signature=signature, diagnosed_at=when).where(
            WorkflowJob.job_id == job_id
        ).execute()
        failure_class = classify.apply(job_id, now=when)
        DiagnosisTask.update(state="done", finished_at=when, due_at=when).where(
            DiagnosisTask.job_id == job_id
        ).execute()
    with db.writing():  # after the commit, as the worker does
        evidence.outdate_by_signature(signature)
    return failure_class


def stored(job_id):
    row = WorkflowJob.get(WorkflowJob.job_id == job_id)
    return row.failure_class, json.loads(row.evidence)


def pr_failure(
    number=17, author="alice", head=PR_HEAD, run_id=100, job_id=1001, minutes=0, **job_fields
):
    """A PR whose run's `test` job failed (not diagnosed yet)."""
    open_pr(number, author, head)
    run(run_id, head, minutes)
    job(job_id, run_id, head, minutes=minutes, **job_fields)


def base_failure(run_id=200, job_id=2001, minutes=-60, signature=SIG, head=BASE_HEAD):
    """A push run of main whose `test` job failed, diagnosed."""
    run(run_id, head, minutes, event="push", branch="main")
    job(job_id, run_id, head, minutes=minutes)
    return diagnose(job_id, signature, minutes=minutes + 10)


# -- infrastructure --------------------------------------------------------------------------


def test_startup_failure_is_infrastructure(database):
    pr_failure(conclusion="startup_failure")
    assert diagnose(1001) == "infrastructure"
    assert stored(1001)[1] == {"reason": "GitHub could not start the job (startup_failure)"}


def test_a_job_no_runner_ever_took_is_infrastructure(database):
    pr_failure(runner_name=None, steps=[])
    assert diagnose(1001, signature=None, rule=None) == "infrastructure"
    reason = stored(1001)[1]["reason"]
    assert reason == "no runner was ever assigned to the job and none of its steps ran"


def test_a_runner_with_steps_that_ran_is_not_infrastructure(database):
    pr_failure(runner_name=None)  # steps ran: only the runner's name went missing
    assert diagnose(1001) == "new"


def test_an_infrastructure_rule_is_infrastructure(database):
    rule = next(r for r in RULES if r.infrastructure)
    pr_failure()
    assert diagnose(1001, signature=None, rule=rule.name) == "infrastructure"
    assert stored(1001)[1]["rule"] == rule.name
    assert not classify.is_infrastructure_rule("no-such-rule")
    assert not classify.is_infrastructure_rule(None)


# -- flaky -----------------------------------------------------------------------------------


def test_a_later_attempt_that_passed_makes_flaky(database):
    pr_failure()
    run(100, PR_HEAD, attempt=2)
    job(1002, 100, PR_HEAD, conclusion="success", attempt=2, minutes=8)
    assert diagnose(1001) == "flaky"
    assert stored(1001)[1] == {
        "reason": "test passed on attempt 2 of the same run",
        "passed": {
            "job_id": 1002,
            "run_id": 100,
            "run_attempt": 2,
            "head_sha": PR_HEAD,
            "html_url": f"{URL}/actions/runs/100/job/1002",
            "run_url": f"{URL}/actions/runs/100",
            "created_at": "2026-11-20T10:00:00Z",
        },
    }


def test_another_run_passing_on_the_same_commit_makes_flaky(database):
    pr_failure()
    run(101, PR_HEAD, minutes=20)
    job(1011, 101, PR_HEAD, conclusion="success", minutes=20)
    assert diagnose(1001) == "flaky"
    found = stored(1001)[1]
    assert found["reason"] == "test passed on run 101 of the same commit"
    assert found["passed"]["job_id"] == 1011


def test_a_pass_of_another_job_or_commit_or_event_is_not_flaky(database):
    pr_failure()
    job(1003, 100, PR_HEAD, conclusion="success", name="lint")
    run(101, OTHER_HEAD, minutes=20)
    job(1011, 101, OTHER_HEAD, conclusion="success", minutes=20)
    # A push run of the same commit tests the branch alone, not its merge with the base.
    run(102, PR_HEAD, minutes=20, event="push", branch="branch-17")
    job(1021, 102, PR_HEAD, conclusion="success", minutes=20)
    assert diagnose(1001) == "new"


# -- broken_base -----------------------------------------------------------------------------


def test_the_same_failure_on_the_base_branch_makes_broken_base(database):
    assert base_failure() == "new"  # a push run's job has no PR: it is evidence, not a PR's
    pr_failure()
    assert diagnose(1001) == "broken_base"
    assert stored(1001)[1] == {
        "reason": "test fails the same way on main",
        "base_ref": "main",
        "runs": [
            {
                "job_id": 2001,
                "run_id": 200,
                "run_attempt": 1,
                "head_sha": BASE_HEAD,
                "html_url": f"{URL}/actions/runs/200/job/2001",
                "run_url": f"{URL}/actions/runs/200",
                "created_at": "2026-11-20T09:00:00Z",
            }
        ],
    }


def test_a_base_run_after_the_push_does_not_count(database):
    """Once the PR is merged its own failure shows on the base branch: not the base's fault."""
    base_failure(run_id=200, job_id=2001, minutes=30)
    base_failure(run_id=201, job_id=2011, minutes=2 * 24 * 60, head="d" * 40)
    pr_failure()
    assert diagnose(1001) == "new"
    classify.reclassify_recent(now=NOW)
    assert stored(1001)[0] == "new"


def test_a_base_failure_older_than_the_latest_base_runs_is_not_broken_base(database):
    base_failure(run_id=200, job_id=2001, minutes=-600)
    for n in range(5):  # five later base runs where the job passed: main was fixed since
        run(210 + n, f"{n}" * 40, minutes=-300 + n, event="push", branch="main")
        job(2100 + n, 210 + n, f"{n}" * 40, conclusion="success", minutes=-300 + n)
    pr_failure()
    assert diagnose(1001) == "new"


def test_another_signature_or_branch_on_base_is_not_broken_base(database):
    base_failure(run_id=200, job_id=2001, signature="FAILED tests/test_other.py::test_x")
    run(201, "e" * 40, minutes=-30, event="push", branch="release")
    job(2011, 201, "e" * 40, minutes=-30)
    diagnose(2011, minutes=-20)
    pr_failure()
    assert diagnose(1001) == "new"


# -- seen_elsewhere ----------------------------------------------------------------------------


def test_the_same_failure_in_other_authors_prs_is_seen_elsewhere(database):
    pr_failure(number=18, author="bob", head=OTHER_HEAD, run_id=180, job_id=1801, minutes=-120)
    diagnose(1801, minutes=-110)
    pr_failure(number=19, author="carol", head="f" * 40, run_id=190, job_id=1901, minutes=-60)
    diagnose(1901, minutes=-50)
    pr_failure()
    assert diagnose(1001) == "seen_elsewhere"
    assert stored(1001)[1] == {
        "reason": "the same failure in 2 other pull requests",
        "count": 2,
        "prs": [
            {
                "repo": "acme/widgets",
                "number": 19,
                "html_url": f"{URL}/pull/19",
                "author": "carol",
                "job_url": f"{URL}/actions/runs/190/job/1901",
            },
            {
                "repo": "acme/widgets",
                "number": 18,
                "html_url": f"{URL}/pull/18",
                "author": "bob",
                "job_url": f"{URL}/actions/runs/180/job/1801",
            },
        ],
    }


def test_the_same_authors_other_pr_is_not_seen_elsewhere(database):
    pr_failure(number=18, author="alice", head=OTHER_HEAD, run_id=180, job_id=1801, minutes=-120)
    diagnose(1801, minutes=-110)
    pr_failure()
    assert diagnose(1001) == "new"


def test_a_failure_older_than_seven_days_is_not_seen_elsewhere(database):
    eight_days = -8 * 24 * 60
    pr_failure(
        number=18, author="bob", head=OTHER_HEAD, run_id=180, job_id=1801, minutes=eight_days
    )
    diagnose(1801, minutes=eight_days + 10)
    pr_failure()
    assert diagnose(1001) == "new"


# -- generic lines and precedence --------------------------------------------------------------


def test_a_generic_line_is_never_evidence(database):
    """ "Process completed with exit code 1" on the PR, on the base branch and in another
    author's PR: no signature, so neither broken_base nor seen_elsewhere."""
    base_failure(signature=None)
    pr_failure(number=18, author="bob", head=OTHER_HEAD, run_id=180, job_id=1801, minutes=-120)
    diagnose(1801, signature=None, rule="exit-code", minutes=-110)
    pr_failure()
    assert diagnose(1001, signature=None, rule="exit-code") == "new"
    assert "generic" in stored(1001)[1]["reason"]


def test_flaky_beats_broken_base_which_beats_seen_elsewhere(database):
    base_failure()
    pr_failure(number=18, author="bob", head=OTHER_HEAD, run_id=180, job_id=1801, minutes=-30)
    assert diagnose(1801, minutes=-20) == "broken_base"  # and not seen_elsewhere
    pr_failure()
    run(100, PR_HEAD, attempt=2)
    job(1002, 100, PR_HEAD, conclusion="success", attempt=2, minutes=8)
    assert diagnose(1001) == "flaky"


def test_infrastructure_beats_flaky(database):
    pr_failure(conclusion="startup_failure")
    run(100, PR_HEAD, attempt=2)
    job(1002, 100, PR_HEAD, conclusion="success", attempt=2, minutes=8)
    assert diagnose(1001) == "infrastructure"


def test_a_base_branch_job_can_be_flaky(database):
    base_failure()
    run(200, BASE_HEAD, minutes=-60, attempt=2, event="push", branch="main")
    job(2002, 200, BASE_HEAD, conclusion="success", attempt=2, minutes=-50)
    assert classify.apply(2001, now=NOW) == "flaky"


def test_evidence_is_compact_json_and_unknown_jobs_are_none(database):
    pr_failure()
    diagnose(1001)
    text = WorkflowJob.get(WorkflowJob.job_id == 1001).evidence
    assert text == json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True)
    assert classify.apply(999999, now=NOW) is None
    job(1005, 100, PR_HEAD, conclusion="success", name="build")
    assert classify.apply(1005, now=NOW) is None
    assert WorkflowJob.get(WorkflowJob.job_id == 1005).failure_class is None


# -- reclassification ----------------------------------------------------------------------------


def test_a_new_failure_becomes_flaky_when_a_later_attempt_passes(database):
    pr_failure()
    assert diagnose(1001) == "new"
    assert classify.reclassify_recent(now=NOW) == 0
    run(100, PR_HEAD, attempt=2)
    job(1002, 100, PR_HEAD, conclusion="success", attempt=2, minutes=30)
    assert classify.reclassify_recent(now=NOW) == 1
    assert stored(1001)[0] == "flaky"
    assert classify.reclassify_recent(now=NOW) == 0


def test_a_new_failure_becomes_broken_base_when_a_base_run_fails_the_same_way(database):
    pr_failure()
    assert diagnose(1001) == "new"
    base_failure(minutes=-30)  # started before the PR's push, diagnosed after the PR's failure
    assert classify.reclassify_recent(now=NOW) == 1
    failure_class, found = stored(1001)
    assert (failure_class, found["runs"][0]["run_id"]) == ("broken_base", 200)
    assert classify.reclassify_recent(now=NOW) == 0


def test_seen_elsewhere_counts_grow_and_old_failures_are_left_alone(database):
    pr_failure()
    assert diagnose(1001) == "new"
    pr_failure(number=18, author="bob", head=OTHER_HEAD, run_id=180, job_id=1801, minutes=20)
    assert diagnose(1801, minutes=30) == "seen_elsewhere"
    pr_failure(number=19, author="carol", head="f" * 40, run_id=190, job_id=1901, minutes=40)
    assert diagnose(1901, minutes=50) == "seen_elsewhere"
    # 1001 gains its class; 1801 its second PR; 1901 already saw both.
    assert classify.reclassify_recent(now=NOW) == 2
    assert stored(1001)[1]["count"] == 2 and stored(1801)[1]["count"] == 2
    later = NOW + datetime.timedelta(days=8)
    run(100, PR_HEAD, attempt=2)
    job(1002, 100, PR_HEAD, conclusion="success", attempt=2, minutes=60)
    assert classify.reclassify_recent(now=later) == 0
    assert stored(1001)[0] == "seen_elsewhere"


def test_two_failures_classified_at_once_see_each_other_on_the_next_pass(database):
    """Two workers classify two failures of one signature together, neither seeing the other's
    uncommitted row: the one diagnosed a little later still gets the other's evidence."""
    pr_failure()
    assert diagnose(1001, minutes=12) == "new"
    pr_failure(number=18, author="bob", head=OTHER_HEAD, run_id=180, job_id=1801)
    assert diagnose(1801, minutes=10) == "seen_elsewhere"  # stamped before 1001, committed after
    assert classify.reclassify_recent(now=NOW) == 1
    assert stored(1001)[0] == "seen_elsewhere"
