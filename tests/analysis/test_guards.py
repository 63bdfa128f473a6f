"""The guards: at most ANALYSIS_MAX_PER_HEAD analyses per head, ANALYSIS_MAX_PER_HOUR per
installation, none on a head with more new failures than that (an outage: the comment says
so), and one analysis per (head, job, signature) under duplicate events and two workers."""

import threading

import pytest

from prmonitor.storage import db

from ..helpers import signed_post
from ..poll.world import job_ids
from .conftest import make_queue
from .world import REPO, analyse, drain, failing_pr, rows, sync

THREE = ("lint", "test", "docs")


def log_of(name, attempt=1):
    return f"##[error]{name} failed: assertion {attempt} does not hold\n"


def fail_three(fake, attempt=1):
    pr, run = failing_pr(fake, names=THREE, failing=THREE)
    for job_id in job_ids(fake, run["id"]):
        fake.set_log(job_id, log_of(fake.jobs[job_id]["name"], attempt))
    return pr, run


@pytest.mark.parametrize("limits", [{"analysis_max_per_head": 3}])
def test_the_per_head_cap(client, fake, stub, diagnosis, queue, limits):
    pr, run = fail_three(fake)
    sync(client, fake, diagnosis)
    analyse(queue)
    fake.rerun(run["id"])  # fails again, each job another way: three more candidates
    fake.finish_run(run["id"], {name: "failure" for name in THREE})
    for job_id in job_ids(fake, run["id"])[3:]:
        fake.set_log(job_id, log_of(fake.jobs[job_id]["name"], 2))
    sync(client, fake, diagnosis)
    analyse(queue)
    states = [(row.state, row.reason) for row in rows()]
    assert [s for s, _ in states].count("done") == 3 and len(stub.requests) == 3
    assert [r for s, r in states if s == "skipped"] == ["the head's analyses are capped"] * 3


@pytest.mark.parametrize("limits", [{"analysis_max_per_hour": 2}])
def test_the_hourly_cap(client, fake, stub, diagnosis, queue, limits):
    fail_three(fake)
    sync(client, fake, diagnosis)
    queue.drain()
    assert len(stub.requests) == 2
    [waiting] = [row for row in rows() if row.state == "due"]
    assert waiting.attempts == 0 and waiting.error == "hourly cap"
    assert (waiting.due_at - waiting.created_at).total_seconds() > 3000


@pytest.mark.parametrize("limits", [{"analysis_max_per_head": 2}])
def test_an_outage_is_not_analysed_and_the_comment_says_so(
    client, fake, stub, diagnosis, queue, notifier, limits
):
    pr, _ = fail_three(fake)
    sync(client, fake, diagnosis)
    analyse(queue)
    assert stub.requests == []
    assert {row.state for row in rows()} == {"skipped"}
    drain(notifier)
    [comment] = fake.comments_on(REPO, pr["number"])
    assert "No AI analysis: more new failures on this head" in comment["body"]


def test_one_analysis_per_failure_under_duplicates_and_two_workers(
    client, fake, stub, diagnosis, github_url, claude, config
):
    fail_three(fake)
    sync(client, fake, diagnosis)
    for event in fake.events:  # delivered again, under new ids
        signed_post(client, event.name, event.payload)
    sync(client, fake, diagnosis)
    made = [make_queue(fake, github_url, claude, config, f"analyst-{i}") for i in range(2)]
    start = threading.Barrier(2)

    def work(queue):
        start.wait()
        with db.database.connection_context():
            queue.drain()

    threads = [threading.Thread(target=work, args=(queue,)) for queue, _ in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for _, github in made:
        github.close()
    assert len(rows()) == 3 and {row.state for row in rows()} == {"done"}
    assert len(stub.requests) == 3


def test_without_a_key_there_is_no_analysis(client, fake, github_url):
    from prmonitor.config import Config
    from prmonitor.poll import analyst
    from prmonitor.poll.diagnoser import DiagnosisLoop

    fake.add_personal_token("ghp_laptop")
    config = Config(github_token="ghp_laptop", github_api_url=github_url)  # no ANTHROPIC_API_KEY
    loop = DiagnosisLoop.from_config(config, threading.Event())
    failing_pr(fake)
    sync(client, fake, loop)
    loop.diagnoser.github.close()
    assert analyst.from_config(config, threading.Event()) is None
    assert rows() == []
    [job] = client.get("/api/prs/1/failed-jobs").json["failed_jobs"]
    assert job["analysis"] is None and "AssertionError" in job["error_message"]


def test_a_rerun_failing_the_same_way_is_not_analysed_again(client, fake, stub, diagnosis, queue):
    _, run = failing_pr(fake)
    sync(client, fake, diagnosis)
    analyse(queue)
    fake.rerun(run["id"])
    fake.finish_run(run["id"], {"test": "failure"})
    for job_id in job_ids(fake, run["id"]):
        fake.set_log(job_id, fake.job_logs.get(job_ids(fake, run["id"])[1]))
    sync(client, fake, diagnosis)
    analyse(queue)
    assert len(rows()) == 1 and len(stub.requests) == 1


def test_githubs_rate_limit_spends_no_attempt(client, fake, stub, diagnosis, queue):
    pr, _ = failing_pr(fake)
    sync(client, fake, diagnosis)
    fake.inject(rf"/pulls/{pr['number']}/files", status=403, retry_after=120)
    analyse(queue)
    [row] = rows()
    assert (row.state, row.attempts) == ("due", 0) and "rate limit" in row.error
    assert stub.requests == []
