"""Building a PR's CI on the fake GitHub and carrying it through prmonitor as the worker would:
deliveries, diagnoses, then the notifier."""

from prmonitor.storage import db
from prmonitor.storage.models import EPOCH, DiagnosisTask, Notification, NotifyOutbox

from ..poll.world import deliver_events, job_ids

REPO = "octo-org/widgets"

PYTEST_LOG = """\
##[group]Run pytest -q
pytest -q
##[endgroup]
=================================== FAILURES ===================================
_______________________________ test_parse _______________________________

    def test_parse():
>       assert parse("") == []
E       AssertionError: assert None == []

tests/test_parser.py:12: AssertionError
=========================== short test summary info ============================
FAILED tests/test_parser.py::test_parse - AssertionError: assert None == []
##[error]Process completed with exit code 1.
"""


def failing_run(fake, pr, names=("build", "test"), failing=("test",), log=PYTEST_LOG):
    """A run of the PR's head whose `failing` jobs fail with `log`; returns the run."""
    run = fake.add_run(REPO, pr["head"]["sha"], jobs=names)
    fake.finish_run(run["id"], {name: "failure" for name in failing})
    for job_id in job_ids(fake, run["id"]):
        if fake.jobs[job_id]["name"] in failing:
            fake.set_log(job_id, log)
    return run


def sync(client, fake, diagnosis):
    """Deliver the events not delivered yet and run every due diagnosis (as at once)."""
    seen = getattr(fake, "_delivered_events", 0)
    deliver_events(client, fake.events[seen:])
    fake._delivered_events = len(fake.events)
    with db.database.connection_context():
        DiagnosisTask.update(due_at=EPOCH).where(DiagnosisTask.state == "due").execute()
        while diagnosis.run_due():
            pass


def drain(notifier, **options):
    """Send every pending notification, as `prmonitor poll --once` does."""
    with db.database.connection_context():
        notifier.drain(**options)


def writes(fake, kind="comments"):
    """(method, path) of every content-creating call the fake answered with a success."""
    marker = "/issues/" if kind == "comments" else "/check-runs"
    return [
        (c.method, c.path)
        for c in fake.calls
        if c.method in ("POST", "PATCH") and marker in c.path and c.status < 400
    ]


def sent(channel=None):
    with db.database.connection_context():
        query = Notification.select().order_by(Notification.id)
        return [n for n in query if channel in (None, n.channel)]


def outbox_rows():
    with db.database.connection_context():
        return list(NotifyOutbox.select())
