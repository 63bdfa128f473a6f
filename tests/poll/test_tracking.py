"""Which PRs stay due (poll/tracking.py): closed ones until their runs settle, stopped never."""

from prmonitor.storage.models import Pr, Workflow

from .world import REPOS, assert_converged


def test_a_closed_pr_is_followed_until_its_runs_settle_then_costs_nothing(poller, fake):
    poller.run_once()
    widgets = REPOS[0]
    passing = Pr.get(Pr.title == "passing")
    run = fake.add_run(widgets, passing.head_sha, name="Late")
    fake.close_pr(widgets, passing.pr_number)
    poller.run_once()
    assert Pr.get_by_id(passing.id).state == "closed"
    assert Pr.get_by_id(passing.id).reconciled_at is None  # its Late run is still queued
    fake.finish_run(run["id"], {"test": "failure"})
    poller.run_once()
    assert_converged(fake)  # the Late run's failure is there, jobs and failed steps
    assert Pr.get_by_id(passing.id).reconciled_at is not None
    fake.reset_calls()
    poller.run_once()
    assert fake.count(path=rf"/runs/{run['id']}") == 0
    assert fake.rate_limited_calls == 0


def test_a_run_that_starts_after_a_closed_prs_final_pass_is_read_too(poller, fake):
    """A workflow `on: pull_request: types: [closed]` starts as the PR closes, possibly after
    the final pass: the PR is due once more until that run is final."""
    poller.run_once()
    widgets = REPOS[0]
    passing = Pr.get(Pr.title == "passing")
    fake.close_pr(widgets, passing.pr_number, merged=True)
    poller.run_once()
    assert Pr.get_by_id(passing.id).reconciled_at is not None  # its final pass is over
    on_close = fake.add_run(widgets, passing.head_sha, name="On close")
    poller.run_once()
    fake.finish_run(on_close["id"], {"test": "failure"})
    poller.run_once()
    assert_converged(fake)  # the run's jobs and failed steps are there
    assert Pr.get_by_id(passing.id).reconciled_at is not None
    fake.reset_calls()
    poller.run_once()
    assert fake.rate_limited_calls == 0


def test_a_stopped_pr_is_no_longer_polled(poller, fake, app):
    poller.run_once()
    failing = Pr.get(Pr.title == "failing")
    Pr.update(tracking="stopped").where(Pr.id == failing.id).execute()
    fake.add_run(REPOS[0], failing.head_sha, name="Again")
    poller.run_once()
    # The repository's listing stored the new run, but its jobs were never asked for.
    again = Workflow.get(Workflow.workflow_name == "Again")
    assert fake.count(path=rf"/runs/{again.run_id}/jobs") == 0
    assert Pr.get_by_id(failing.id).tracking == "stopped"
