"""The GitHub client over real HTTP against the loopback fake: App JWT, token cache, ETags,
pagination, retries, rate limits."""

import dataclasses
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from prmonitor.github import (
    GitHub,
    GitHubError,
    NotFound,
    RateLimited,
    Unavailable,
    app_jwt,
    downloads,
)

from ..fakes import app_client

REPO = "octo-org/widgets"


class MemoryEtags:
    """The ETag store's interface, in memory: the client only reads it; callers save."""

    def __init__(self):
        self.pages = {}

    def get(self, key):
        page = self.pages.get(key)
        return dataclasses.replace(page, not_modified=True) if page else None

    def save(self, page):
        self.pages[page.cache_key] = page


@pytest.fixture
def github_options():
    """The shared `github` client fixture, with ETags kept in memory."""
    return {"etags": MemoryEtags()}


def github_client(fake, github_url, **options):
    """A client of its own, for tests that set its options (sleep, ...)."""
    return app_client(fake, github_url, etags=MemoryEtags(), **options)


def test_app_jwt_claims_follow_githubs_rules(fake):
    now = int(time.time())
    token = app_jwt(fake.app_id, fake.private_key_pem, now=now)
    public = load_pem_private_key(fake.private_key_pem.encode(), None).public_key()
    claims = jwt.decode(token, public, algorithms=["RS256"])
    assert claims["iss"] == str(fake.app_id)  # a string: PyJWT >= 2.11 refuses an integer
    assert claims["iat"] == now - 60  # clock drift
    assert 0 < claims["exp"] - now <= 600  # at most 10 minutes ahead
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_installation_token_is_minted_once_and_shared_by_threads(fake, github):
    def read():
        github.get(f"repos/{REPO}/pulls", installation=7, conditional=False)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read()
    assert fake.count(method="POST", path=r"/access_tokens$") == 1
    assert fake.count(path=r"/pulls$", status=200) == 9


def test_a_token_near_expiry_is_minted_again(fake, github_url):
    fake.token_lifetime = 200  # under the client's five-minute margin
    github = github_client(fake, github_url)
    github.get(f"repos/{REPO}/pulls", installation=7)
    github.get(f"repos/{REPO}/pulls", installation=7, conditional=False)
    github.close()
    assert fake.count(method="POST", path=r"/access_tokens$") == 2


def test_an_expired_token_mid_cycle_is_replaced_once(fake, github):
    github.get(f"repos/{REPO}/pulls", installation=7)
    fake.expire_tokens()
    page = github.get(f"repos/{REPO}/pulls", installation=7, conditional=False)
    assert page.body == []
    assert fake.count(status=401) == 1
    assert fake.count(method="POST", path=r"/access_tokens$") == 2


def test_conditional_get_reuses_the_stored_body_on_304(fake, github):
    fake.open_pr(REPO, title="first")
    first = github.get(f"repos/{REPO}/pulls", installation=7)
    github.etags.save(first)
    second = github.get(f"repos/{REPO}/pulls", installation=7)
    assert second.not_modified and second.body == first.body
    assert fake.count(status=304) == 1
    assert github.stats.take() == {
        "calls": 3,  # the token, then 200, then 304
        "not_modified": 1,
        "counted": 1,
        "rate_limited": 0,
        "retries": 0,
    }
    fake.open_pr(REPO, title="second")
    third = github.get(f"repos/{REPO}/pulls", installation=7)
    assert not third.not_modified and len(third.body) == 2


def test_an_unsaved_page_is_fetched_in_full_again(fake, github):
    github.get(f"repos/{REPO}/pulls", installation=7)
    github.get(f"repos/{REPO}/pulls", installation=7)
    assert fake.count(status=304) == 0


def test_pages_follow_the_link_header(fake, github):
    for _ in range(5):
        fake.open_pr(REPO)
    pages = github.get_pages(f"repos/{REPO}/pulls", {"per_page": 2}, installation=7)
    assert [len(page.body) for page in pages] == [2, 2, 1]
    numbers = [pull["number"] for page in pages for pull in page.body]
    assert sorted(numbers) == [1, 2, 3, 4, 5]


def test_5xx_and_timeouts_are_retried_with_backoff(fake, github):
    fake.inject(r"/pulls$", status=502, times=2)
    assert github.get(f"repos/{REPO}/pulls", installation=7).body == []
    fake.inject(r"/pulls$", status=None, delay=3, times=1)  # past the 2 s read timeout
    assert github.get(f"repos/{REPO}/pulls", installation=7, conditional=False).body == []
    assert github.stats.take()["retries"] == 3


def test_a_lasting_outage_raises_unavailable(fake, github):
    fake.inject(r"/pulls$", status=503, times=10)
    with pytest.raises(Unavailable):
        github.get(f"repos/{REPO}/pulls", installation=7)
    assert fake.count(path=r"/pulls$") == github.attempts


def test_a_secondary_rate_limit_is_waited_out(fake, github_url):
    slept = []
    github = github_client(fake, github_url, sleep=slept.append)
    fake.inject(r"/pulls$", status=403, retry_after=2)
    assert github.get(f"repos/{REPO}/pulls", installation=7).body == []
    github.close()
    assert slept == [2]
    assert github.stats.rate_limited == 1


def test_a_long_retry_after_ends_the_call_without_sleeping(fake, github_url):
    slept = []
    github = github_client(fake, github_url, sleep=slept.append)
    fake.inject(r"/pulls$", status=429, retry_after=3600)
    with pytest.raises(RateLimited) as raised:
        github.get(f"repos/{REPO}/pulls", installation=7)
    github.close()
    assert slept == [] and raised.value.reset_at > time.time() + 3000


def test_a_retry_after_that_is_not_a_whole_number_counts_as_absent(fake, github_url):
    slept = []
    github = github_client(fake, github_url, sleep=slept.append)
    fake.inject(r"/pulls$", status=429, retry_after="\u00b2")  # isdigit() says yes, int() no
    page = github.get(f"repos/{REPO}/pulls", installation=7)
    github.close()
    # Without a usable Retry-After, a minute (GitHub's advice), then the call again.
    assert (slept, page.body) == ([60], [])


def test_a_spent_rate_limit_stops_all_calls_until_the_reset(fake, github):
    fake.set_rate_limit(1, reset_in=600)
    github.get(f"repos/{REPO}/pulls", installation=7)  # spends the last call
    calls = len(fake.calls)
    with pytest.raises(RateLimited):
        github.get(f"repos/{REPO}/actions/runs", installation=7)
    assert len(fake.calls) == calls  # not even asked: GitHub would refuse it


def test_a_primary_limit_answer_raises_rate_limited(fake, github):
    github.installation_token(7)
    fake.set_rate_limit(0, reset_in=600)
    with pytest.raises(RateLimited):
        github.get(f"repos/{REPO}/pulls", installation=7)
    assert fake.count(status=403) == 1


def test_not_found_and_other_errors_are_distinct(github):
    with pytest.raises(NotFound):
        github.get(f"repos/{REPO}/pulls/999", installation=7)
    with pytest.raises(GitHubError):
        github.get("repos/someone/else/pulls", installation=7)


def test_token_mode_uses_the_token_and_no_jwt(fake, github_url):
    fake.add_personal_token("ghp_laptop")
    github = GitHub(github_url, token="ghp_laptop", etags=MemoryEtags(), backoff=0.01)
    assert github.get(f"repos/{REPO}/pulls").body == []
    github.close()
    assert fake.calls[-1].auth == "personal"
    assert fake.count(method="POST") == 0


def test_a_job_log_is_fetched_from_its_signed_url_without_the_token(fake, github):
    pr = fake.open_pr(REPO)
    run = fake.add_run(REPO, pr["head"]["sha"], jobs=("test",))
    fake.finish_run(run["id"], {"test": "failure"})
    job_id = next(job_id for job_id, job in fake.jobs.items() if job["run_id"] == run["id"])
    path = f"repos/{REPO}/actions/jobs/{job_id}/logs"
    with downloads.stream(github, path, installation=7) as chunks:
        log = b"".join(chunks).decode()
    assert "##[error]Process completed with exit code 1." in log
    blob = fake.calls[-1]
    assert blob.path.startswith("/_blobs/job-logs/") and blob.auth is None
    assert blob.status == 200


def test_a_lasting_secondary_limit_backs_off_then_blocks_the_budget(fake, github_url):
    slept = []
    github = github_client(fake, github_url, sleep=slept.append)
    github.installation_token(7)
    message = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}
    fake.inject(r"/pulls$", status=403, body=message, times=10)  # no Retry-After
    with pytest.raises(RateLimited) as raised:
        github.get(f"repos/{REPO}/pulls", installation=7)
    assert slept == [60]  # a minute, then two: too long to wait inside a call
    assert raised.value.reset_at > time.time() + 100
    calls = len(fake.calls)
    with pytest.raises(RateLimited):
        github.get(f"repos/{REPO}/actions/runs", installation=7)
    github.close()
    assert len(fake.calls) == calls  # nothing more on that budget until then
