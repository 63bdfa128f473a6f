"""A PR whose test job fails in a way its diff explains, carried through prmonitor as the
worker would: deliveries, diagnosis, analysis, notification."""

from prmonitor.storage import db
from prmonitor.storage.models import EPOCH, Analysis

from ..notify.world import REPO, drain, failing_run, sync  # noqa: F401 - re-exported

PARSER_LOG = """\
##[group]Run pytest -q
pytest -q
##[endgroup]
=================================== FAILURES ===================================
_______________________________ test_empty _______________________________

    def test_empty():
>       assert parse("") == []
E       AssertionError: assert None == []

tests/test_parser.py:12: AssertionError
src/parser.py:4: in parse
=========================== short test summary info ============================
FAILED tests/test_parser.py::test_empty - AssertionError: assert None == []
##[error]Process completed with exit code 1.
"""

PARSER_PATCH = """@@ -1,5 +1,5 @@
 def parse(text):
-    if not text:
-        return []
+    if not text:
+        return None
     return text.split(",")
"""


def failing_pr(fake, names=("build", "test"), failing=("test",), log=PARSER_LOG, **options):
    """A PR changing src/parser.py whose `failing` jobs fail with `log`; returns (pr, run)."""
    pr = fake.open_pr(REPO, title="Parse empty input", body="Empty input is now None.", **options)
    fake.set_files(
        REPO,
        pr["number"],
        [
            {"filename": "src/parser.py", "patch": PARSER_PATCH},
            {"filename": "package-lock.json", "patch": "+ lots\n" * 50},
            {"filename": "docs/usage.md", "patch": "+Empty input gives None.\n"},
        ],
    )
    return pr, failing_run(fake, pr, names=names, failing=failing, log=log)


def analyse(queue):
    """Every due analysis, as if its retry delay had passed."""
    with db.database.connection_context():
        Analysis.update(due_at=EPOCH).where(Analysis.state == "due").execute()
    queue.drain()


def rows():
    with db.database.connection_context():
        return list(Analysis.select().order_by(Analysis.id))
