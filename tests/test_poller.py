"""Reconciliation against the loopback fake of GitHub: whatever webhooks were lost, late or out of
order, one or two cycles make the database equal GitHub's truth, and an idle cycle costs nothing
of the rate limit."""

import json
import random
import threading

import pytest

from prmonitor.github import GitHub
from prmonitor.poll import EtagStore, Poller
from prmonitor.storage import lease
from prmonitor.storage.models import Pr, Workflow, WorkflowJob

from .conftest import signed_post
from .fakes import FakeGitHub, app_client, serve_fake

INSTALLATION = 7
REPOS = ("octo-org/widgets", "octo-org/gadgets", "octo-org/gizmos")


def build_world(fake):
    """Three installed repositories: PRs passing, failing, running, re-run, from a fork, and one
    merged; a push to main with no PR."""
    fake.add_installation(INSTALLATION)
    for name in REPOS:
        fake.add_repo(name, installation_id=INSTALLATION)
    widgets, gadgets, gizmos = REPOS
    passing = fake.open_pr(widgets, title="passing")
    fake.finish_run(fake.add_run(widgets, passing["head"]["sha"])["id"])
    failing = fake.open_pr(widgets, title="failing")
    run = fake.add_run(widgets, failing["head"]["sha"], jobs=("build", "test", "lint"))
    fake.finish_run(run["id"], {"test": "failure"})
    running = fake.open_pr(gadgets, title="running")
    run = fake.add_run(gadgets, running["head"]["sha"])
    fake.start_job(_job_ids(fake, run["id"])[0])
    rerun = fake.open_pr(gadgets, title="re-run")
    run = fake.add_run(gadgets, rerun["head"]["sha"])
    fake.finish_run(run["id"], {"build": "failure"})
    fake.rerun(run["id"])
    fake.finish_run(run["id"])
    fork = fake.open_pr(gizmos, title="from a fork", fork=True)
    fake.finish_run(fake.add_run(gizmos, fork["head"]["sha"])["id"], {"test": "failure"})
    ready = fake.open_pr(gizmos, title="ready")
    fake.finish_run(fake.add_run(gizmos, ready["head"]["sha"])["id"])
    fake.finish_run(fake.add_run(gizmos, "f" * 40, name="Deploy", event="push")["id"])


def _job_ids(fake, run_id):
    return sorted(job_id for job_id, job in fake.jobs.items() if job["run_id"] == run_id)


@pytest.fixture
def fake():
    fake = FakeGitHub()
    build_world(fake)
    return fake


@pytest.fixture
def github_url(fake):
    with serve_fake(fake) as url:
        yield url


def make_poller(fake, github_url, **options):
    github = app_client(fake, github_url, sleep=lambda seconds: None)
    return Poller(github, interval=1, lease_ttl=options.pop("lease_ttl", 30), **options)


@pytest.fixture
def poller(app, fake, github_url):
    poller = make_poller(fake, github_url)
    yield poller
    poller.github.close()


def stored_rows():
    runs = {
        (w.run_id, w.run_attempt, w.status, w.conclusion, w.head_sha)
        for w in Workflow.select()
        if w.status_rank >= 0
    }
    jobs = {
        (
            j.job_id,
            j.run_id,
            j.run_attempt,
            j.status,
            j.conclusion,
            tuple(json.loads(j.failed_steps)),
        )
        for j in WorkflowJob.select()
    }
    return runs, jobs


def assert_converged(fake):
    """Every run is stored as GitHub has it, and every job of a PR's runs (a push to main has
    no PR: its jobs are not polled)."""
    want_runs, want_jobs = fake.expected_rows()
    pushes = {run_id for run_id, run in fake.runs.items() if run["event"] == "push"}
    want_jobs = {job for job in want_jobs if job[1] not in pushes}
    runs, jobs = stored_rows()
    jobs = {job for job in jobs if job[1] not in pushes}
    assert runs == want_runs
    assert jobs == want_jobs
    # No placeholder is left, and every run of a PR's head is that PR's.
    assert not Workflow.select().where(Workflow.status_rank < 0).exists()
    for pr in Pr.select():
        linked = Workflow.select().where(Workflow.pr == pr.id)
        assert {w.head_sha for w in linked} <= {h.head_sha for h in pr.heads}
    unlinked = Workflow.select().where(Workflow.pr.is_null())
    assert {w.workflow_name for w in unlinked} <= {"Deploy"}  # pushes have no PR


def deliver_events(client, events):
    for event in events:
        response = signed_post(client, event.name, event.payload, delivery_id=event.guid)
        assert response.status_code in (200, 202), response.get_json()


def test_poll_only_converges_in_one_cycle(poller, fake):
    report = poller.run_once()
    assert report["errors"] == 0 and report["repos"] == len(REPOS)
    assert_converged(fake)
    states = {pr.title: (pr.state, pr.tracking) for pr in Pr.select()}
    assert len(states) == 6 and set(states.values()) == {("open", "auto")}


def test_an_idle_cycle_costs_no_rate_limited_call(poller, fake):
    poller.run_once()
    fake.reset_calls()
    report = poller.run_once()
    assert fake.rate_limited_calls == 0
    assert report["counted"] == 0 and report["not_modified"] == report["calls"] > 0
    assert {(c.status, c.auth) for c in fake.calls} == {(304, "installation"), (304, "jwt")}
    assert_converged(fake)


def test_an_idle_cycle_is_free_with_several_installations(poller, fake):
    """Each installation lists its own repositories at the same URL: one installation's
    answer must not replace another's, or each asks in full every cycle."""
    fake.add_installation(9, login="other-org")
    fake.add_repo("other-org/tools", installation_id=9)
    fake.finish_run(
        fake.add_run("other-org/tools", fake.open_pr("other-org/tools")["head"]["sha"])["id"]
    )
    poller.run_once()
    fake.reset_calls()
    report = poller.run_once()
    assert report["counted"] == 0 and report["not_modified"] == report["calls"] > 0
    assert fake.count(path=r"/installation/repositories$", status=304) == 2


def test_a_new_installation_token_costs_one_full_read_then_nothing(poller, fake):
    poller.run_once()
    poller.github.forget_token(INSTALLATION)  # as after the hourly renewal
    fake.reset_calls()
    renewed = poller.run_once()
    # GitHub's ETags are specific to the token: each listing is read in full once more...
    assert renewed["counted"] == renewed["calls"] - renewed["not_modified"] - 1  # the mint
    # pulls and runs of each repository, the installation's repositories, the running run's jobs
    assert renewed["counted"] == 2 * len(REPOS) + 1 + 1
    assert_converged(fake)
    fake.reset_calls()
    poller.run_once()
    assert fake.rate_limited_calls == 0  # ...and then answered 304 again


def test_a_restarted_poller_in_token_mode_still_asks_conditionally(app, fake, github_url):
    fake.add_personal_token("ghp_laptop")
    first = Poller(_token_client(github_url), interval=1, lease_ttl=30)
    _track_by_hand(fake)
    first.run_once()
    first.release()
    first.github.close()
    fake.reset_calls()
    restarted = Poller(_token_client(github_url), interval=1, lease_ttl=30)
    restarted.run_once()
    restarted.github.close()
    # Its ETags came from the database, and the token is the same: nothing is counted.
    assert fake.rate_limited_calls == 0 and fake.count(status=304) > 0
    # The runs' pull_requests did not start tracking the repository's other PRs.
    assert [pr.tracking for pr in Pr.select()] == ["manual"]


def _token_client(github_url):
    return GitHub(github_url, token="ghp_laptop", etags=EtagStore(), backoff=0.01)


def _track_by_hand(fake):
    """A PR started by hand in one repository, as `prmonitor start` leaves it."""
    widgets = fake.repos[REPOS[0]]
    pr = next(pr for (name, _), pr in fake.prs.items() if name == REPOS[0])
    Pr.create(
        pr_number=pr["number"],
        repo_full_name=REPOS[0],
        repo_id=widgets["id"],
        tracking="manual",
        state="open",
        head_sha=pr["head"]["sha"],
    )


def test_a_random_half_of_the_webhooks_dropped(client, poller, fake):
    events = list(fake.events)
    random.Random(4).shuffle(events)
    deliver_events(client, events[: len(events) // 2])
    poller.run_once()
    assert_converged(fake)


def test_late_out_of_order_webhooks_after_a_poll_change_nothing(client, poller, fake):
    poller.run_once()
    events = list(fake.events)
    random.Random(9).shuffle(events)
    deliver_events(client, events)
    assert_converged(fake)


def test_changes_after_a_poll_converge_in_the_next_cycle(client, poller, fake):
    poller.run_once()
    gadgets = REPOS[1]
    running = next(pr for pr in Pr.select() if pr.title == "running")
    run_id = next(r for r, run in fake.runs.items() if run["head_sha"] == running.head_sha)
    fake.finish_run(run_id, {"test": "failure"})
    fake.rerun(run_id)
    pushed = fake.push(gadgets, running.pr_number)
    fake.add_run(gadgets, pushed)
    fake.reset_calls()
    poller.run_once()
    assert_converged(fake)
    assert Pr.get_by_id(running.id).head_sha == pushed
    # The changed listings and the changed run's jobs, nothing per unchanged run.
    assert fake.rate_limited_calls <= 6


def test_a_pr_merged_while_webhooks_were_lost(poller, fake):
    poller.run_once()
    ready = Pr.get(Pr.title == "ready")
    fake.close_pr(REPOS[2], ready.pr_number, merged=True)
    poller.run_once()
    assert Pr.get_by_id(ready.id).state == "merged"
    assert_converged(fake)


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


@pytest.mark.parametrize(
    "fault",
    [
        {"path": r"/actions/runs$", "status": 502, "times": 2},
        {"path": r"/pulls$", "status": None, "delay": 3, "times": 1},
        {"path": r"/jobs$", "status": 403, "retry_after": 1, "times": 2},
        {"path": r"/actions/runs$", "status": 503, "times": 12},
    ],
    ids=["502-burst", "timeout", "secondary-limit", "long-outage"],
)
def test_faults_mid_cycle_lose_nothing(poller, fake, fault):
    fault = dict(fault)  # the same dict serves every backend
    fake.inject(fault.pop("path"), **fault)
    poller.run_once()  # completes, perhaps with a repository left for the next cycle
    poller.run_once()
    assert_converged(fake)


def test_an_expired_token_mid_cycle(poller, fake):
    poller.run_once()
    fake.expire_tokens()
    fake.finish_run(next(r for r, run in fake.runs.items() if run["status"] != "completed"))
    report = poller.run_once()
    assert report["errors"] == 0
    assert_converged(fake)


def test_a_spent_rate_limit_defers_the_installation(poller, fake):
    poller.run_once()
    fake.finish_run(next(r for r, run in fake.runs.items() if run["status"] != "completed"))
    fake.set_rate_limit(0, reset_in=900)
    report = poller.run_once()
    assert report["errors"] == 1  # the first repository; the others wait for the reset too
    assert fake.count(status=403) == 1  # asked once, then not again until the reset
    fake.set_rate_limit(5000)
    poller.github._budgets.clear()  # as if the reset time had passed
    poller.run_once()
    assert_converged(fake)


def test_two_pollers_one_lease(app, fake, github_url):
    first = make_poller(fake, github_url, lease_ttl=30)
    second = make_poller(fake, github_url, lease_ttl=30)
    assert first.run_once() is not None
    assert second.run_once() is None  # the lease is held
    assert first.run_once() is not None  # the holder renews it
    lease.release(lease.POLLER, first.holder)
    assert second.run_once() is not None  # given back: taken at once
    for poller in (first, second):
        poller.github.close()


def test_a_crashed_holders_lease_expires(app, fake, github_url):
    crashed = make_poller(fake, github_url, lease_ttl=1)
    assert crashed.run_once() is not None  # then it dies without giving the lease back
    other = make_poller(fake, github_url, lease_ttl=30)
    assert other.run_once() is None
    Workflow._meta.database.execute_sql(
        "UPDATE leases SET expires_at = '2000-01-01 00:00:00'"
    )  # as if its ttl had passed
    assert other.run_once() is not None
    assert lease.describe(lease.POLLER)["holder"] == other.holder
    for poller in (crashed, other):
        poller.github.close()


def test_a_cold_start_beyond_the_budget_is_spread_over_cycles(poller, fake):
    fake.set_rate_limit(1040, reset_in=3600)  # the reserve is a fifth of 5,000: 40 to spare
    first = poller.run_once()
    assert first["runs_deferred"] > 0 and first["errors"] == 0
    for _ in range(30):
        if poller.run_once()["runs_deferred"] == 0:
            break
    assert_converged(fake)
    remaining = poller.github._budgets[INSTALLATION].remaining
    assert remaining >= 1000 - 3  # the reserve is kept, give or take one run's calls


def test_listings_over_several_pages_stay_free_when_idle(app, github_url):
    fake = FakeGitHub(page_limit=2)  # GitHub's pages hold 100; these hold 2
    with serve_fake(fake) as url:
        build_world(fake)
        for _ in range(3):
            pr = fake.open_pr(REPOS[0])
            fake.finish_run(fake.add_run(REPOS[0], pr["head"]["sha"])["id"])
        poller = make_poller(fake, url)
        poller.run_once()
        assert_converged(fake)  # heads past the first page of runs were asked about
        fake.reset_calls()
        poller.run_once()
        poller.github.close()
    assert fake.rate_limited_calls == 0
    assert fake.count(path=r"/pulls/\d+$") == 0  # no open PR taken for closed


def test_a_run_deleted_on_github_does_not_block_its_repository(client, poller, fake):
    queued = next(e for e in fake.events if e.name == "workflow_run")
    deliver_events(client, [queued])  # stored, not final; then someone deletes it
    run_id = queued.payload["workflow_run"]["id"]
    for job_id in fake.runs.pop(run_id)["job_ids"]:
        fake.jobs.pop(job_id)
    report = poller.run_once()
    assert report["errors"] == 0
    fake.reset_calls()
    poller.run_once()
    assert fake.count(path=rf"/runs/{run_id}") == 0  # not asked about again


def test_a_suspended_or_failing_installation_does_not_stop_the_others(poller, fake):
    fake.add_installation(9, login="other-org")
    fake.add_repo("other-org/tools", installation_id=9)
    fake.inject(r"/app/installations/9/access_tokens$", status=403, method="POST", times=50)
    report = poller.run_once()
    assert report["repos"] == len(REPOS) and report["errors"] == 0
    assert_converged(fake)


def test_a_suspended_installation_costs_nothing_until_it_is_resumed(poller, fake):
    """GitHub refuses a suspended installation a token: its repositories are not polled (one
    failing token request each, every cycle), even if its `suspend` event was lost."""
    poller.run_once()
    fake.installations[INSTALLATION]["suspended_at"] = "2026-11-21T00:00:00Z"
    fake.installations[INSTALLATION]["updated_at"] = "2026-11-21T00:00:00Z"
    poller.github.forget_token(INSTALLATION)
    fake.inject(r"/access_tokens$", status=403, method="POST", times=1000)
    poller.run_once()
    fake.reset_calls()
    report = poller.run_once()
    assert (report["repos"], report["errors"]) == (0, 0)
    assert [c for c in fake.calls if c.auth != "jwt"] == []
    assert fake.count(path=r"/access_tokens$") == 0
    fake.clear_faults()
    fake.installations[INSTALLATION]["suspended_at"] = None
    fake.finish_run(next(r for r, run in fake.runs.items() if run["status"] != "completed"))
    report = poller.run_once()
    assert (report["repos"], report["errors"]) == (len(REPOS), 0)
    assert_converged(fake)


def test_an_installation_gone_and_back_while_its_events_were_lost(poller, fake):
    """GitHub's listing of installations tells both: its repositories stop being polled, and
    are polled again when it is back, although its repository listing did not change."""
    poller.run_once()
    installation = fake.installations.pop(INSTALLATION)
    assert poller.run_once()["repos"] == 0
    fake.installations[INSTALLATION] = installation
    assert poller.run_once()["repos"] == len(REPOS)
    assert_converged(fake)


def test_a_long_secondary_limit_is_remembered_across_cycles(poller, fake):
    poller.run_once()
    fake.inject(r"/pulls$", status=403, retry_after=600)
    fake.finish_run(next(r for r, run in fake.runs.items() if run["status"] != "completed"))
    poller.run_once()
    fake.reset_calls()
    poller.run_once()  # still inside the ten minutes: no call on that installation
    assert [c for c in fake.calls if c.auth == "installation"] == []


def test_a_poller_that_loses_its_lease_mid_cycle_stops(app, fake, github_url):
    slow = make_poller(fake, github_url, lease_ttl=3)
    other = make_poller(fake, github_url, lease_ttl=30)
    fake.inject(r"/jobs$", status=None, delay=0.4, times=20)
    taken = threading.Timer(0.3, lambda: _take_over(other))
    taken.start()
    report = slow.run_once()
    taken.join()
    assert report["lease_lost"] == 1 and "redelivered" not in report
    assert lease.describe(lease.POLLER)["holder"] == other.holder
    for poller in (slow, other):
        poller.github.close()


def test_the_lease_is_kept_while_asking_for_redeliveries(app, fake, github_url):
    """Redelivery requests can be slow: the lease is renewed between them, so that a second
    poller does not start a cycle and ask GitHub for the same deliveries again."""
    for _ in range(3):
        fake.add_delivery("workflow_job", "completed", 502)
    slow = make_poller(fake, github_url, lease_ttl=3)
    other = make_poller(fake, github_url, lease_ttl=3)
    fake.inject(r"/attempts$", status=None, delay=1.5, times=3, method="POST")
    results = {}

    def second():
        with Workflow._meta.database.connection_context():
            results["other"] = other.run_once()

    later = threading.Timer(4.0, second)
    later.start()
    report = slow.run_once()
    later.join()
    assert (report["redelivered"], results["other"]) == (3, None)
    assert len(fake.redelivered) == len(set(fake.redelivered)) == 3
    for poller in (slow, other):
        poller.github.close()


def _take_over(poller):
    with Workflow._meta.database.connection_context():
        Workflow._meta.database.execute_sql("UPDATE leases SET expires_at = '2000-01-01 00:00:00'")
        assert lease.acquire(lease.POLLER, poller.holder, poller.lease_ttl)


def test_a_repository_gone_from_github_stops_costing_calls(poller, fake):
    lost = Pr.create(
        pr_number=5,
        repo_full_name="someone/else",
        repo_id=99,
        installation_id=INSTALLATION,
        tracking="manual",
        state="open",
        head_sha="a" * 40,
    )
    assert poller.run_once()["errors"] == 1
    assert Pr.get_by_id(lost.id).tracking == "stopped"
    fake.reset_calls()
    assert poller.run_once()["errors"] == 0
    assert fake.count(path=r"/repos/someone/") == 0


def test_an_installed_repository_answered_404_once_comes_back(poller, fake):
    """A 404 can pass: the installation's listing, read in full again, says whether the
    repository is still installed (an unchanged listing answers 304 and would say nothing)."""
    poller.run_once()
    widgets = REPOS[0]
    fake.inject(rf"/repos/{widgets}/pulls$", status=404)
    assert poller.run_once()["errors"] == 1
    run = fake.add_run(widgets, fake.open_pr(widgets, title="later")["head"]["sha"])
    fake.finish_run(run["id"])
    report = poller.run_once()
    assert (report["repos"], report["errors"]) == (len(REPOS), 0)
    assert_converged(fake)
    fake.reset_calls()
    assert poller.run_once()["counted"] == 0  # and then idle cycles are free again


def test_an_installed_repository_that_keeps_answering_404_stops_costing_calls(poller, fake):
    poller.run_once()
    fake.inject(rf"/repos/{REPOS[0]}/pulls$", status=404, times=1000)
    poller.run_once()  # the 404
    poller.run_once()  # the listing read in full still shows it: a second look, a second 404
    fake.reset_calls()
    report = poller.run_once()
    assert (report["repos"], report["counted"]) == (len(REPOS) - 1, 0)


def test_a_repository_removed_from_the_installation_is_no_longer_polled(poller, fake):
    """Its installation_repositories event was lost: the installation's listing tells."""
    poller.run_once()
    fake.remove_repo_from_installation(REPOS[0])
    poller.run_once()
    fake.reset_calls()
    report = poller.run_once()
    assert (report["repos"], report["errors"]) == (len(REPOS) - 1, 0)
    assert fake.count(path=rf"/repos/{REPOS[0]}/") == 0


def test_a_poll_racing_webhooks_moves_nothing_backwards(app, client, poller, fake):
    events = list(fake.events)
    random.Random(11).shuffle(events)
    sender = threading.Thread(target=deliver_events, args=(client, events))
    sender.start()
    poller.run_once()
    sender.join()
    assert_converged(fake)


def test_a_commits_runs_far_apart_in_the_listing_are_all_found(app, github_url):
    fake = FakeGitHub(page_limit=2)
    with serve_fake(fake) as url:
        fake.add_installation(INSTALLATION)
        fake.add_repo(REPOS[0], installation_id=INSTALLATION)
        labeled = fake.open_pr(REPOS[0], title="labeled later")
        early = fake.add_run(REPOS[0], labeled["head"]["sha"], name="CI")
        fake.finish_run(early["id"], {"test": "failure"})
        for _ in range(3):
            other = fake.open_pr(REPOS[0])
            fake.finish_run(fake.add_run(REPOS[0], other["head"]["sha"])["id"])
        # A workflow that runs when a label is added, long after the push's own runs.
        fake.finish_run(fake.add_run(REPOS[0], labeled["head"]["sha"], name="Labels")["id"])
        poller = make_poller(fake, url)
        poller.run_once()
        poller.github.close()
    assert_converged(fake)
    assert Workflow.get(Workflow.run_id == early["id"]).conclusion == "failure"
