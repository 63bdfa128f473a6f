"""FakeGitHub: what GitHub knows (world, pulls, runs, jobs) and how it answers (answers, auth,
limits, faults, the routes), composed into one WSGI app."""

from .answers import Answers
from .app_routes import AppRoutes
from .auth import Credentials, new_private_key, public_key
from .faults import Faults
from .jobs import Jobs
from .limits import Accounting
from .notes import Notes
from .oauth import OAuth
from .pulls import PullRequests
from .repo_routes import RepoRoutes
from .runs import Runs
from .world import World


class FakeGitHub(
    Answers,
    AppRoutes,
    RepoRoutes,
    Credentials,
    Accounting,
    Faults,
    Notes,
    OAuth,
    Runs,
    Jobs,
    PullRequests,
    World,
):
    """GitHub as far as prmonitor sees it: a WSGI app over the truth the builders create.

    `runs[run_id]` is the run's state: its fixed fields, the current attempt's `run_attempt`,
    `status`, `conclusion`, `updated_at`, `run_started_at` and `job_ids`, and `attempts`, a
    snapshot of those per attempt. `jobs[job_id]` is the job exactly as the REST API serves it.
    `prs[(full_name, number)]`, `repos[full_name]` and `installations[id]` hold the REST objects.
    """

    def __init__(self, app_id=1234, private_key_pem=None, token_lifetime=3600, page_limit=100):
        self.app_id = int(app_id)
        self.private_key_pem = private_key_pem or new_private_key()
        self._public_key = public_key(self.private_key_pem)
        self.token_lifetime = token_lifetime
        self.page_limit = page_limit
        self._init_truth()
        self._init_notes()
        self._init_oauth()
        self._init_service()

    def _init_service(self):
        self.calls, self.errors = [], []  # errors: exceptions raised while answering
        self.on_redeliver = None
        self.manifest_codes = set()  # codes /app-manifests/{code}/conversions accepts, once
        self._tokens, self._personal, self._buckets, self._faults = {}, set(), {}, []
        self._rate_default = None


def installed(full_names=("octo-org/widgets",), installation_id=7, **options):
    """A FakeGitHub with the App installed on these repositories."""
    fake = FakeGitHub(**options)
    fake.add_installation(installation_id)
    for full_name in full_names:
        fake.add_repo(full_name, installation_id=installation_id)
    return fake
