"""Each class of failure end to end on the fake GitHub: the webhooks store the jobs, the worker
reads their logs, and the class follows from what else GitHub ran (a re-run, the base branch,
other PRs), also when that evidence arrives after the diagnosis."""

import json

from prmonitor.failures import classify
from prmonitor.storage import db

from ..poll.world import deliver_events, job_ids
from .conftest import REPO
from .test_queue import stored

GO_LOG = """\
##[group]Run go test ./...
\x1b[36;1mgo test ./...\x1b[0m
##[endgroup]
ok  	example.com/widgets/parse	0.{ms}s
--- FAIL: TestRoundTrip ({ms}.01s)
    codec_test.go:41: decode(encode(x)) = {{"id": {n}}}, want {{"id": 7}}
FAIL
FAIL	example.com/widgets/codec	0.{ms}s
##[error]Process completed with exit code 1.
"""
GENERIC_LOG = """\
##[group]Run ./scripts/check.sh
\x1b[36;1m./scripts/check.sh\x1b[0m
##[endgroup]
##[error]Process completed with exit code 1.
"""


def go_log(n):
    """The same failure as another run prints it: other durations, another value."""
    return GO_LOG.format(ms=n % 10, n=n)


def failed_run(fake, sha, log, event="pull_request", name="test"):
    """A run of `sha` whose `name` job fails with `log`; returns (run, that job's id)."""
    run = fake.add_run(REPO, sha, jobs=("build", name), event=event)
    fake.finish_run(run["id"], {name: "failure"})
    job_id = next(i for i in job_ids(fake, run["id"]) if fake.jobs[i]["name"] == name)
    fake.set_log(job_id, log)
    return run, job_id


def diagnose_all(client, fake, loop):
    deliver_events(client, fake.events)
    fake.events.clear()
    while loop.run_due():
        pass


def reclassify():
    with db.database.connection_context():
        return classify.reclassify_recent()


def evidence_of(job_id):
    return json.loads(stored(job_id).evidence)


def test_a_rerun_that_passes_makes_the_failure_flaky(client, fake, loop):
    pr = fake.open_pr(REPO)
    run, failed = failed_run(fake, pr["head"]["sha"], go_log(3))
    fake.rerun(run["id"])
    fake.finish_run(run["id"])
    diagnose_all(client, fake, loop)
    assert stored(failed).failure_class == "flaky"
    passed = evidence_of(failed)["passed"]
    assert passed["run_id"] == run["id"] and passed["run_attempt"] == 2
    assert passed["html_url"].endswith(f"/job/{passed['job_id']}")


def test_a_rerun_passing_after_the_diagnosis_turns_new_into_flaky(client, fake, loop):
    pr = fake.open_pr(REPO)
    run, failed = failed_run(fake, pr["head"]["sha"], go_log(3))
    diagnose_all(client, fake, loop)
    assert stored(failed).failure_class == "new"
    fake.rerun(run["id"])
    fake.finish_run(run["id"])
    deliver_events(client, fake.events)
    assert reclassify() == 1
    assert stored(failed).failure_class == "flaky"


def test_the_same_failure_on_the_base_branch_is_broken_base(client, fake, loop):
    _, on_main = failed_run(fake, "a" * 40, go_log(4), event="push")
    pr = fake.open_pr(REPO, base_ref="main")
    _, failed = failed_run(fake, pr["head"]["sha"], go_log(8))
    diagnose_all(client, fake, loop)
    job = stored(failed)
    assert job.failure_signature == stored(on_main).failure_signature is not None
    assert job.failure_class == "broken_base"
    (base_run,) = evidence_of(failed)["runs"]
    assert base_run["job_id"] == on_main and base_run["head_sha"] == "a" * 40


def test_a_base_run_failing_after_the_diagnosis_turns_new_into_broken_base(client, fake, loop):
    base = fake.add_run(REPO, "b" * 40, jobs=("build", "test"), event="push")  # still running
    pr = fake.open_pr(REPO, base_ref="main")
    _, failed = failed_run(fake, pr["head"]["sha"], go_log(8))
    diagnose_all(client, fake, loop)
    assert stored(failed).failure_class == "new"
    fake.finish_run(base["id"], {"test": "failure"})
    on_main = next(i for i in job_ids(fake, base["id"]) if fake.jobs[i]["name"] == "test")
    fake.set_log(on_main, go_log(5))
    diagnose_all(client, fake, loop)
    assert reclassify() == 1
    assert stored(failed).failure_class == "broken_base"


def test_a_base_run_after_the_pr_was_pushed_is_not_broken_base(client, fake, loop):
    """The PR's own failure, merged, fails the base branch's next push run the same way."""
    pr = fake.open_pr(REPO, base_ref="main")
    _, failed = failed_run(fake, pr["head"]["sha"], go_log(8))
    failed_run(fake, "d" * 40, go_log(5), event="push")
    diagnose_all(client, fake, loop)
    reclassify()
    assert stored(failed).failure_class == "new"


def test_a_generic_line_on_both_sides_is_not_broken_base(client, fake, loop):
    _, on_main = failed_run(fake, "c" * 40, GENERIC_LOG, event="push")
    pr = fake.open_pr(REPO, base_ref="main")
    _, failed = failed_run(fake, pr["head"]["sha"], GENERIC_LOG)
    diagnose_all(client, fake, loop)
    reclassify()
    job = stored(failed)
    assert job.error_message == "Process completed with exit code 1."
    assert job.failure_signature is None and stored(on_main).failure_signature is None
    assert job.failure_class == "new"


def test_the_same_failure_in_another_authors_pr_is_seen_elsewhere(client, fake, loop):
    first = fake.open_pr(REPO, author="alice")
    _, alices = failed_run(fake, first["head"]["sha"], go_log(1))
    second = fake.open_pr(REPO, author="bob")
    _, bobs = failed_run(fake, second["head"]["sha"], go_log(2))
    diagnose_all(client, fake, loop)
    found = evidence_of(bobs)
    assert stored(bobs).failure_class == "seen_elsewhere"
    assert found["count"] == 1 and found["prs"][0]["number"] == first["number"]
    reclassify()
    assert stored(alices).failure_class == "seen_elsewhere"  # once bob's arrived


def test_the_same_failure_in_the_same_authors_other_pr_is_new(client, fake, loop):
    first = fake.open_pr(REPO, author="carol")
    _, earlier = failed_run(fake, first["head"]["sha"], go_log(1))
    second = fake.open_pr(REPO, author="carol")
    _, later = failed_run(fake, second["head"]["sha"], go_log(2))
    diagnose_all(client, fake, loop)
    reclassify()
    assert stored(earlier).failure_class == stored(later).failure_class == "new"


def test_a_lost_runner_is_infrastructure_whatever_its_line(client, fake, loop):
    pr = fake.open_pr(REPO)
    run = fake.add_run(REPO, pr["head"]["sha"], jobs=("test",))
    (job_id,) = job_ids(fake, run["id"])
    fake.lose_runner(job_id)
    diagnose_all(client, fake, loop)
    job = stored(job_id)
    assert job.failure_class == "infrastructure"
    assert "runner" in evidence_of(job_id)["reason"]
