"""The GitHub fake over real HTTP: auth, ETags, pages, rate limits, faults, runs, deliveries."""

import time

import jwt
import pytest
import requests

from .fakes import FakeGitHub

REPO = "octo-org/app"


class Api:
    """requests against the served fake; every response is read and closed before it returns."""

    def __init__(self, base, session):
        self.base, self.session = base, session

    def call(self, method, path, token=None, headers=None, **options):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("http") else self.base + path
        with self.session.request(method, url, headers=headers, timeout=10, **options) as response:
            response.content  # noqa: B018 - read the body before the connection goes back
            return response

    def get(self, path, token=None, **options):
        return self.call("GET", path, token, **options)

    def token(self, fake, installation_id=1):
        path = f"/app/installations/{installation_id}/access_tokens"
        response = self.call("POST", path, fake.app_jwt())
        assert response.status_code == 201, response.text
        return response.json()["token"]


@pytest.fixture
def fake():
    """A world of its own: installation 1 on octo-org/app."""
    fake = FakeGitHub()
    fake.add_installation(1)
    fake.add_repo(REPO, installation_id=1)
    return fake


@pytest.fixture
def api(fake, github_url):
    with requests.Session() as session:
        yield Api(github_url, session)
    assert fake.errors == []


def test_app_jwt_is_required_and_checked(fake, api):
    now = int(time.time())
    rejected = [
        None,
        "not-a-jwt",
        fake.app_jwt(iss="999"),
        fake.app_jwt(iss=fake.app_id),  # an integer iss: the fake wants the string
        fake.app_jwt(iat=now - 700, exp=now - 10),  # expired
        fake.app_jwt(exp=now + 900),  # more than 10 minutes after iat
        fake.app_jwt(iat=now + 60, exp=now + 600),  # issued in the future
        jwt.encode(
            {"iss": "1234", "iat": now, "exp": now + 60}, FakeGitHub().private_key_pem, "RS256"
        ),
    ]
    for token in rejected:
        response = api.get("/app/installations", token)
        assert response.status_code == 401, token
        assert response.json()["message"] == "A JSON web token could not be decoded"
    # What prmonitor will send: pyjwt, iss as a string, iat a minute back for clock drift.
    good = jwt.encode(
        {"iss": str(fake.app_id), "iat": now - 60, "exp": now + 540}, fake.private_key_pem, "RS256"
    )
    response = api.get("/app/installations", good)
    assert response.status_code == 200
    assert [(i["id"], i["account"]["login"], i["app_id"]) for i in response.json()] == [
        (1, "octo-org", fake.app_id)
    ]
    assert api.get(f"/repos/{REPO}/installation", good).json()["id"] == 1
    assert api.get("/repos/octo-org/unknown/installation", good).status_code == 404
    assert {call.auth for call in fake.calls} >= {"jwt", None}


def test_installation_token_is_issued_and_scoped_to_its_repositories(fake, api):
    fake.add_installation(2, login="other-org")
    fake.add_repo("other-org/lib", installation_id=2)
    pr = fake.open_pr(REPO, title="Fix it")
    response = api.call("POST", "/app/installations/1/access_tokens", fake.app_jwt())
    body = response.json()
    assert body["token"].startswith("ghs_") and body["expires_at"].endswith("Z")
    assert body["repository_selection"] == "selected"
    token = body["token"]
    pulls = api.get(f"/repos/{REPO}/pulls", token).json()
    assert [(p["number"], p["title"], p["head"]["sha"]) for p in pulls] == [
        (pr["number"], "Fix it", pr["head"]["sha"])
    ]
    assert api.get(f"/repos/{REPO}/pulls/{pr['number']}", token).json()["merged"] is False
    assert api.get("/repos/other-org/lib/pulls", token).status_code == 404
    assert api.get(f"/repos/{REPO}/pulls", "ghs_madeup").status_code == 401
    repos = api.get("/installation/repositories", token).json()
    assert (repos["total_count"], repos["repositories"][0]["full_name"]) == (1, REPO)
    fake.add_personal_token("ghp_personal")
    assert api.get("/repos/other-org/lib/pulls", "ghp_personal").status_code == 200
    assert [c.auth for c in fake.calls[-3:]] == ["installation", "installation", "personal"]


def test_etag_gives_304_that_is_not_counted_and_depends_on_the_token(fake, api):
    fake.add_run(REPO, fake.open_pr(REPO)["head"]["sha"])
    path = f"/repos/{REPO}/actions/runs"
    token = api.token(fake)
    first = api.get(path, token)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"') and first.headers["X-RateLimit-Remaining"] == "4999"
    again = api.get(path, token, headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", etag)
    assert again.headers["X-RateLimit-Remaining"] == "4999"
    assert fake.rate_limited_calls == 1
    # As on GitHub, another token's ETag differs: the next hour's token reads in full once.
    renewed = api.get(path, api.token(fake), headers={"If-None-Match": etag})
    assert renewed.status_code == 200 and renewed.headers["ETag"] != etag
    fake.add_run(REPO, "a" * 40)
    changed = api.get(path, token, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.json()["total_count"] == 2
    assert fake.rate_limited_calls == 3 and fake.count(status=304) == 1


def test_pages_have_githubs_link_headers(fake, api):
    numbers = [fake.open_pr(REPO)["number"] for _ in range(5)]
    fake.close_pr(REPO, numbers[0])
    token = api.token(fake)
    first = api.get(f"/repos/{REPO}/pulls?state=all&per_page=2", token)
    base = api.base + f"/repos/{REPO}/pulls?state=all&per_page=2"
    assert first.headers["Link"] == f'<{base}&page=2>; rel="next", <{base}&page=3>; rel="last"'
    seen, response = [], first
    while True:
        seen += [pr["number"] for pr in response.json()]
        if "next" not in response.links:
            break
        response = api.get(response.links["next"]["url"], token)
    assert seen == numbers[::-1]  # newest first
    assert set(response.links) == {"prev", "first"}
    assert len(api.get(f"/repos/{REPO}/pulls", token).json()) == 4  # state=open by default


def test_exhausted_rate_limit_answers_403(fake, api):
    token = api.token(fake)
    fake.set_rate_limit(1, reset_in=600)
    last = api.get(f"/repos/{REPO}/pulls", token)
    assert (last.status_code, last.headers["X-RateLimit-Remaining"]) == (200, "0")
    assert last.headers["X-RateLimit-Used"] == "5000"
    refused = api.get(f"/repos/{REPO}/pulls", token)
    assert refused.status_code == 403
    assert refused.json()["message"] == "API rate limit exceeded for installation ID 1."
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert int(refused.headers["X-RateLimit-Reset"]) >= int(time.time()) + 590


def test_injected_502s_then_the_real_answer(fake, api):
    token = api.token(fake)
    fake.inject(r"/pulls$", status=502, times=2)
    statuses = [api.get(f"/repos/{REPO}/pulls", token).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert fake.count(status=502, path=r"/pulls$", method="GET") == 2
    fake.inject(r"/pulls$", status=None, delay=0.3)
    started = time.monotonic()
    assert api.get(f"/repos/{REPO}/pulls", token).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_injected_secondary_rate_limit(fake, api):
    token = api.token(fake)
    fake.inject(r"/actions/runs", status=403, retry_after=7)
    fake.inject(r"/actions/runs", status=429, retry_after=1)
    for status in (403, 429):
        response = api.get(f"/repos/{REPO}/actions/runs", token)
        assert response.status_code == status
        assert response.json()["message"].startswith("You have exceeded a secondary rate limit")
    assert response.headers["Retry-After"] == "1"
    assert api.get(f"/repos/{REPO}/actions/runs", token).status_code == 200


def test_expired_tokens_are_bad_credentials(fake, api):
    old = api.token(fake)
    fake.expire_tokens()
    response = api.get(f"/repos/{REPO}/pulls", old)
    assert (response.status_code, response.json()["message"]) == (401, "Bad credentials")
    assert api.get(f"/repos/{REPO}/pulls", api.token(fake)).status_code == 200
    assert fake.rate_limited_calls == 1  # 401s are not counted


def test_rerun_has_new_job_ids_and_filter_all_returns_both_attempts(fake, api):
    sha = fake.open_pr(REPO)["head"]["sha"]
    run_id = fake.add_run(REPO, sha)["id"]
    fake.finish_run(run_id, {"test": "failure"})
    first_jobs = set(fake.runs[run_id]["job_ids"])
    assert fake.rerun(run_id) == 2
    token, path = api.token(fake), f"/repos/{REPO}/actions/runs/{run_id}"
    latest = api.get(f"{path}/jobs", token).json()["jobs"]
    assert {j["run_attempt"] for j in latest} == {2} and not first_jobs & {j["id"] for j in latest}
    every = api.get(f"{path}/jobs?filter=all", token).json()
    assert every["total_count"] == 4 and {j["id"] for j in every["jobs"]} > first_jobs
    run = api.get(path, token).json()
    assert (run["run_attempt"], run["status"], run["conclusion"]) == (2, "queued", None)
    first = api.get(f"{path}/attempts/1", token).json()
    assert (first["status"], first["conclusion"]) == ("completed", "failure")
    runs, jobs = fake.expected_rows()
    assert runs == {(run_id, 1, "completed", "failure", sha), (run_id, 2, "queued", None, sha)}
    failed = {job for job in jobs if job[4] == "failure"}
    assert [job[5] for job in failed] == [("Run tests",)]


def test_a_runs_life_as_webhooks_in_order(fake, api):
    pr = fake.open_pr(REPO)
    forked = fake.open_pr(REPO, author="stranger", fork=True)
    before = len(fake.events)
    run = fake.add_run(REPO, pr["head"]["sha"], jobs=("build",))
    job_id = fake.runs[run["id"]]["job_ids"][0]
    fake.start_job(job_id)
    fake.finish_job(job_id, "failure", failed_step="Lint")
    events = fake.events[before:]
    assert [(e.name, e.action) for e in events] == [
        ("workflow_run", "requested"),
        ("workflow_job", "queued"),
        ("workflow_job", "in_progress"),
        ("workflow_run", "in_progress"),
        ("workflow_job", "completed"),
        ("workflow_run", "completed"),
    ]
    statuses = [
        e.payload.get("workflow_run", e.payload.get("workflow_job"))["status"] for e in events
    ]
    assert statuses == ["queued", "queued", "in_progress", "in_progress", "completed", "completed"]
    assert all(e.payload["installation"] == {"id": 1} for e in events)
    assert [s["conclusion"] for s in events[4].payload["workflow_job"]["steps"]] == [
        "success",
        "failure",
        "skipped",
    ]
    assert events[0].payload["workflow_run"]["pull_requests"][0]["number"] == pr["number"]
    fork_run = fake.add_run(REPO, forked["head"]["sha"])
    assert fork_run["pull_requests"] == []  # GitHub's behaviour for PRs from forks
    assert fork_run["head_repository"]["full_name"] == "stranger/app"


def test_deliveries_page_by_cursor_and_redeliver(fake, api):
    fake.open_pr(REPO)
    event = fake.events[-1]
    ids = [fake.add_delivery("ping", None, 200)["id"] for _ in range(4)]
    failed = fake.add_delivery(event.name, event.action, 502, guid=event.guid)
    assert failed["status"] == "Invalid HTTP Response: 502"
    seen, url = [], "/app/hook/deliveries?per_page=2"
    while url:
        response = api.get(url, fake.app_jwt())
        seen += [d["id"] for d in response.json()]
        url = response.links.get("next", {}).get("url")
        assert url is None or "per_page=2&cursor=" in url
    assert seen == [failed["id"], *ids[::-1]]
    redelivered = []
    fake.on_redeliver = lambda *args: redelivered.append(args)
    response = api.call("POST", f"/app/hook/deliveries/{failed['id']}/attempts", fake.app_jwt())
    assert (response.status_code, response.json()) == (202, {})
    assert fake.redelivered == [failed["id"]]
    assert redelivered == [(event.guid, "pull_request", event.payload)]
    newest = api.get("/app/hook/deliveries", fake.app_jwt()).json()[0]
    assert (newest["guid"], newest["redelivery"], newest["status_code"]) == (event.guid, True, 200)
    missing = api.call("POST", "/app/hook/deliveries/1/attempts", fake.app_jwt())
    assert missing.status_code == 404
