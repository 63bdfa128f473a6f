"""A diagnosed failure's class (infrastructure, flaky, broken_base, seen_elsewhere or new) and the
evidence for it, stored on its job and recomputed as later evidence arrives.

When several classes hold, the first of CLASSES wins. An infrastructure failure says nothing about
the code, whatever else holds; a pass on the same commit is direct proof the code can pass; the
same failure on the base branch explains it better than the same failure in other PRs; `new` is
what is left: most likely the PR's own failure. A generic line (no signature) is never evidence
that two failures are the same, so it never makes broken_base or seen_elsewhere.
"""

import datetime
import functools
import json

from prmonitor import metrics
from prmonitor.failures.rules import RULES
from prmonitor.storage import db, evidence, outbox
from prmonitor.storage.diagnoses import FAILURE_CLASSES
from prmonitor.storage.models import FAILED_CONCLUSIONS, utcnow

CLASSES = FAILURE_CLASSES  # in precedence order: the first that holds wins
SEEN_WITHIN = datetime.timedelta(days=7)
EXAMPLES = 5  # links kept in an evidence object


def apply(job_id, now=None):
    """Compute and store the class and evidence of the failed job with GitHub's id `job_id`,
    after its diagnosis was stored; returns the class (None: no such failed job). Its PR's
    notifications are due (prmonitor.notify)."""
    job = evidence.failed_job(job_id)
    if job is None or job.conclusion not in FAILED_CONCLUSIONS:
        return None
    failure_class, found = classify(job, now)
    evidence.store_class(job.id, failure_class, compact(found))
    metrics.diagnosed(failure_class)
    if job.pr_id is not None:
        outbox.mark_pr(job.pr_id)
    return failure_class


def reclassify_recent(now=None, days=7, limit=50):
    """Classify again the failures diagnosed in the last `days` whose evidence may have changed
    (storage.evidence outdates them: a pass on their commit, a failure of their signature),
    at most `limit` of them; returns how many got a new class or new evidence."""
    now = _second(now)
    results, changed = [], 0
    for job_id in evidence.reclassify_candidates(now - datetime.timedelta(days=days), limit):
        job = evidence.failed_job(job_id)
        if job is None:
            continue
        failure_class, found = classify(job, now)
        text = compact(found)
        new = (failure_class, text) != (job.failure_class, job.evidence)
        changed += new
        results.append((job.id, failure_class, text, job.pr_id if new else None))
    if results:
        with db.writing():
            for row_id, failure_class, text, pr_id in results:
                evidence.store_class(row_id, failure_class, text, now)
                if pr_id is not None:
                    outbox.mark_pr(pr_id)  # a new class or evidence: notifications say so
    return changed


def classify(job, now=None):
    """(class, evidence object) of a stored failed job (an evidence.failed_job row)."""
    pr = evidence.pr_of(job)
    for failure_class, find in _FINDERS:
        found = find(job, pr, _second(now))
        if found is not None:
            return failure_class, found
    return "new", {"reason": _new_reason(job, pr)}


def compact(found):
    """An evidence object as the stored JSON text: compact, keys sorted (so equal is equal)."""
    return json.dumps(found, separators=(",", ":"), sort_keys=True)


def _second(now):
    return (now or utcnow()).replace(microsecond=0)


# -- the classes, in precedence order -----------------------------------------------------------


def infrastructure(job, pr, now):
    """{"reason", "rule"?} when the runner, not the code, failed: GitHub could not start the job,
    no runner ever took it, or the failing line is an infrastructure rule's."""
    if job.conclusion == "startup_failure":
        return {"reason": "GitHub could not start the job (startup_failure)"}
    if never_ran(job.runner_name, job.steps):
        return {"reason": "no runner was ever assigned to the job and none of its steps ran"}
    if is_infrastructure_rule(job.failure_rule):
        reason = f"the failing line is an infrastructure failure (rule {job.failure_rule})"
        return {"reason": reason, "rule": job.failure_rule}
    return None


def never_ran(runner_name, steps_json):
    """No runner was ever assigned and no step started: a runner lost or never found. Such a
    job often has no log at all (404 for good): its payload is the evidence."""
    try:
        steps = json.loads(steps_json or "[]")
    except ValueError:
        steps = []
    started = any(step.get("started_at") or step.get("conclusion") for step in steps)
    return not runner_name and not started


def is_infrastructure_rule(name):
    """Whether prmonitor.failures.rules has an infrastructure rule named `name`."""
    return bool(name) and name in _infrastructure_rules()


@functools.cache
def _infrastructure_rules():
    return frozenset(rule.name for rule in RULES if rule.infrastructure)


def flaky(job, pr, now):
    """{"reason", "passed"} when the same job passed on the same commit: a later attempt of the
    same run, or another run of the same workflow and event."""
    passed = evidence.passing_job(job) if job.job_name else None
    if passed is None:
        return None
    if passed["run_id"] == job.run_id:
        where = f"attempt {passed['run_attempt']} of the same run"
    else:
        where = f"run {passed['run_id']} of the same commit"
    return {"reason": f"{job.job_name} passed on {where}", "passed": passed}


def broken_base(job, pr, now):
    """{"reason", "base_ref", "runs"} when the same job failed with the same signature on push
    runs of the PR's base branch, around when the PR's head was pushed (its run's creation)."""
    if pr is None or not pr.base_ref or not job.job_name or job.failure_signature is None:
        return None
    pushed = job.workflow.created_at or job.created_at or now
    runs = evidence.base_failures(job, pr.base_ref, pushed)
    if not runs:
        return None
    reason = f"{job.job_name} fails the same way on {pr.base_ref}"
    return {"reason": reason, "base_ref": pr.base_ref, "runs": runs[:EXAMPLES]}


def seen_elsewhere(job, pr, now):
    """{"reason", "count", "prs"} when the same signature failed in other authors' PRs of the
    repository within SEEN_WITHIN before this failure (or since)."""
    if pr is None or not pr.author or job.failure_signature is None:
        return None
    since = (job.completed_at or job.created_at or now) - SEEN_WITHIN
    others = evidence.other_pr_failures(job, pr, since)
    if not others:
        return None
    count = len(others)
    reason = f"the same failure in {count} other pull request{'s' if count > 1 else ''}"
    return {"reason": reason, "count": count, "prs": others[:EXAMPLES]}


_FINDERS = (
    ("infrastructure", infrastructure),
    ("flaky", flaky),
    ("broken_base", broken_base),
    ("seen_elsewhere", seen_elsewhere),
)


def _new_reason(job, pr):
    if job.failure_source == "steps":
        return "no pass on the same commit; its log could not be read"
    if job.failure_signature is None:
        return "no pass on the same commit; the failing line is generic, so it is not matched"
    if pr is None:
        return "no pass on the same commit"
    return "no pass on the same commit, nor the same failure on the base branch or in other PRs"
