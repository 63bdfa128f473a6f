"""GET /api/prs: filtered by repository and state, a page at a time, 400 for bad parameters."""

import datetime

import pytest

from prmonitor.storage.models import Pr

T0 = datetime.datetime(2026, 11, 1)


@pytest.fixture
def prs(database):
    """25 PRs in two repositories: every third closed, one of unknown time, ties in time."""
    for number in range(1, 26):
        Pr.create(
            pr_number=number,
            repo_full_name="acme/widgets" if number % 2 else "acme/gadgets",
            state="closed" if number % 3 == 0 else "open",
            updated_at=None if number == 5 else T0 + datetime.timedelta(minutes=number % 7),
        )


def numbers(response):
    assert response.status_code == 200, response.json
    return [pr["pr_number"] for pr in response.json["prs"]]


def test_pages_follow_each_other_without_gaps_or_repeats(client, prs):
    whole = numbers(client.get("/api/prs"))
    assert len(whole) == 25 and client.get("/api/prs").json["next"] is None
    paged, after = [], None
    while True:
        query = {"limit": 4, **({"after": after} if after else {})}
        response = client.get("/api/prs", query_string=query)
        paged += numbers(response)
        after = response.json["next"]
        if after is None:
            break
    assert paged == whole
    states = [pr["state"] for pr in client.get("/api/prs").json["prs"]]
    assert states == sorted(states, key=lambda state: state != "open")  # open first


def test_filters_by_repository_and_state(client, prs):
    widgets = numbers(client.get("/api/prs?repo=acme/widgets"))
    assert sorted(widgets) == list(range(1, 26, 2))
    assert numbers(client.get("/api/prs?repo=ACME/Widgets")) == widgets
    closed = numbers(client.get("/api/prs?state=closed&repo=acme/gadgets"))
    assert sorted(closed) == [6, 12, 18, 24]
    assert numbers(client.get("/api/prs?repo=nobody/here")) == []


@pytest.mark.parametrize(
    "query,message",
    [
        ("repo=garbage", "repo must look like owner/name"),
        ("repo=a/b/c", "repo must look like owner/name"),
        ("state=draft", "state must be one of open, closed, merged"),
        ("limit=0", "limit must be a whole number from 1 to 500"),
        ("limit=501", "limit must be a whole number from 1 to 500"),
        ("after=yesterday", "after must be the `next` of the previous page"),
        ("after=1.999999999999.1", "after must be the `next` of the previous page"),
    ],
)
def test_bad_parameters_are_400(client, prs, query, message):
    response = client.get(f"/api/prs?{query}")
    assert (response.status_code, response.json["error"]) == (400, message)


def test_a_number_past_the_stored_range_names_the_bound(client):
    response = client.get("/api/prs/2147483648/workflows")
    assert response.status_code == 400
    assert (
        response.json["error"]
        == "pull request number must be a whole number from 1 to 2,147,483,647"
    )
