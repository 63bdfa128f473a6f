"""Sign in with GitHub against the fake's OAuth endpoints (real HTTP): a person sees only the
repositories their account can see through the App's installations, in the dashboard and in
the API for their session."""

import datetime
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from prmonitor import create_app
from prmonitor.github.user_access import web_url
from prmonitor.storage import db, sessions
from prmonitor.storage.models import WebSession, Workflow
from prmonitor.web import github_login

from ..events import job_event, pr_event, run_event
from ..fakes.github import FakeGitHub
from ..fakes.oauth import CLIENT_ID, CLIENT_SECRET
from ..helpers import make_config, signed_post

MINE, THEIRS = "acme/widgets", "other/place"


@pytest.fixture
def fake():
    fake = FakeGitHub()
    fake.add_installation(7, login="acme")
    fake.add_repo(MINE, installation_id=7)
    fake.add_installation(8, login="other")
    fake.add_repo(THEIRS, installation_id=8)
    fake.add_person("alice", [MINE])
    fake.signed_in_as = "alice"
    return fake


@pytest.fixture
def site(database_url, github_url):
    config = make_config(
        database_url,
        github_api_url=github_url,
        github_client_id=CLIENT_ID,
        github_client_secret=CLIENT_SECRET,
    )
    app = create_app(config)
    db.migrate()
    client = app.test_client()
    for repo, run_id, job_id in (
        (MINE, 9100000001, 29000000001),
        (THEIRS, 9200000001, 29200000001),
    ):
        for event, payload in (
            ("pull_request", pr_event("opened", repo=repo)),
            ("workflow_run", run_event("completed", repo=repo, id=run_id)),
            ("workflow_job", job_event("completed", repo=repo, id=job_id, run_id=run_id)),
        ):
            assert signed_post(client, event, payload).status_code == 200
    yield client
    db.database.obj.close_all()


def sign_in_with_github(client, next_path="/"):
    """The browser's round trip: to GitHub's authorize page (the fake signs the person in
    and authorizes at once), back to the callback with the code."""
    start = client.get(f"/login/github?next={next_path}")
    assert start.status_code == 302
    at_github = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert at_github.status_code == 302
    back = urlsplit(at_github.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def test_the_login_page_offers_github(site):
    assert site.get("/").headers["Location"] == "/login?next=/"
    page = site.get("/login").get_data(as_text=True)
    assert 'id="github-sign-in"' in page and "API_TOKEN" not in page


def test_authorize_goes_to_githubs_web_host_with_an_explicit_redirect_uri(site, fake, github_url):
    start = site.get("/login/github")
    sent = urlsplit(start.headers["Location"])
    assert f"{sent.scheme}://{sent.netloc}" == web_url(github_url)
    assert sent.path == "/login/oauth/authorize"
    query = parse_qs(sent.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == ["http://localhost/login/github/callback"]
    assert len(query["state"][0]) >= 20


def test_a_person_sees_only_their_repositories(site):
    signed = sign_in_with_github(site, "/prs/acme/widgets/17")
    assert (signed.status_code, signed.headers["Location"]) == (303, "/prs/acme/widgets/17")
    index = site.get("/").get_data(as_text=True)
    assert 'href="/prs/acme/widgets/17"' in index and "other/place" not in index
    assert "alice" in index  # who is signed in, beside "Sign out"
    assert site.get("/prs/acme/widgets/17").status_code == 200
    assert site.get("/prs/other/place/17").status_code == 404
    # The number exists in both repositories; this person sees one, so it is not ambiguous.
    assert site.get("/prs/17").headers["Location"] == "/prs/acme/widgets/17"
    listed = site.get("/api/prs").json["prs"]
    assert [pr["repo"] for pr in listed] == [MINE]
    assert site.get("/api/prs/17/workflows?repo=other/place").status_code == 404
    assert site.get("/api/repos/other/place/prs/17/failed-jobs").status_code == 404
    assert site.get("/api/prs/17/workflow-summary").status_code == 200


def test_jobs_and_runs_of_other_repositories_are_hidden(site):
    sign_in_with_github(site)
    runs = {w.repo_full_name: w.id for w in Workflow.select()}
    theirs, mine = runs[THEIRS], runs[MINE]
    assert site.get(f"/api/workflows/{theirs}/jobs").status_code == 404
    assert site.get(f"/api/workflows/{mine}/jobs").status_code == 200


def test_a_forged_state_or_a_reused_code_signs_no_one_in(site, fake):
    start = site.get("/login/github")
    at_github = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(at_github.headers["Location"])
    code = parse_qs(back.query)["code"][0]
    forged = site.get(f"/login/github/callback?code={code}&state=forged")
    assert forged.status_code == 400 and "expired" in forged.get_data(as_text=True)
    assert site.get("/").status_code == 302
    # A fresh state, but the code is GitHub's to give once.
    state = parse_qs(urlsplit(site.get("/login/github").headers["Location"]).query)["state"][0]
    fake.oauth_codes.clear()
    used = site.get(f"/login/github/callback?code={code}&state={state}")
    assert used.status_code == 400 and "bad_verification_code" in used.get_data(as_text=True)
    assert site.get("/").status_code == 302


def test_access_is_read_again_after_the_cache_time(site, fake):
    sign_in_with_github(site)
    assert site.get("/prs/other/place/17").status_code == 404
    fake.add_person("alice", [MINE, THEIRS])  # added to the other organization's repository
    assert site.get("/prs/other/place/17").status_code == 404  # cached for minutes
    stale = datetime.datetime(2000, 1, 1)
    WebSession.update(fetched_at=stale).execute()
    assert site.get("/prs/other/place/17").status_code == 200


def test_a_revoked_token_ends_the_session_at_the_next_refresh(site, fake):
    sign_in_with_github(site)
    fake.revoke_user_tokens("alice")
    WebSession.update(fetched_at=datetime.datetime(2000, 1, 1)).execute()
    assert site.get("/").status_code == 302
    assert WebSession.select().count() == 0


def test_the_token_is_stored_encrypted_and_the_cookie_holds_no_token(site, fake):
    signed = sign_in_with_github(site)
    row = WebSession.get()
    token = next(iter(fake._user_tokens))
    assert token not in row.token and token not in signed.headers.get("Set-Cookie", "")
    assert sessions.token_of(row, CLIENT_SECRET) == token
    assert sessions.token_of(row, "another-secret") is None


def test_sign_out_deletes_the_session_row(site):
    sign_in_with_github(site)
    page = site.get("/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" (?:value|content)="([^"]+)"', page).group(1)
    assert site.post("/logout", data={"csrf": csrf}).status_code == 303
    assert WebSession.select().count() == 0
    assert site.get("/").status_code == 302


def test_github_cannot_be_reached_says_so(database_url):
    config = make_config(
        database_url,
        github_api_url="http://127.0.0.1:9",
        github_client_id=CLIENT_ID,
        github_client_secret=CLIENT_SECRET,
    )
    client = create_app(config).test_client()
    db.migrate()
    state = parse_qs(urlsplit(client.get("/login/github").headers["Location"]).query)["state"][0]
    answer = client.get(f"/login/github/callback?code=abc&state={state}")
    assert answer.status_code == 400
    assert "GitHub could not be reached" in answer.get_data(as_text=True)
    db.database.obj.close_all()


def test_without_oauth_credentials_the_routes_do_not_exist(client):
    assert client.get("/login/github").status_code == 404
    assert client.get("/login/github/callback?code=x&state=y").status_code == 404


def test_access_ttl_is_minutes():
    assert (
        datetime.timedelta(minutes=1) <= github_login.ACCESS_TTL <= datetime.timedelta(minutes=15)
    )


def test_what_spans_every_repository_needs_api_token(site):
    sign_in_with_github(site)
    for path in ("/api/status", "/api/analyses/stats", "/setup"):
        assert site.get(path).status_code == 403, path
    assert site.get("/metrics").status_code == 401  # GitHub sign-in alone keeps it closed


def test_a_repository_stored_in_another_case_is_still_listed(site, database):
    sign_in_with_github(site)
    database.execute_sql(
        "UPDATE prs SET repo_full_name = 'ACME/Widgets' WHERE pr_number = 17 "
        "AND repo_full_name = 'acme/widgets'"
    )
    database.execute_sql(
        "UPDATE workflows SET repo_full_name = 'ACME/Widgets' WHERE repo_full_name = 'acme/widgets'"
    )
    assert 'href="/prs/ACME/Widgets/17"' in site.get("/").get_data(as_text=True)
    assert site.get("/repos/acme/widgets").status_code == 200
    assert site.get("/repos/other/place").status_code == 404


def test_an_expired_token_is_refreshed_and_the_session_goes_on(site, fake):
    sign_in_with_github(site)
    first = WebSession.get()
    assert first.refresh_token and first.token_expires_at is not None
    fake.expire_user_tokens("alice")  # 8 hours later
    fake.add_person("alice", [MINE, THEIRS])
    WebSession.update(fetched_at=datetime.datetime(2000, 1, 1)).execute()
    assert site.get("/prs/other/place/17").status_code == 200  # read again with a new token
    renewed = WebSession.get()
    assert renewed.token != first.token and renewed.refresh_token != first.refresh_token
    assert sessions.token_of(renewed, CLIENT_SECRET) in fake._user_tokens


def test_a_token_past_its_expiry_is_refreshed_before_it_is_used(site, fake):
    sign_in_with_github(site)
    past = datetime.datetime(2000, 1, 1)
    WebSession.update(fetched_at=past, token_expires_at=past).execute()
    before = WebSession.get().token
    assert site.get("/").status_code == 200
    assert WebSession.get().token != before
