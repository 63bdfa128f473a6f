"""Every run and job finds its pull request by head SHA, whatever arrives first."""

from prmonitor.storage.models import Pr, Workflow, WorkflowJob

from ..events import SHA, job_event, pr_event, run_event


def test_fork_runs_have_no_pull_requests_and_match_by_head_sha(deliver, database):
    deliver("pull_request", pr_event("opened", number=5, head={"sha": "f" * 40, "ref": "patch"}))
    fork_run = run_event("completed", id=555, head_sha="f" * 40, pull_requests=[])
    deliver("workflow_run", fork_run)
    deliver("workflow_job", job_event("completed", id=556, run_id=555, head_sha="f" * 40))
    pr = Pr.get(Pr.pr_number == 5)
    assert Workflow.get(Workflow.run_id == 555).pr_id == pr.id
    assert WorkflowJob.get(WorkflowJob.job_id == 556).pr_id == pr.id


def test_runs_before_their_pr_is_known_are_attached_later(deliver, database):
    deliver("workflow_job", job_event("completed", head_sha="a" * 40))
    deliver("workflow_run", run_event("completed", head_sha="a" * 40, pull_requests=[]))
    assert Workflow.get().pr_id is None and WorkflowJob.get().pr_id is None
    deliver("pull_request", pr_event("opened", head={"sha": "a" * 40, "ref": "late"}))
    pr = Pr.get()
    assert Workflow.get().pr_id == pr.id
    assert WorkflowJob.get().pr_id == pr.id


def test_run_for_an_earlier_head_still_finds_its_pr(deliver, database):
    deliver(
        "pull_request",
        pr_event("opened", head={"sha": "1" * 40, "ref": "b"}, updated_at="2026-11-20T09:00:00Z"),
    )
    deliver(
        "pull_request",
        pr_event(
            "synchronize", head={"sha": "2" * 40, "ref": "b"}, updated_at="2026-11-20T09:30:00Z"
        ),
    )
    # The run for the first push arrives after the second push.
    deliver("workflow_run", run_event("completed", id=1001, head_sha="1" * 40, pull_requests=[]))
    pr = Pr.get()
    assert pr.head_sha == "2" * 40
    assert Workflow.get(Workflow.run_id == 1001).pr_id == pr.id


def test_pull_requests_hint_creates_the_pr_for_its_own_repo_and_commit(deliver, database):
    deliver("workflow_run", run_event("completed"))
    pr = Pr.get()
    assert (pr.pr_number, pr.repo_full_name, pr.head_sha) == (17, "acme/widgets", SHA)
    assert Workflow.get().pr_id == pr.id
    # A webhook for the PR later fills in what the hint could not say.
    deliver("pull_request", pr_event("opened"))
    assert Pr.get().title == "Fix the parser"
    assert Pr.select().count() == 1


def test_hints_naming_another_repository_or_commit_are_ignored(deliver, database):
    run = run_event("completed", head_sha="b" * 40)  # the hint's head is SHA, not b...
    deliver("workflow_run", run)
    other = run_event("completed", id=77)
    other["workflow_run"]["pull_requests"][0]["base"]["repo"]["id"] = 1
    deliver("workflow_run", other)
    assert Pr.select().count() == 0
    assert Workflow.select().where(Workflow.pr.is_null(False)).count() == 0


def test_same_sha_in_two_repositories_stays_apart(deliver, database):
    deliver("pull_request", pr_event("opened", repo="acme/one"))
    deliver("pull_request", pr_event("opened", repo="acme/two"))
    deliver("workflow_run", run_event("completed", repo="acme/two", pull_requests=[]))
    run = Workflow.get()
    assert run.pr.repo_full_name == "acme/two"
