"""A pull request's state and head from deliveries in any order, even within one second."""

import pytest

from prmonitor.storage.models import Pr, PrHead

from ..events import pr_event


def test_older_pull_request_event_does_not_roll_back_the_head(deliver, database):
    deliver(
        "pull_request",
        pr_event(
            "synchronize",
            head={"sha": "2" * 40, "ref": "b"},
            updated_at="2026-11-20T09:30:00Z",
            title="New title",
        ),
    )
    deliver(
        "pull_request",
        pr_event(
            "opened",
            head={"sha": "1" * 40, "ref": "b"},
            updated_at="2026-11-20T09:00:00Z",
            title="Old title",
        ),
    )
    pr = Pr.get()
    assert (pr.head_sha, pr.title) == ("2" * 40, "New title")
    assert {h.head_sha for h in PrHead.select()} == {"1" * 40, "2" * 40}


SECOND = "2026-11-21T09:00:00Z"


A, B = "a" * 40, "b" * 40


@pytest.mark.parametrize(
    "events,expected",
    [
        # A bot labels and closes (or merges) in one second; the label's delivery comes late.
        ([("closed", "closed", False, A), ("labeled", "open", False, A)], ("closed", A)),
        ([("closed", "closed", True, A), ("labeled", "open", False, A)], ("merged", A)),
        ([("closed", "closed", True, A), ("reopened", "open", False, A)], ("merged", A)),
        # Closed and reopened in one second: the reopening says it is the later one.
        ([("closed", "closed", False, A), ("reopened", "open", False, A)], ("open", A)),
        # A push and an edit in one second: only the push moves the head.
        ([("synchronize", "open", False, B), ("edited", "open", False, A)], ("open", B)),
        ([("edited", "open", False, A), ("synchronize", "open", False, B)], ("open", B)),
        # Labeled, pushed and closed in one second, the push's delivery late: the close carries
        # the new head, and the late push neither reopens the PR nor moves its head.
        ([("labeled", "open", False, A), ("closed", "closed", False, B)], ("closed", B)),
        ([("labeled", "open", False, A), ("closed", "closed", True, B)], ("merged", B)),
        (
            [
                ("labeled", "open", False, A),
                ("closed", "closed", False, B),
                ("synchronize", "open", False, B),
            ],
            ("closed", B),
        ),
    ],
)
def test_pull_request_events_of_one_second(deliver, database, events, expected):
    deliver("pull_request", pr_event("opened", head={"sha": A}, updated_at="2026-11-21T08:00:00Z"))
    for action, state, merged, head in events:
        payload = pr_event(
            action, state=state, merged=merged, head={"sha": head}, updated_at=SECOND
        )
        deliver("pull_request", payload)
    pr = Pr.get()
    assert (pr.state, pr.head_sha) == expected


def test_merged_and_closed_states(deliver, database):
    deliver(
        "pull_request",
        pr_event("closed", state="closed", merged=True, updated_at="2026-11-21T09:00:00Z"),
    )
    assert Pr.get().state == "merged"
    deliver("pull_request", pr_event("closed", number=18, state="closed", merged=False))
    assert Pr.get(Pr.pr_number == 18).state == "closed"
