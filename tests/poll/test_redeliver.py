"""Missed-delivery recovery against the loopback fake: only deliveries that never succeeded,
failed on the wire, and that we never processed are asked again, once each, at a bounded rate."""

import datetime

import pytest

from prmonitor.poll import Recovery
from prmonitor.storage.models import Pr, Redelivery

from ..fakes import installed
from ..helpers import signed_post

REPO = "octo-org/widgets"
# Recovery remembers what it asked for in the database.
pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def fake():
    """One installed repository (not the poll tests' world): the deliveries are the subject."""
    return installed((REPO,))


def test_failed_deliveries_are_redelivered_once(client, fake, github):
    opened = fake.open_pr(REPO, title="lost")
    lost = fake.events[-1]
    fake.add_delivery("pull_request", "opened", 502, guid=lost.guid)
    fake.add_delivery("pull_request", "opened", 0, guid=lost.guid)  # timed out, the same GUID
    recovered = fake.add_delivery("pull_request", "opened", 503)
    fake.add_delivery("pull_request", "synchronize", 200, guid=recovered["guid"])
    refused = fake.add_delivery("pull_request", "edited", 400)  # it would fail again
    processed = fake.add_delivery("workflow_run", "completed", 504)  # our answer came late
    signed_post(client, "ping", {"zen": "late"}, delivery_id=processed["guid"])
    fake.on_redeliver = lambda guid, event, payload: signed_post(
        client, event, payload, delivery_id=guid
    )

    assert Recovery(github).run() == 1
    assert Recovery(github).run() == 0  # asked once, never again
    newest_attempt = max(
        d["id"] for d in fake.deliveries if d["guid"] == lost.guid and d["status_code"] != 200
    )
    assert fake.redelivered == [newest_attempt]
    assert [r.guid for r in Redelivery.select()] == [lost.guid]
    # The redelivered event went through the receiver.
    assert Pr.get(Pr.pr_number == opened["number"]).title == "lost"
    assert refused["guid"] not in {r.guid for r in Redelivery.select()}


def test_redeliveries_per_cycle_are_bounded(fake, github):
    for _ in range(5):
        fake.add_delivery("workflow_job", "queued", 502)
    recovery = Recovery(github, per_cycle=2)
    assert [recovery.run(), recovery.run(), recovery.run(), recovery.run()] == [2, 2, 1, 0]
    assert len(set(fake.redelivered)) == 5


def test_deliveries_are_read_across_pages_and_an_idle_look_is_a_304(fake, github):
    for _ in range(120):
        fake.add_delivery("workflow_job", "queued", 200)
    fake.add_delivery("workflow_job", "queued", 502)
    recovery = Recovery(github)
    assert recovery.run() == 1
    assert recovery.run() == 0  # the redelivery itself is a new entry
    fake.reset_calls()
    assert recovery.run() == 0
    assert fake.count(path=r"/app/hook/deliveries$") == 1
    assert fake.count(path=r"/app/hook/deliveries$", status=304) == 1


def test_a_refused_redelivery_does_not_block_the_others(fake, github):
    refused = fake.add_delivery("workflow_job", "queued", 502)
    fake.add_delivery("workflow_job", "completed", 502)
    fake.inject(rf"/deliveries/{refused['id']}/attempts$", status=422, method="POST")
    recovery = Recovery(github)
    assert recovery.run() == 1
    assert recovery.run() == 0  # the refused one is not asked again
    assert len(fake.redelivered) == 1 and refused["id"] not in fake.redelivered


def test_a_request_held_back_is_asked_again_even_after_newer_deliveries(fake, github):
    """An outage or the rate limit holds a request back: the next cycle must look far enough
    back to find that delivery again, however many hours newer deliveries there are."""
    lost = fake.add_delivery("workflow_job", "completed", 502)
    fake.advance_clock(datetime.timedelta(hours=3))
    fake.add_delivery("ping", None, 200)
    fake.inject(rf"/deliveries/{lost['id']}/attempts$", status=503, times=10, method="POST")
    recovery = Recovery(github)
    assert recovery.run() == 0
    assert fake.redelivered == []
    fake.clear_faults()
    assert recovery.run() == 1
    assert fake.redelivered == [lost["id"]]


def test_a_request_held_back_is_found_again_behind_an_unchanged_first_page(fake, github):
    """After a look that left a request over, an unchanged first page (a 304) must not end the
    next look: the delivery may be on a later page."""
    recovery = Recovery(github)
    fake.add_delivery("ping", None, 200)
    assert recovery.run() == 0  # a complete look
    lost = fake.add_delivery("workflow_job", "completed", 502)
    for _ in range(120):  # a busy minute: the lost delivery is on the second page
        fake.add_delivery("workflow_job", "queued", 200)
    fake.inject(rf"/deliveries/{lost['id']}/attempts$", status=503, times=10, method="POST")
    assert recovery.run() == 0
    fake.clear_faults()
    assert recovery.run() == 1
    assert fake.redelivered == [lost["id"]]


def test_a_cycle_stops_asking_once_github_holds_a_request_back(fake, github):
    """An outage or the rate limit: the other requests would meet it too."""
    first = fake.add_delivery("workflow_job", "completed", 502)
    fake.add_delivery("workflow_job", "queued", 502)
    fake.inject(r"/attempts$", status=503, times=100, method="POST")
    assert Recovery(github).run() == 0
    asked = {c.path for c in fake.calls if c.method == "POST" and "attempts" in c.path}
    assert asked == {f"/app/hook/deliveries/{first['id']}/attempts"}
