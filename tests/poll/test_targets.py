"""Which repositories a cycle polls (poll/targets.py), as installations come and go."""

from prmonitor.storage.models import Pr

from .world import INSTALLATION, REPOS, assert_converged


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


def test_a_suspended_or_failing_installation_does_not_stop_the_others(poller, fake):
    fake.add_installation(9, login="other-org")
    fake.add_repo("other-org/tools", installation_id=9)
    fake.inject(r"/app/installations/9/access_tokens$", status=403, method="POST", times=50)
    report = poller.run_once()
    assert report["repos"] == len(REPOS)
    # The failing one is the cycle's one error, named for /api/status.
    assert report["errors"] == 1 and report["problem"].startswith("installations not refreshed")
    assert "installation 9" in report["problem"]
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
