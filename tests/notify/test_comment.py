"""The sticky comment against the fake GitHub: created on the first failure, edited in place,
untouched when nothing changed, folded when green; found again by its marker and author."""

import datetime

import pytest

from prmonitor.notify import messages
from prmonitor.storage import db, outbox
from prmonitor.storage.models import NotifyChannel, NotifyOutbox, utcnow

from ..poll.world import deliver_events, job_ids
from .world import REPO, drain, failing_run, sent, sync, writes


def comments(fake, pr):
    return fake.comments_on(REPO, pr["number"])


def test_a_failing_pr_gets_one_comment_with_its_failure(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO)
    failing_run(fake, pr)
    sync(client, fake, diagnosis)
    drain(notifier)

    [comment] = comments(fake, pr)
    body = comment["body"]
    assert body.startswith(messages.MARKER)
    assert comment["user"]["login"] == "prmonitor[bot]"
    assert "## ❌ 1 new failure" in body
    assert "`FAILED tests/test_parser.py::test_parse - AssertionError: assert None == []`" in body
    assert "<details><summary>Log excerpt</summary>" in body
    assert writes(fake) == [("POST", f"/repos/{REPO}/issues/{pr['number']}/comments")]
    assert [(n.channel, n.action) for n in sent("comment")] == [("comment", "created")]

    # Nothing changed: nothing is sent again, not even a GET of the comments.
    before = len(fake.calls)
    with db.database.connection_context():
        outbox.mark_pr(_pr_id())
    drain(notifier)
    assert len(fake.calls) == before


def test_a_pr_that_was_never_red_gets_no_comment(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO)
    run = fake.add_run(REPO, pr["head"]["sha"])
    fake.finish_run(run["id"])
    sync(client, fake, diagnosis)
    drain(notifier)
    assert comments(fake, pr) == []
    assert writes(fake) == []


def test_the_comment_is_edited_in_place_and_folds_when_green(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO)
    run = failing_run(fake, pr)
    sync(client, fake, diagnosis)
    drain(notifier)
    [first] = comments(fake, pr)

    fake.rerun(run["id"])
    fake.finish_run(run["id"])  # the re-run passes
    sync(client, fake, diagnosis)
    drain(notifier)

    [comment] = comments(fake, pr)
    assert comment["id"] == first["id"]
    assert comment["body"].count(messages.MARKER) == 1
    assert "## ✅ All checks green" in comment["body"]
    assert "<details><summary>Earlier failures (1)</summary>" in comment["body"]
    assert "New failures" not in comment["body"]
    path = f"/repos/{REPO}/issues/comments/{first['id']}"
    assert writes(fake) == [
        ("POST", f"/repos/{REPO}/issues/{pr['number']}/comments"),
        ("PATCH", path),
    ]


def test_another_bots_comment_with_the_marker_is_left_alone(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO)
    copied = f"{messages.MARKER}\nI copy other bots' markers"
    theirs = fake.add_comment(REPO, pr["number"], copied, login="copycat[bot]", kind="Bot")
    failing_run(fake, pr)
    sync(client, fake, diagnosis)
    drain(notifier)

    found = {c["id"]: c for c in comments(fake, pr)}
    assert found[theirs["id"]]["body"] == copied
    ours = [c for c in found.values() if c["user"]["login"] == "prmonitor[bot]"]
    assert len(ours) == 1 and "❌ 1 new failure" in ours[0]["body"]


def test_a_lost_record_finds_the_comment_again(client, fake, diagnosis, notifier):
    """A crash between GitHub's answer and the commit, or a restored database: the next send
    finds the comment by its marker and author and edits it; still one comment."""
    pr = fake.open_pr(REPO)
    run = failing_run(fake, pr)
    sync(client, fake, diagnosis)
    drain(notifier)
    with db.database.connection_context():
        NotifyChannel.delete().execute()  # what the crash lost

    fake.rerun(run["id"])
    fake.finish_run(run["id"], {"test": "failure", "build": "failure"})
    for job_id in job_ids(fake, run["id"]):
        fake.set_log(job_id, fake.job_logs.get(job_id) or "")
    sync(client, fake, diagnosis)
    drain(notifier)

    [comment] = comments(fake, pr)
    # build passed on the first attempt: its failure now is flaky.
    assert "## ❌ 1 new failure, 1 flaky" in comment["body"]
    assert [m for m, _ in writes(fake)] == ["POST", "PATCH"]


def test_a_crash_after_the_post_does_not_post_twice(client, fake, diagnosis, notifier, monkeypatch):
    pr = fake.open_pr(REPO)
    failing_run(fake, pr)
    sync(client, fake, diagnosis)

    def crash(*args, **kwargs):
        raise SystemExit("the worker died before its commit")

    monkeypatch.setattr(outbox, "save", crash)
    with pytest.raises(SystemExit):
        drain(notifier)
    monkeypatch.undo()
    assert len(comments(fake, pr)) == 1
    with db.database.connection_context():
        # The dead worker's claim expires.
        NotifyOutbox.update(claimed_until=utcnow() - datetime.timedelta(seconds=1)).execute()
    drain(notifier)

    assert len(comments(fake, pr)) == 1
    assert [m for m, _ in writes(fake)] == ["POST"]  # found by marker, unchanged: no edit
    assert [n.action for n in sent("comment")] == ["unchanged"]


def test_a_deleted_comment_is_written_again(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO)
    run = failing_run(fake, pr)
    sync(client, fake, diagnosis)
    drain(notifier)
    [first] = comments(fake, pr)
    del fake.comments[first["id"]]

    fake.rerun(run["id"])
    fake.finish_run(run["id"])
    sync(client, fake, diagnosis)
    drain(notifier)
    [second] = comments(fake, pr)
    assert second["id"] != first["id"] and "All checks green" in second["body"]


def _pr_id():
    from prmonitor.storage.models import Pr

    return Pr.select().first().id


def test_hostile_job_names_and_log_lines_reach_github_escaped(client, fake, diagnosis, notifier):
    from .test_messages import HOSTILE_LINE, _outside_code

    name = "<script>alert(1)</script> @org/team ``"
    pr = fake.open_pr(REPO)
    failing_run(fake, pr, names=(name,), failing=(name,), log=f"##[error]{HOSTILE_LINE}\n")
    sync(client, fake, diagnosis)
    drain(notifier)
    [comment] = comments(fake, pr)
    outside = _outside_code(comment["body"])
    assert "<script>" not in outside and "<img" not in outside
    assert "@org/team" not in outside and "@octocat" not in outside
    assert "\\<script\\>alert\\(1\\)\\</script\\> @\u200borg/team" in comment["body"]


def test_a_run_still_queued_keeps_the_pr_from_green(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO)
    run = failing_run(fake, pr)
    sync(client, fake, diagnosis)
    drain(notifier)
    fake.rerun(run["id"])
    fake.finish_run(run["id"])  # the re-run passes...
    fake.add_run(REPO, pr["head"]["sha"], name="Deploy preview", jobs=("deploy",))
    # ...while another run is requested, none of its jobs delivered yet.
    events = fake.events[fake._delivered_events :]
    fake._delivered_events = len(fake.events)
    deliver_events(
        client, [e for e in events if e.name != "workflow_job" or "deploy" not in str(e.payload)]
    )
    drain(notifier)
    [comment] = comments(fake, pr)
    assert "All checks green" not in comment["body"]
    assert "## ⏳ 1 job running" in comment["body"]
