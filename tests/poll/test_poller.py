"""The poller's cycles (poll/poller.py): converging, idle cycles free, one lease holder."""

import threading

from prmonitor.github import GitHub
from prmonitor.poll import EtagStore, Poller
from prmonitor.storage import lease
from prmonitor.storage.models import Pr, Workflow

from .world import INSTALLATION, REPOS, assert_converged, make_poller


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
