"""What the API says of notifications: GET /api/prs/<n>/notifications lists what was sent and
what is pending; /api/status shows the outbox's depth and its oldest pending row."""

from ..poll.world import deliver_events
from .world import REPO, drain, failing_run, sync


def test_the_api_lists_what_was_sent(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO)
    failing_run(fake, pr)
    deliver_events(client, fake.events)
    fake._delivered_events = len(fake.events)

    status = client.get("/api/status").json["notifications"]
    assert status["pending"] == 1 and status["oldest_pending_since"].endswith("Z")
    listed = client.get(f"/api/prs/{pr['number']}/notifications").json
    assert listed["notifications"] == [] and listed["pending"]["since"]

    sync(client, fake, diagnosis)
    drain(notifier)
    listed = client.get(f"/api/repos/{REPO}/prs/{pr['number']}/notifications").json
    assert listed["success"] is True and listed["pending"] is None
    by_channel = {n["channel"]: n for n in listed["notifications"]}
    assert set(by_channel) == {"comment", "check", "log"}
    comment = by_channel["comment"]
    assert comment["action"] == "created" and comment["headline"] == "❌ 1 new failure"
    assert comment["remote_id"] == fake.comments_on(REPO, pr["number"])[0]["id"]
    assert len(comment["body_hash"]) == 64 and comment["head_sha"] == pr["head"]["sha"]
    assert client.get("/api/status").json["notifications"] == {
        "pending": 0,
        "oldest_pending_since": None,
    }
    assert client.get("/api/prs/999/notifications").status_code == 404
