"""The fake GitHub's answers to the App itself: its installations and their repositories,
its webhook delivery log and redeliveries, and the manifest flow's conversion."""

import copy
import math
import re
from functools import partial

from .http import (
    DEFAULT_PER_PAGE,
    DOCS,
    json_response,
    not_found,
    paged,
    positive_arg,
    unprocessable,
    url_with,
)
from .oauth import CLIENT_ID, CLIENT_SECRET
from .world import WEB


class AppRoutes:
    """Route handlers reached with the App's JWT (or, for /installation, its token)."""

    def _list_installations(self, exchange):
        items = [self.installations[i] for i in sorted(self.installations)]
        return paged(exchange.request, items, self.page_limit)

    def _get_repo_installation(self, exchange, full_name):
        repo = self._find_repo(full_name)
        installation_id = self._repo_installation.get(repo["full_name"]) if repo else None
        if installation_id is None:
            return not_found()
        return json_response(200, self.installations[installation_id])

    def _list_installation_repos(self, exchange):
        if exchange.auth != "installation":
            message = (
                "You must authenticate with an installation access token in order to list "
                "repositories for an installation."
            )
            return json_response(403, {"message": message, "documentation_url": DOCS})
        mine = exchange.installation_id
        repos = [r for n, r in self.repos.items() if self._repo_installation[n] == mine]

        def wrap(chunk):
            return {
                "total_count": len(repos),
                "repository_selection": "selected",
                "repositories": chunk,
            }

        return paged(exchange.request, repos, self.page_limit, wrap)

    def _list_deliveries(self, exchange):
        """Newest first, with cursor pagination (a cursor names the last delivery seen):
        https://docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook
        """
        request = exchange.request
        per_page = min(positive_arg(request, "per_page", DEFAULT_PER_PAGE), self.page_limit)
        cursor = request.args.get("cursor")
        if cursor is not None and not re.fullmatch(r"v1_\d+", cursor):
            return unprocessable("Invalid cursor")
        after = int(cursor[3:]) if cursor else math.inf
        newest_first = sorted(self.deliveries, key=lambda d: d["id"], reverse=True)
        remaining = [d for d in newest_first if d["id"] < after]
        response = json_response(200, remaining[:per_page])
        if len(remaining) > per_page:
            next_url = url_with(request, cursor=f"v1_{remaining[per_page - 1]['id']}")
            response.headers["Link"] = f'<{next_url}>; rel="next"'
        return response

    def _redeliver(self, exchange, delivery_id):
        found = [d for d in self.deliveries if d["id"] == int(delivery_id)]
        if not found:
            return not_found()
        original = found[0]
        self.redelivered.append(original["id"])
        guid, event = original["guid"], original["event"]
        self.add_delivery(event, original["action"], 200, guid=guid, redelivery=True)
        if self.on_redeliver is not None:
            source = self._events_by_guid.get(guid)
            payload = copy.deepcopy(source.payload) if source else None
            exchange.after.append(partial(self.on_redeliver, guid, event, payload))
        return json_response(202, {})

    def _convert_manifest(self, exchange, code):
        """The App-manifest flow's last step: a code GitHub gave the browser, used once.
        https://docs.github.com/en/rest/apps/apps#create-a-github-app-from-a-manifest"""
        if code not in self.manifest_codes:
            return not_found()
        self.manifest_codes.discard(code)
        app = {
            "id": self.app_id,
            "slug": "prmonitor",
            "name": "prmonitor",
            "html_url": f"{WEB}/apps/prmonitor",
            "pem": self.private_key_pem,
            "webhook_secret": "whsec-from-manifest",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        return json_response(201, app)
