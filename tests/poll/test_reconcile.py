"""Reading a repository (poll/reconcile.py): lost or late webhooks, faults, limits converge."""

import random
import threading

import pytest

from prmonitor.storage.models import Pr, Workflow

from ..fakes import FakeGitHub, serve_fake
from .world import INSTALLATION, REPOS, assert_converged, build_world, deliver_events, make_poller


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
    # The installation's repositories could not be refreshed, and the first repository failed;
    # the others wait for the reset.
    assert report["errors"] == 2 and "rate limit" in report["problem"]
    assert fake.count(status=403) == 1  # asked once, then not again until the reset
    fake.set_rate_limit(5000)
    poller.github.budgets.buckets.clear()  # as if the reset time had passed
    poller.run_once()
    assert_converged(fake)


def test_a_cold_start_beyond_the_budget_is_spread_over_cycles(poller, fake):
    fake.set_rate_limit(1040, reset_in=3600)  # the reserve is a fifth of 5,000: 40 to spare
    first = poller.run_once()
    assert first["runs_deferred"] > 0 and first["errors"] == 0
    for _ in range(30):
        if poller.run_once()["runs_deferred"] == 0:
            break
    assert_converged(fake)
    remaining = poller.github.budgets.buckets[INSTALLATION].remaining
    assert remaining >= 1000 - 3  # the reserve is kept, give or take one run's calls


def test_listings_over_several_pages_stay_free_when_idle(app):
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


def test_a_long_secondary_limit_is_remembered_across_cycles(poller, fake):
    poller.run_once()
    fake.inject(r"/pulls$", status=403, retry_after=600)
    fake.finish_run(next(r for r, run in fake.runs.items() if run["status"] != "completed"))
    poller.run_once()
    fake.reset_calls()
    poller.run_once()  # still inside the ten minutes: no call on that installation
    assert [c for c in fake.calls if c.auth == "installation"] == []


def test_a_poll_racing_webhooks_moves_nothing_backwards(app, client, poller, fake):
    events = list(fake.events)
    random.Random(11).shuffle(events)
    sender = threading.Thread(target=deliver_events, args=(client, events))
    sender.start()
    poller.run_once()
    sender.join()
    assert_converged(fake)


def test_a_commits_runs_far_apart_in_the_listing_are_all_found(app):
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
