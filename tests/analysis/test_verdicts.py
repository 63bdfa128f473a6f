"""A grounded verdict stored and shown; one quoting a line it was not given stored as unsure;
malformed answers, 529 and timeouts retried by the queue while the notification goes out
without the analysis, which is edited in when it lands."""

import json

from ..fakes.claude import Scripted
from .world import REPO, analyse, drain, failing_pr, rows, sync


def test_a_grounded_verdict_is_stored_and_shown(client, fake, stub, diagnosis, queue, notifier):
    pr, _ = failing_pr(fake)
    sync(client, fake, diagnosis)
    analyse(queue)

    [row] = rows()
    assert (row.state, row.verdict, row.grounded, row.model) == (
        "done",
        "related",
        True,
        "claude-test",
    )
    assert row.input_tokens > 0 and row.output_tokens == 60 and row.latency_ms >= 0
    assert row.cache_creation_tokens > 0  # the PR's part went into the cache
    [request] = stub.requests
    assert request["model"] == "claude-test"
    assert request["tool_choice"] == {"type": "tool", "name": "record_verdict"}
    shared, own = request["messages"][0]["content"]
    assert shared["cache_control"] == {"type": "ephemeral"}
    assert "Parse empty input" in shared["text"] and "Empty input is now None." in shared["text"]
    assert "+        return None" in shared["text"]
    assert "src/parser.py" in own["text"] and "AssertionError: assert None == []" in own["text"]

    [job] = client.get(f"/api/prs/{pr['number']}/failed-jobs").json["failed_jobs"]
    analysis = job["analysis"]
    assert analysis["verdict"] == "related" and analysis["confidence"] == 0.8
    assert analysis["evidence"] and analysis["grounded"] is True

    drain(notifier)
    [comment] = fake.comments_on(REPO, pr["number"])
    assert "🤖 **related** (80%): The assertion the PR's change touches fails" in comment["body"]


def test_a_quote_that_is_not_in_the_input_makes_it_unsure(client, fake, stub, diagnosis, queue):
    invented = {
        "verdict": "unrelated",
        "confidence": 0.9,
        "explanation": "The runner ran out of disk.",
        "fix": "",
        "evidence": ["No space left on device"],
    }
    stub.script.append(Scripted(tool_input=invented))
    pr, _ = failing_pr(fake)
    sync(client, fake, diagnosis)
    analyse(queue)
    [row] = rows()
    assert (row.state, row.verdict, row.grounded) == ("done", "unsure", False)
    assert "No space left on device" in row.reason and "unrelated" in row.reason
    assert json.loads(row.evidence) == ["No space left on device"]


def test_failures_of_the_ai_hold_nothing_back(client, fake, stub, diagnosis, queue, notifier):
    stub.script += [Scripted(malformed=True), Scripted(status=529), Scripted(delay=3)]
    pr, _ = failing_pr(fake)
    sync(client, fake, diagnosis)
    drain(notifier)  # the notification does not wait for the analysis
    [comment] = fake.comments_on(REPO, pr["number"])
    assert "🤖" not in comment["body"]

    errors = []
    for _ in range(3):
        analyse(queue)
        [row] = rows()
        errors.append(row.error)
    assert row.state == "due"
    assert "malformed" in errors[0] and "529" in errors[1] and "Timeout" in errors[2]
    analyse(queue)  # then Claude answers
    [row] = rows()
    assert (row.state, row.verdict) == ("done", "related")
    assert len(stub.requests) == 4
    drain(notifier)
    [comment] = fake.comments_on(REPO, pr["number"])
    assert "🤖 **related**" in comment["body"]
    assert [c.method for c in fake.calls if "/issues/" in c.path and c.method != "GET"] == [
        "POST",
        "PATCH",
    ]


def test_a_refused_key_ends_the_analysis_with_its_error(
    client, fake, stub, diagnosis, config, github_url
):
    import anthropic

    from .conftest import make_queue

    wrong = anthropic.Anthropic(api_key="sk-ant-wrong", base_url=stub.url, max_retries=0)
    failing_pr(fake)
    sync(client, fake, diagnosis)
    queue, github = make_queue(fake, github_url, wrong, config, "analyst-2")
    analyse(queue)
    github.close()
    [row] = rows()
    assert (row.state, row.verdict) == ("failed", None) and row.error.startswith("401")


def test_show_prints_the_verdict(
    client, fake, stub, diagnosis, queue, database_url, capsys, monkeypatch
):
    from prmonitor import cli

    pr, _ = failing_pr(fake)
    sync(client, fake, diagnosis)
    analyse(queue)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli.main(["show", str(pr["number"]), "--repo", REPO]) == 0
    out = capsys.readouterr().out
    assert "    AI: related (80%, claude-test): The assertion the PR's change touches" in out
