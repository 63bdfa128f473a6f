"""The poll tests' world: three installed repositories on the fake GitHub (build_world), a
poller for it, and what converged means: the database equals GitHub's truth."""

import json

from prmonitor.poll import Poller
from prmonitor.storage.models import Pr, Workflow, WorkflowJob

from ..fakes import app_client
from ..helpers import signed_post

INSTALLATION = 7
REPOS = ("octo-org/widgets", "octo-org/gadgets", "octo-org/gizmos")


def build_world(fake):
    """Three installed repositories: PRs passing, failing, running, re-run, from a fork, and one
    merged; a push to main with no PR."""
    fake.add_installation(INSTALLATION)
    for name in REPOS:
        fake.add_repo(name, installation_id=INSTALLATION)
    widgets, gadgets, gizmos = REPOS
    passing = fake.open_pr(widgets, title="passing")
    fake.finish_run(fake.add_run(widgets, passing["head"]["sha"])["id"])
    failing = fake.open_pr(widgets, title="failing")
    run = fake.add_run(widgets, failing["head"]["sha"], jobs=("build", "test", "lint"))
    fake.finish_run(run["id"], {"test": "failure"})
    running = fake.open_pr(gadgets, title="running")
    run = fake.add_run(gadgets, running["head"]["sha"])
    fake.start_job(job_ids(fake, run["id"])[0])
    rerun = fake.open_pr(gadgets, title="re-run")
    run = fake.add_run(gadgets, rerun["head"]["sha"])
    fake.finish_run(run["id"], {"build": "failure"})
    fake.rerun(run["id"])
    fake.finish_run(run["id"])
    fork = fake.open_pr(gizmos, title="from a fork", fork=True)
    fake.finish_run(fake.add_run(gizmos, fork["head"]["sha"])["id"], {"test": "failure"})
    ready = fake.open_pr(gizmos, title="ready")
    fake.finish_run(fake.add_run(gizmos, ready["head"]["sha"])["id"])
    fake.finish_run(fake.add_run(gizmos, "f" * 40, name="Deploy", event="push")["id"])


def job_ids(fake, run_id):
    """The ids of the run's jobs on the fake, every attempt's."""
    return sorted(job_id for job_id, job in fake.jobs.items() if job["run_id"] == run_id)


def make_poller(fake, github_url, **options):
    """A poller with a client of its own for the fake (no sleeping between retries)."""
    github = app_client(fake, github_url, sleep=lambda seconds: None)
    return Poller(github, interval=1, lease_ttl=options.pop("lease_ttl", 30), **options)


def stored_rows():
    """(runs, jobs) as stored, in the shape of FakeGitHub.expected_rows()."""
    runs = {
        (w.run_id, w.run_attempt, w.status, w.conclusion, w.head_sha)
        for w in Workflow.select()
        if w.status_rank >= 0
    }
    jobs = {
        (
            j.job_id,
            j.run_id,
            j.run_attempt,
            j.status,
            j.conclusion,
            tuple(json.loads(j.failed_steps)),
        )
        for j in WorkflowJob.select()
    }
    return runs, jobs


def assert_converged(fake):
    """Every run is stored as GitHub has it, and every job of a PR's runs (a push to main has
    no PR: its jobs are not polled)."""
    want_runs, want_jobs = fake.expected_rows()
    pushes = {run_id for run_id, run in fake.runs.items() if run["event"] == "push"}
    want_jobs = {job for job in want_jobs if job[1] not in pushes}
    runs, jobs = stored_rows()
    jobs = {job for job in jobs if job[1] not in pushes}
    assert runs == want_runs
    assert jobs == want_jobs
    # No placeholder is left, and every run of a PR's head is that PR's.
    assert not Workflow.select().where(Workflow.status_rank < 0).exists()
    for pr in Pr.select():
        linked = Workflow.select().where(Workflow.pr == pr.id)
        assert {w.head_sha for w in linked} <= {h.head_sha for h in pr.heads}
    unlinked = Workflow.select().where(Workflow.pr.is_null())
    assert {w.workflow_name for w in unlinked} <= {"Deploy"}  # pushes have no PR


def deliver_events(client, events):
    """Deliver the fake's webhook events to the app, signed, each with its own GUID."""
    for event in events:
        response = signed_post(client, event.name, event.payload, delivery_id=event.guid)
        assert response.status_code in (200, 202), response.get_json()
