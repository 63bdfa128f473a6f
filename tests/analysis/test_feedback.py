"""Feedback on verdicts: POST /api/analyses/<id>/feedback stores it with who and when, stats
count it, and later events that contradict a verdict are recorded as automatic feedback."""

from prmonitor.failures.feedback import record_contradictions
from prmonitor.storage import db

from ..fakes.claude import Scripted
from .world import analyse, failing_pr, rows, sync


def test_feedback_is_stored_and_counted(client, fake, stub, diagnosis, queue):
    failing_pr(fake)
    sync(client, fake, diagnosis)
    analyse(queue)
    [row] = rows()
    url = f"/api/analyses/{row.id}/feedback"
    answer = client.post(url, json={"correct": True, "note": "yes, my change"})
    assert answer.status_code == 201
    [stored] = answer.json["feedback"]
    assert stored["correct"] is True and stored["who"] == "api" and stored["created_at"]
    client.post(url, json={"correct": False})
    assert client.post(url, json={"correct": "yes"}).status_code == 400
    assert client.post(url, data="not json").status_code == 400
    assert client.post("/api/analyses/999/feedback", json={"correct": True}).status_code == 404

    stats = client.get("/api/analyses/stats").json["stats"]
    [line] = stats["by_verdict"]
    assert (line["verdict"], line["model"], line["feedback"], line["correct"]) == (
        "related",
        "claude-test",
        2,
        1,
    )
    assert line["agreement"] == 0.5 and stats["analyses"] == 1
    assert stats["grounding_failures"] == 0 and stats["per_analysis"]["input_tokens"] > 0


def test_a_passing_rerun_contradicts_related(client, fake, stub, diagnosis, queue):
    _, run = failing_pr(fake)
    sync(client, fake, diagnosis)
    analyse(queue)
    fake.rerun(run["id"])
    fake.finish_run(run["id"])  # the same head passes: the PR did not cause it
    sync(client, fake, diagnosis)
    with db.database.connection_context():
        assert record_contradictions() == 1
        assert record_contradictions() == 0  # once
    [row] = rows()
    [auto] = client.get("/api/analyses/stats").json["stats"]["by_verdict"]
    assert (auto["feedback"], auto["correct"], auto["automatic"]) == (1, 0, 1)


def test_a_failure_gone_after_the_next_push_contradicts_unrelated(
    client, fake, stub, diagnosis, queue
):
    unrelated = {
        "verdict": "unrelated",
        "confidence": 0.7,
        "explanation": "The base branch fails the same way.",
        "fix": "",
        "evidence": ["AssertionError: assert None == []"],
    }
    stub.script.append(Scripted(tool_input=unrelated))
    pr, _ = failing_pr(fake)
    sync(client, fake, diagnosis)
    analyse(queue)
    head = fake.push("octo-org/widgets", pr["number"])
    run = fake.add_run("octo-org/widgets", head)
    fake.finish_run(run["id"])
    sync(client, fake, diagnosis)
    with db.database.connection_context():
        assert record_contradictions() == 1
    [row] = rows()
    assert row.verdict == "unrelated"
    from prmonitor.storage import analyses

    with db.database.connection_context():
        [auto] = analyses.feedback_for(row.id)
    assert auto["source"] == "auto" and auto["correct"] is False
    assert "next push" in auto["note"]
