"""The Slack channel against a loopback receiver: one Block Kit message per batch of new
failures (not per edit), one follow-up when the PR turns green, a 5xx tried again."""

import json
import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from prmonitor.notify.channels import Slack
from prmonitor.notify.sender import Notifier
from prmonitor.storage import db
from prmonitor.storage.models import EPOCH, NotifyOutbox

from .world import REPO, drain, failing_run, outbox_rows, sync


class SlackHook:
    """An incoming webhook: records each JSON body; answers `statuses` first, then 200 ok."""

    def __init__(self):
        self.received, self.statuses = [], []

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.received.append(json.loads(request.get_data()))
        status = self.statuses.pop(0) if self.statuses else 200
        return Response("ok" if status == 200 else "error", status=status)(environ, start_response)


@pytest.fixture
def hook():
    hook = SlackHook()
    server = make_server("127.0.0.1", 0, hook, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.port}/services/T000/B000/XXXX"
    yield hook
    server.shutdown()
    thread.join()


def test_slack_gets_new_failures_once_and_the_green_follow_up(client, fake, diagnosis, hook):
    notifier = Notifier([Slack(hook.url)], holder="slack")
    pr = fake.open_pr(REPO, title="Parse <!channel> input")
    run = failing_run(fake, pr, names=("build", "test", "lint"), failing=("test", "lint"))
    sync(client, fake, diagnosis)
    drain(notifier)
    [message] = hook.received
    assert message["text"] == f"{REPO}#{pr['number']}: ❌ 2 new failures"
    blocks = [b["text"]["text"] for b in message["blocks"]]
    assert f"<https://github.com/{REPO}/pull/{pr['number']}|{REPO}#{pr['number']}>" in blocks[0]
    assert "&lt;!channel&gt;" in blocks[0] and "<!channel>" not in json.dumps(message)
    assert any("*<" in b and "|test>*" in b and "AssertionError" in b for b in blocks[1:])
    assert len(blocks) == 3

    # A change that is no new failure (a reclassification, a duplicate) sends nothing.
    with db.database.connection_context():
        NotifyOutbox.update(pending_since=EPOCH, changed_at=EPOCH).execute()
    drain(notifier)
    assert len(hook.received) == 1

    fake.rerun(run["id"])
    fake.finish_run(run["id"])
    sync(client, fake, diagnosis)
    drain(notifier)
    assert len(hook.received) == 2
    assert "All checks green" in hook.received[1]["blocks"][0]["text"]["text"]


def test_a_slack_5xx_is_retried(client, fake, diagnosis, hook):
    hook.statuses = [503]
    notifier = Notifier([Slack(hook.url)], holder="slack")
    pr = fake.open_pr(REPO)
    failing_run(fake, pr)
    sync(client, fake, diagnosis)
    drain(notifier)
    [row] = outbox_rows()
    assert row.pending_since is not None and "503" in row.error
    with db.database.connection_context():
        NotifyOutbox.update(due_at=EPOCH).execute()
    drain(notifier)
    assert len(hook.received) == 2 and hook.received[0] == hook.received[1]
    assert [r.pending_since for r in outbox_rows()] == [None]


def test_a_failure_announced_before_its_diagnosis_is_not_announced_again(
    client, fake, diagnosis, hook
):
    from ..poll.world import deliver_events

    notifier = Notifier([Slack(hook.url)], holder="slack")
    pr = fake.open_pr(REPO)
    failing_run(fake, pr)
    deliver_events(client, fake.events)  # `poll --once` sends before the log was read
    fake._delivered_events = len(fake.events)
    drain(notifier)
    assert len(hook.received) == 1 and "Run tests" in json.dumps(hook.received[0])
    sync(client, fake, diagnosis)  # diagnosed: its line changes, it is the same failure
    drain(notifier)
    assert len(hook.received) == 1
