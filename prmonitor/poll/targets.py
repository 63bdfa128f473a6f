"""Which repositories the poller reconciles: those the App is installed on (kept up to date from
GitHub in case an installation event was lost), and those of PRs started by hand."""

import logging
from dataclasses import dataclass

from prmonitor.github import GitHubError, NotFound, payloads
from prmonitor.poll import tracking
from prmonitor.storage import db, ingest
from prmonitor.storage.models import TRACKED, Installation, Pr, Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """A repository to reconcile. `discover`: every open PR it has is tracked (the App is
    installed on it); otherwise only PRs already tracked (`prmonitor start`) are."""

    full_name: str
    repo_id: int | None
    installation_id: int | None
    discover: bool = True

    @property
    def repo(self):
        """The repository object the parsers expect."""
        return {"full_name": self.full_name, "id": self.repo_id}


class Targets:
    """The repositories a poll cycle reconciles, and what becomes of one GitHub stops showing."""

    def __init__(self, github):
        self.github, self.etags = github, github.etags
        # Installed repositories given a second look after a 404 (see deactivate).
        self._rechecked = set()
        # Why the last refresh of the App's installations failed, or None.
        self.refresh_error = None

    def all(self):
        """Installed repositories (all their open PRs), then repositories of PRs started by
        hand that the App is not installed on (only those PRs)."""
        if self.github.is_app:
            self.refresh_installations()
        # A suspended (or deleted) installation gets no token: its repositories wait.
        inactive = Installation.select(Installation.installation_id).where(
            Installation.state != "active"
        )
        installed = [
            Target(full_name, repo_id, installation_id)
            for full_name, repo_id, installation_id in Repository.select(
                Repository.full_name, Repository.repo_id, Repository.installation_id
            )
            .where(
                Repository.active
                & Repository.installation_id.is_null(False)
                & Repository.installation_id.not_in(inactive)
            )
            .order_by(Repository.full_name)
            .tuples()
        ]
        return installed + self._manual({target.full_name for target in installed}, inactive)

    def _manual(self, installed, inactive):
        removed = Repository.select(Repository.full_name).where(~Repository.active)
        query = (
            Pr.select(Pr.repo_full_name, Pr.repo_id, Pr.installation_id)
            .where(
                Pr.tracking.in_(TRACKED)
                & (Pr.repo_full_name != "")  # rows of the original monitor name no repository
                & Pr.repo_id.is_null(False)
                & Pr.repo_full_name.not_in(removed)
                & (Pr.installation_id.is_null() | Pr.installation_id.not_in(inactive))
            )
            .distinct()
            .tuples()
        )
        found = [(name, repo_id, inst) for name, repo_id, inst in query if name not in installed]
        if not self.github.is_app:
            return [Target(name, repo_id, None, False) for name, repo_id, _ in found]
        return [Target(name, repo_id, inst, False) for name, repo_id, inst in found if inst]

    def refresh_installations(self):
        """The App's installations and their repositories, from GitHub (conditional calls, so
        nearly free)."""
        self.refresh_error = None
        try:
            pages = self.github.get_pages("app/installations", {"per_page": 100}, as_app=True)
        except GitHubError as exc:
            log.warning("installations not refreshed: %s", exc)
            self.refresh_error = str(exc)
            return
        installations = [i for page in pages for i in page.body if isinstance(i, dict)]
        for installation in installations:
            self._refresh_installation(installation)
        if not pages[-1].next_url:  # a complete listing: what it lacks was uninstalled
            self._forget_uninstalled({i.get("id") for i in installations})
        for page in pages:
            self.etags.save(page)

    def _refresh_installation(self, installation):
        """One installation's repositories; a failing one is left as it is, a suspended one
        is recorded as such (in case its `suspend` event was lost)."""
        try:
            row = payloads.parse_installation(installation)
            state = "suspended" if installation.get("suspended_at") else "active"
            if _stored_state(row["installation_id"]) != state:
                with db.writing():
                    ingest.record_installation(row, state)
                # Back from a suspension (or a lost deletion): its listing is read in full, as
                # an unchanged one (a 304) would not switch its repositories on again.
                self.etags.forget(_repositories_key(self.github, row["installation_id"]))
            if state == "suspended":
                return
            pages = self.github.get_pages(*_REPOSITORIES, row["installation_id"])
            if all(page.not_modified for page in pages):
                return
            repos = [repo for page in pages for repo in page.body.get("repositories") or []]
            rows = payloads.parse_repositories(repos, row["installation_id"])
        except (GitHubError, payloads.PayloadError) as exc:
            log.warning("installation=%s not refreshed: %s", installation.get("id"), exc)
            self.refresh_error = f"installation {installation.get('id')}: {exc}"
            return
        with db.writing():
            ingest.record_installation(row, "active", rows, complete=True)
        for page in pages:
            self.etags.save(page)

    def _forget_uninstalled(self, listed):
        """Installations GitHub no longer lists were removed (their deletion event was lost)."""
        known = Installation.select(Installation.installation_id).where(
            Installation.state != "deleted"
        )
        for (installation_id,) in known.tuples():
            if installation_id in listed:
                continue
            with db.writing():
                ingest.record_installation({"installation_id": installation_id}, "deleted")

    def stop_tracking(self, target):
        """A repository started by hand that GitHub no longer shows us: stop polling its PRs."""
        log.warning("repo=%s is gone or unreadable; its PRs are not tracked", target.full_name)
        tracking.stop_tracking(full_name=target.full_name)

    def deactivate(self, target):
        """An installed repository GitHub answered 404 for: as if it had been removed, until
        the installation's listing says otherwise. A 404 can pass: the first time, the listing
        is read in full next cycle (an unchanged one answers 304 and says nothing); after
        that, once an hour, when a new installation token reads every listing in full."""
        log.warning("repo=%s is gone or unreadable; no longer polled", target.full_name)
        with db.writing():
            Repository.update(active=False).where(
                Repository.full_name == target.full_name
            ).execute()
        if target.full_name not in self._rechecked:
            self._rechecked.add(target.full_name)
            self.etags.forget(_repositories_key(self.github, target.installation_id))


# An installation's repositories (GET /installation/repositories), as path and parameters.
_REPOSITORIES = ("installation/repositories", {"per_page": 100})


def _repositories_key(github, installation_id):
    """Where the first page of an installation's repositories is cached."""
    return github.cache_key(github.url(*_REPOSITORIES), installation_id)


def _stored_state(installation_id):
    found = Installation.get_or_none(Installation.installation_id == installation_id)
    return found.state if found else None


def installation_for(github, full_name):
    """The App installation on a repository (for a PR started by hand), or None."""
    try:
        page = github.get(f"repos/{full_name}/installation", as_app=True, conditional=False)
    except NotFound:
        return None
    return page.body["id"]
