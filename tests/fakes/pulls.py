"""What the fake GitHub knows of pull requests: opened (from a fork or not), pushed to, closed,
merged, reopened, each change a `pull_request` event."""

import copy

from .http import not_found, paged
from .world import API, WEB, new_sha


class PullRequests:
    """`prs[(full_name, number)]` holds each pull request as GET of one pull request serves it."""

    def open_pr(
        self,
        full_name,
        number=None,
        head_sha=None,
        title=None,
        author="octocat",
        head_ref=None,
        base_ref="main",
        fork=False,
        draft=False,
        body=None,
    ):
        with self._lock:
            now = self._tick()
            repo = self._repo(full_name)
            number = number or 1 + max((n for f, n in self.prs if f == full_name), default=0)
            if (full_name, number) in self.prs:
                raise ValueError(f"{full_name}#{number} exists")
            head_repo = self._fork(repo, author) if fork else repo
            pr_id = self._new_id("pr")
            pr = {
                "url": f"{API}/repos/{full_name}/pulls/{number}",
                "id": pr_id,
                "node_id": f"PR_{pr_id}",
                "number": number,
                "state": "open",
                "title": title or f"Change number {number}",
                "body": body,
                "user": self._user(author),
                "html_url": f"{WEB}/{full_name}/pull/{number}",
                "draft": draft,
                "created_at": now,
                "updated_at": now,
                "closed_at": None,
                "merged_at": None,
                "merge_commit_sha": None,
                "head": branch(head_repo, head_ref or f"feature-{number}", head_sha or new_sha()),
                "base": branch(repo, base_ref, new_sha()),
                "merged": False,
            }
            self.prs[(full_name, number)] = pr
            self._emit_pr("opened", pr)
            return copy.deepcopy(pr)

    def _fork(self, repo, author):
        # One fork per author and repository, as on GitHub.
        key = (repo["full_name"], author)
        if key not in self._forks:
            self._forks[key] = self._repo_object(self._user(author), repo["name"], fork=True)
        return self._forks[key]

    def push(self, full_name, number, head_sha=None):
        with self._lock:
            now = self._tick()
            pr = self._open_pr(full_name, number)
            before, after = pr["head"]["sha"], head_sha or new_sha()
            pr["head"]["sha"] = after
            pr["updated_at"] = now
            self._emit_pr("synchronize", pr, before=before, after=after)
            return after

    def set_files(self, full_name, number, files):
        """The PR's changed files as GET /repos/{o}/{r}/pulls/{n}/files lists them: dicts with
        filename and patch (status, additions and deletions filled in)."""
        with self._lock:
            self.pr_files[(full_name, number)] = [
                {
                    "sha": new_sha(),
                    "status": "modified",
                    "additions": 1,
                    "deletions": 1,
                    "changes": 2,
                    **item,
                }
                for item in files
            ]

    def _list_pr_files(self, exchange, repo, number):
        key = (repo["full_name"], int(number))
        if key not in self.prs:
            return not_found()
        return paged(exchange.request, self.pr_files.get(key, []), self.page_limit)

    def ready_for_review(self, full_name, number):
        """A draft marked ready: https://docs.github.com/en/webhooks/webhook-events-and-payloads?actions=ready_for_review#pull_request"""
        with self._lock:
            now = self._tick()
            pr = self._open_pr(full_name, number)
            pr.update(draft=False, updated_at=now)
            self._emit_pr("ready_for_review", pr)

    def close_pr(self, full_name, number, merged=False):
        with self._lock:
            now = self._tick()
            pr = self._open_pr(full_name, number)
            pr.update(state="closed", closed_at=now, updated_at=now, merged=merged)
            if merged:
                pr.update(merged_at=now, merge_commit_sha=new_sha())
            self._emit_pr("closed", pr)

    def reopen_pr(self, full_name, number):
        with self._lock:
            now = self._tick()
            pr = self._pr(full_name, number)
            if pr["state"] != "closed" or pr["merged"]:
                raise ValueError(f"{full_name}#{number} is not closed unmerged")
            pr.update(state="open", closed_at=None, updated_at=now)
            self._emit_pr("reopened", pr)

    def _pr(self, full_name, number):
        if (full_name, number) not in self.prs:
            raise ValueError(f"unknown pull request {full_name}#{number}")
        return self.prs[(full_name, number)]

    def _open_pr(self, full_name, number):
        pr = self._pr(full_name, number)
        if pr["state"] != "open":
            raise ValueError(f"{full_name}#{number} is closed")
        return pr

    def _emit_pr(self, action, pr, **extra):
        body = {"number": pr["number"], "pull_request": pr, **extra}
        full_name = pr["base"]["repo"]["full_name"]
        self._emit("pull_request", action, body, full_name, pr["user"]["login"])

    def _pr_for_sha(self, full_name, head_sha):
        """The open PR of the repository whose head is `head_sha`, else any such PR, else None."""
        found = [
            pr
            for (name, _), pr in self.prs.items()
            if name == full_name and pr["head"]["sha"] == head_sha
        ]
        found.sort(key=lambda pr: pr["state"] != "open")
        return found[0] if found else None


def branch(repo, ref, sha):
    """A PR's `head` or `base`."""
    owner = repo["owner"]
    return {
        "label": f"{owner['login']}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": dict(owner),
        "repo": copy.deepcopy(repo),
    }
