"""The check run: one named prmonitor per head SHA, concluded neutral, created once and then
patched; an installation that has not granted `checks: write` is skipped, said once."""

import json
import logging

from .world import REPO, drain, failing_run, sync, writes


def test_one_check_run_per_head_created_then_patched(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO)
    run = failing_run(fake, pr)
    sync(client, fake, diagnosis)
    drain(notifier)
    [check] = fake.check_runs.values()
    assert (check["name"], check["head_sha"]) == ("prmonitor", pr["head"]["sha"])
    assert (check["status"], check["conclusion"]) == ("completed", "neutral")
    assert check["output"]["title"] == "❌ 1 new failure"
    assert "AssertionError" in check["output"]["summary"]
    result = json.loads(check["output"]["text"].strip("`").removeprefix("json"))
    assert result["failures"][0]["job"] == "test" and result["green"] is False

    fake.rerun(run["id"])
    fake.finish_run(run["id"])
    sync(client, fake, diagnosis)
    drain(notifier)
    assert len(fake.check_runs) == 1
    assert check["id"] in fake.check_runs and fake.check_runs[check["id"]]["output"]["title"] == (
        "✅ All checks green"
    )
    assert writes(fake, "checks") == [
        ("POST", f"/repos/{REPO}/check-runs"),
        ("PATCH", f"/repos/{REPO}/check-runs/{check['id']}"),
    ]

    # A new push: a check run of its own on the new head.
    fake.push(REPO, pr["number"])
    new_head = fake.prs[(REPO, pr["number"])]["head"]["sha"]
    failing_run(fake, fake.prs[(REPO, pr["number"])])
    sync(client, fake, diagnosis)
    drain(notifier)
    assert sorted(c["head_sha"] for c in fake.check_runs.values()) == sorted(
        [pr["head"]["sha"], new_head]
    )


def test_without_checks_write_the_channel_is_skipped(client, fake, diagnosis, notifier, caplog):
    fake.set_permission(7, "checks", "read")
    pr = fake.open_pr(REPO)
    run = failing_run(fake, pr)
    sync(client, fake, diagnosis)
    with caplog.at_level(logging.WARNING, "prmonitor.notify"):
        drain(notifier)
        fake.rerun(run["id"])
        fake.finish_run(run["id"])
        sync(client, fake, diagnosis)
        drain(notifier)
    assert fake.check_runs == {}
    assert len(fake.comments_on(REPO, pr["number"])) == 1  # nothing else breaks
    refused = [r for r in caplog.records if "checks: write" in r.getMessage()]
    assert len(refused) == 1
    assert fake.count(status=403, path=f"/repos/{REPO}/check-runs", method="POST") == 1
