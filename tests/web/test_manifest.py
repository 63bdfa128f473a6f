"""Creating the App from its manifest: the form GitHub receives, and the code turned into the
App's credentials through the loopback fake."""

import html
import json
import re
from pathlib import Path

from prmonitor.github.user_access import web_url
from prmonitor.web.manifest import MANIFEST, manifest_for

from ..helpers import make_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_manifest_file_is_the_one_the_setup_page_sends():
    assert json.loads((ROOT / "github-app.json").read_text()) == MANIFEST
    assert MANIFEST["default_permissions"] == {
        "actions": "read",
        "checks": "write",
        "metadata": "read",
        "pull_requests": "write",
    }
    assert MANIFEST["default_events"] == ["workflow_run", "workflow_job", "pull_request"]


def test_setup_posts_the_manifest_with_this_deployments_urls(client):
    response = client.get("/setup?org=octo-org", base_url="https://ci.example.com")
    page = response.get_data(as_text=True)
    action = re.search(r'<form action="([^"]+)"', page).group(1)
    assert action.startswith("https://github.com/organizations/octo-org/settings/apps/new?state=")
    sent = json.loads(html.unescape(re.search(r'name="manifest" value="([^"]+)"', page).group(1)))
    assert sent == manifest_for("https://ci.example.com/")
    assert sent["hook_attributes"]["url"] == "https://ci.example.com/api/github/webhooks"
    assert sent["redirect_url"] == "https://ci.example.com/setup/callback"
    assert client.get("/setup?org=../x").status_code == 400


def test_setup_needs_https_except_on_this_machine(client):
    assert client.get("/setup", base_url="http://ci.example.com").status_code == 400
    behind_tls = client.get(
        "/setup", base_url="http://ci.example.com", headers={"X-Forwarded-Proto": "https"}
    )
    assert behind_tls.status_code == 200  # Heroku's router ends TLS and says so
    assert "https://ci.example.com/api/github/webhooks" in html.unescape(behind_tls.get_data(True))
    assert client.get("/setup", base_url="http://127.0.0.1:3000").status_code == 200


def test_enterprise_server_web_address():
    assert web_url("https://api.github.com") == "https://github.com"
    assert web_url("https://ghe.example.com/api/v3") == "https://ghe.example.com"


def test_the_callback_turns_the_code_into_credentials_once(database_url, fake, github_url):
    from prmonitor import create_app

    fake.manifest_codes.add("abc123")
    app = create_app(make_config(database_url, github_api_url=github_url))
    client = app.test_client()
    start = client.get("/setup")
    state = re.search(r"state=([^\"&]+)", start.get_data(as_text=True)).group(1)
    assert client.get("/setup/callback?code=abc123&state=forged").status_code == 400
    done = client.get(f"/setup/callback?code=abc123&state={state}")
    page = done.get_data(as_text=True)
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    assert f"APP_ID={fake.app_id}" in page and "WEBHOOK_SECRET=whsec-from-manifest" in page
    assert "BEGIN PRIVATE KEY" in page
    # The App's OAuth credentials come only in this answer too (Sign in with GitHub).
    assert "GITHUB_CLIENT_ID=Iv1.fake" in page
    assert "GITHUB_CLIENT_SECRET=fake-oauth-client-secret" in page
    again = client.get(f"/setup/callback?code=abc123&state={state}")
    assert again.status_code == 400  # the state cookie went with the first use


def test_the_callback_needs_no_api_token_but_the_state(database_url, fake, github_url):
    from prmonitor import create_app

    fake.manifest_codes.add("xyz789")
    app = create_app(make_config(database_url, github_api_url=github_url, api_token="sesame"))
    client = app.test_client()
    refused = client.get("/setup")
    assert (refused.status_code, refused.headers["Location"]) == (302, "/login?next=/setup")
    start = client.get("/setup", headers={"Authorization": "Bearer sesame"})
    state = re.search(r"state=([^\"&]+)", start.get_data(as_text=True)).group(1)
    # GitHub's redirect is cross-site: the token's cookie does not come along.
    done = client.get(f"/setup/callback?code=xyz789&state={state}")
    assert done.status_code == 200 and f"APP_ID={fake.app_id}" in done.get_data(as_text=True)


def test_a_forged_state_or_code_of_any_characters_is_a_400(client):
    client.get("/setup")  # sets the state cookie
    for query in (
        "code=abc123&state=%C3%A9",
        "code=abc123&state=%00",
        "code=%C3%A9%C3%A9&state=x",
        "code=%D9%A1&state=x",
        "code=&state=",
    ):
        assert client.get(f"/setup/callback?{query}").status_code == 400, query
    client.set_cookie("prmonitor_setup_state", "\u00e9t\u00e9")
    assert client.get("/setup/callback?code=abc123&state=%C3%A9t%C3%A9").status_code == 400


def test_setup_over_http_is_allowed_on_any_loopback_host_only(client):
    for host in ("localhost:3000", "127.0.0.1:3000", "[::1]:3000"):
        assert client.get("/setup", headers={"Host": host}).status_code == 200, host
    assert client.get("/setup", headers={"Host": "ci.example.com"}).status_code == 400
