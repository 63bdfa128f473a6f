"""Who may read what: bearer tokens for machines, a signed session for people, CSRF on every
form post, and the paths that stay open."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from prmonitor import create_app
from prmonitor.storage import db

from ..events import job_event, pr_event, run_event
from ..helpers import make_config, signed_post

TOKEN = "t0ken-for-tests"
# Every GET route of the app, as a person or a machine would open it.
PAGES = [
    "/",
    "/?status=failing",
    "/prs/acme/widgets/17",
    "/prs/17",
    "/repos/acme/widgets",
    "/setup",
]
API = [
    "/api/prs",
    "/api/prs/17/workflows",
    "/api/prs/17/failed-jobs",
    "/api/prs/17/workflow-summary",
    "/api/prs/17/notifications",
    "/api/workflows/1/jobs",
    "/api/jobs/29000000001",
    "/api/status",
    "/api/analyses/stats",
]


@pytest.fixture
def guarded(database_url):
    app = create_app(make_config(database_url, api_token=TOKEN))
    db.migrate()
    client = app.test_client()
    for event, payload in (
        ("pull_request", pr_event("opened")),
        ("workflow_run", run_event("completed")),
        ("workflow_job", job_event("completed")),
    ):
        assert signed_post(client, event, payload).status_code == 200
    yield client
    db.database.obj.close_all()


def csrf_of(client, path="/login"):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf" (?:value|content)="([^"]+)"', page).group(1)


def sign_in(client, token=TOKEN, next_path="/"):
    return client.post("/login", data={"csrf": csrf_of(client), "token": token, "next": next_path})


@pytest.mark.parametrize("path", API)
def test_api_needs_the_bearer_token(guarded, path):
    assert guarded.get(path).status_code == 401
    assert guarded.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    right = guarded.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code in (200, 404), right.json  # 404: a row these tests lack


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_a_person_to_sign_in_and_back(guarded, path):
    refused = guarded.get(path)
    assert refused.status_code == 302
    sent = urlsplit(refused.headers["Location"])
    assert (sent.path, parse_qs(sent.query)["next"]) == ("/login", [path])
    assert guarded.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 302
    bearer = guarded.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code in (200, 302) and "/login" not in bearer.headers.get("Location", "")
    assert sign_in(guarded, "wrong", path).status_code == 401
    assert guarded.get(path).status_code == 302  # a wrong token starts no session
    signed = sign_in(guarded, TOKEN, path)
    assert (signed.status_code, signed.headers["Location"]) == (303, path)
    assert guarded.get(path).status_code in (200, 302)  # /prs/17 redirects to its page


def test_the_session_cookie_is_signed_httponly_lax_and_secure_behind_https(guarded):
    cookie = sign_in(guarded).headers["Set-Cookie"]
    assert cookie.startswith("prmonitor_session=") and TOKEN not in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    forwarded = guarded.post(
        "/login",
        data={"csrf": csrf_of(guarded), "token": TOKEN},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert "Secure" in forwarded.headers["Set-Cookie"]


def test_a_forged_session_cookie_is_refused(guarded):
    guarded.set_cookie("prmonitor_session", "eyJ3aG8iOiJBUElfVE9LRU4ifQ.forged.sig")
    assert guarded.get("/").status_code == 302
    other = create_app(
        make_config(
            guarded.application.config["PRMONITOR"].database_url, api_token="another-deployment"
        )
    )
    elsewhere = other.test_client()
    sign_in(elsewhere, "another-deployment")
    stolen = elsewhere.get_cookie("prmonitor_session").value
    guarded.set_cookie("prmonitor_session", stolen)
    assert guarded.get("/").status_code == 302  # signed with another key


def test_sign_out_ends_the_session(guarded):
    sign_in(guarded)
    assert guarded.get("/").status_code == 200
    assert guarded.post("/logout", data={}).status_code == 400  # no CSRF token
    assert guarded.get("/").status_code == 200
    out = guarded.post("/logout", data={"csrf": csrf_of(guarded, "/")})
    assert (out.status_code, out.headers["Location"]) == (303, "/login")
    assert guarded.get("/").status_code == 302


def test_sign_in_refuses_a_post_without_the_csrf_token(guarded):
    guarded.get("/login")
    assert guarded.post("/login", data={"token": TOKEN}).status_code == 400
    assert guarded.post("/login", data={"token": TOKEN, "csrf": "guess"}).status_code == 400
    assert guarded.get("/").status_code == 302


def test_next_never_leads_off_the_site(guarded):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        signed = sign_in(guarded, TOKEN, target)
        assert signed.headers["Location"] == "/", target


def test_the_token_in_a_url_no_longer_signs_in(guarded):
    assert guarded.get(f"/?token={TOKEN}").status_code == 302
    assert guarded.get(f"/api/prs?token={TOKEN}").status_code == 401


def test_webhooks_and_healthz_stay_open(guarded):
    assert guarded.get("/healthz").status_code == 200
    webhook = guarded.post("/api/github/webhooks", data=b"{}")
    assert webhook.status_code == 401 and "Signature" in webhook.json["error"]


def test_without_credentials_configured_everything_is_open(client):
    assert client.get("/").status_code == 200
    assert client.get("/api/prs").status_code == 200
    assert "needs no sign-in" in client.get("/login").get_data(as_text=True)


def test_dashboard_form_posts_need_the_csrf_token(client, deliver):
    assert client.post("/analyses/1/feedback", data={"correct": "true"}).status_code == 400
    token = csrf_of(client, "/")
    answer = client.post("/analyses/1/feedback", data={"correct": "true", "csrf": token})
    assert answer.status_code == 404  # past the CSRF check: no such analysis


@pytest.mark.parametrize(
    "target",
    ["/\t/evil.example", "/\n/evil.example", "/ /evil.example", "/%09/x" + "\x7f", "http:/x"],
)
def test_next_with_characters_a_browser_drops_stays_home(guarded, target):
    assert sign_in(guarded, TOKEN, target).headers["Location"] == "/"


def test_the_sign_in_redirect_keeps_the_whole_address_but_an_old_token(guarded):
    refused = guarded.get("/?repo=acme/widgets&state=open&token=" + TOKEN)
    assert refused.headers["Location"] == "/login?next=/?repo%3Dacme/widgets%26state%3Dopen"
    signed = sign_in(guarded, TOKEN, "/?repo=acme/widgets&state=open")
    assert signed.headers["Location"] == "/?repo=acme/widgets&state=open"


def test_a_json_post_on_a_session_needs_the_csrf_header(guarded):
    sign_in(guarded)
    body = {"correct": True}
    refused = guarded.post("/api/analyses/1/feedback", json=body)
    assert refused.status_code == 400 and "X-CSRF-Token" in refused.json["error"]
    token = guarded.get_cookie("prmonitor_csrf").value
    passed = guarded.post("/api/analyses/1/feedback", json=body, headers={"X-CSRF-Token": token})
    assert passed.status_code == 404  # past the check: no such analysis
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    guarded.delete_cookie("prmonitor_session")
    assert guarded.post("/api/analyses/1/feedback", json=body, headers=bearer).status_code == 404


def test_a_seed_era_pr_without_a_repository_is_listed_and_linked(client, database):
    database.execute_sql(
        "INSERT INTO prs (pr_number, repo_full_name, title, created_at, tracking) "
        "VALUES (5, '', 'from the seed', '2026-11-01 00:00:00', 'auto')"
    )
    page = client.get("/")
    assert page.status_code == 200 and 'href="/prs/5"' in page.get_data(as_text=True)
    assert client.get("/prs/5").status_code == 200


def test_the_pr_page_and_its_live_part_are_never_cached(client, deliver):
    deliver("pull_request", pr_event("opened"))
    answer = client.get("/prs/acme/widgets/17")
    assert answer.headers["Cache-Control"] == "no-store" and answer.headers["Vary"] == "X-Live"


def test_the_session_key_mixes_every_secret_and_is_random_without_sign_in():
    from prmonitor.config import Config
    from prmonitor.web.auth import session_key

    one = Config(api_token="short", webhook_secrets=("a" * 40,))
    assert session_key(one) == session_key(one)  # every worker agrees
    assert session_key(one) != session_key(Config(api_token="short", webhook_secrets=("b" * 40,)))
    assert session_key(Config()) != session_key(Config())  # no sign-in: no session to keep
