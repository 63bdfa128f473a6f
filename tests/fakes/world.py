"""What the fake GitHub knows: its clock and ids, installations and repositories, the webhook
events its changes emit, and the App's delivery log."""

import copy
import datetime
import secrets
import threading
import uuid
from typing import NamedTuple

# Objects carry github.com's URLs, as GitHub.com sends them; only Link headers point at the fake.
API = "https://api.github.com"
WEB = "https://github.com"
# The fake clock starts a day before the real one: deliveries stay inside GitHub's three-day
# redelivery window, and every fake time is in the past.
CLOCK_LEAD = datetime.timedelta(days=1)
PERMISSIONS = {"actions": "read", "checks": "write", "metadata": "read", "pull_requests": "write"}
# First ids of each kind: far apart, so that a run id used as a job id finds nothing.
FIRST_IDS = {
    "user": 9_000,
    "workflow": 160_000,
    "repo": 500_000,
    "pr": 1_000_000,
    "delivery": 12_000_000_000,
    "run": 7_000_000_000,
    "job": 30_000_000_000,
    "comment": 2_000_000_000,
    "check_run": 40_000_000_000,
}


class WebhookEvent(NamedTuple):
    """One delivery GitHub would have made: X-GitHub-Event, the JSON body, X-GitHub-Delivery."""

    name: str
    payload: dict
    guid: str

    @property
    def action(self):
        return self.payload.get("action")


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_sha():
    return secrets.token_hex(20)


class World:
    """The truth's base: clock, ids, users, installations, repositories, events, deliveries.

    `repos[full_name]` and `installations[id]` hold the REST objects; `events` every webhook
    GitHub would have sent, `deliveries` the App's delivery log.
    """

    def _init_truth(self):
        self._lock = threading.RLock()
        self._now = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - CLOCK_LEAD
        self._next_ids = dict(FIRST_IDS)
        self.installations, self.repos, self.prs = {}, {}, {}
        self.runs, self.jobs = {}, {}
        # A job's log text and its check run's annotations, when a test sets them (set_log).
        self.job_logs, self.job_annotations = {}, {}
        self.events, self.deliveries, self.redelivered = [], [], []
        self._repo_installation, self._forks, self._users = {}, {}, {}
        self._events_by_guid, self._run_numbers, self._workflow_ids = {}, {}, {}

    # -- clock and ids ---------------------------------------------------------------------

    def _tick(self):
        """One change: the fake clock moves 1 s; returns the new time as GitHub writes it."""
        self._now += datetime.timedelta(seconds=1)
        return iso(self._now)

    def advance_clock(self, delta):
        """Time passes on GitHub's side (a timedelta) without a change."""
        with self._lock:
            self._now += delta

    def _new_id(self, kind):
        self._next_ids[kind] += 1
        return self._next_ids[kind]

    def _user(self, login, kind="User"):
        if login not in self._users:
            self._users[login] = {"login": login, "id": self._new_id("user"), "type": kind}
        return dict(self._users[login])

    # -- installations and repositories ----------------------------------------------------

    def add_installation(self, installation_id, login="octo-org", account_type="Organization"):
        with self._lock:
            now = self._tick()
            if installation_id in self.installations:
                raise ValueError(f"installation {installation_id} exists")
            account = self._user(login, account_type)
            self.installations[installation_id] = {
                "id": installation_id,
                "account": account,
                "app_id": self.app_id,
                "app_slug": "prmonitor",
                "target_id": account["id"],
                "target_type": account_type,
                "repository_selection": "selected",
                "access_tokens_url": f"{API}/app/installations/{installation_id}/access_tokens",
                "repositories_url": f"{API}/installation/repositories",
                "html_url": f"{WEB}/organizations/{login}/settings/installations/{installation_id}",
                "permissions": dict(PERMISSIONS),
                "events": ["pull_request", "workflow_job", "workflow_run"],
                "created_at": now,
                "updated_at": now,
                "suspended_at": None,
            }
            installation = copy.deepcopy(self.installations[installation_id])
            body = {"installation": installation, "repositories": []}
            self._emit("installation", "created", body, sender=login)
            return installation

    def add_repo(self, full_name, installation_id=None):
        with self._lock:
            self._tick()
            if full_name in self.repos:
                raise ValueError(f"{full_name} exists")
            if installation_id is not None and installation_id not in self.installations:
                raise ValueError(f"unknown installation {installation_id}")
            owner, name = full_name.split("/")
            repo = self._repo_object(self._user(owner, self._account_type(owner)), name)
            self.repos[full_name] = repo
            self._repo_installation[full_name] = installation_id
            if installation_id is not None:
                self._emit_installation_repositories("added", installation_id, repo)
            return copy.deepcopy(repo)

    def remove_repo_from_installation(self, full_name):
        with self._lock:
            self._tick()
            installation_id = self._repo_installation.get(full_name)
            if installation_id is None:
                raise ValueError(f"{full_name} belongs to no installation")
            self._repo_installation[full_name] = None
            self._emit_installation_repositories("removed", installation_id, self.repos[full_name])

    def _account_type(self, login):
        types = {i["account"]["login"]: i["target_type"] for i in self.installations.values()}
        return types.get(login, "User")

    def _repo_object(self, owner, name, fork=False):
        full_name = f"{owner['login']}/{name}"
        repo_id = self._new_id("repo")
        return {
            "id": repo_id,
            "node_id": f"R_{repo_id}",
            "name": name,
            "full_name": full_name,
            "private": False,
            "owner": owner,
            "html_url": f"{WEB}/{full_name}",
            "url": f"{API}/repos/{full_name}",
            "fork": fork,
            "default_branch": "main",
        }

    def _emit_installation_repositories(self, action, installation_id, repo):
        # https://docs.github.com/en/webhooks/webhook-events-and-payloads#installation_repositories
        # (no top-level "repository": the repositories are listed instead).
        short = {k: repo[k] for k in ("id", "node_id", "name", "full_name", "private")}
        installation = self.installations[installation_id]
        body = {
            "installation": copy.deepcopy(installation),
            "repository_selection": "selected",
            "repositories_added": [short] if action == "added" else [],
            "repositories_removed": [short] if action == "removed" else [],
            "requester": None,
        }
        self._emit(
            "installation_repositories", action, body, sender=installation["account"]["login"]
        )

    def _repo(self, full_name):
        if full_name not in self.repos:
            raise ValueError(f"unknown repository {full_name}")
        return self.repos[full_name]

    # -- webhooks --------------------------------------------------------------------------

    def _emit(self, name, action, body, full_name=None, sender="octocat"):
        payload = {"action": action, **body}
        if full_name is not None:
            payload["repository"] = self.repos[full_name]
            installation_id = self._repo_installation.get(full_name)
            if installation_id is not None:
                payload["installation"] = {"id": installation_id}
        payload["sender"] = self._user(sender)
        event = WebhookEvent(name, copy.deepcopy(payload), str(uuid.uuid4()))
        self.events.append(event)
        self._events_by_guid[event.guid] = event

    def add_delivery(self, event, action, status_code, guid=None, redelivery=False):
        """An entry of the App's delivery log; a `guid` of one of `events` ties it to that event."""
        with self._lock:
            now = self._tick()
            guid = guid or str(uuid.uuid4())
            source = self._events_by_guid.get(guid)
            payload = source.payload if source else {}
            delivery = {
                "id": self._new_id("delivery"),
                "guid": guid,
                "delivered_at": now,
                "redelivery": redelivery,
                "duration": 0.27,
                "status": "OK"
                if 200 <= status_code < 300
                else f"Invalid HTTP Response: {status_code}",
                "status_code": status_code,
                "event": event,
                "action": action,
                "installation_id": (payload.get("installation") or {}).get("id"),
                "repository_id": (payload.get("repository") or {}).get("id"),
                "throttled_at": None,
            }
            self.deliveries.append(delivery)
            return dict(delivery)
