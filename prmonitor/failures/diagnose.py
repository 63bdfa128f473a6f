"""The worker's diagnosis of one failed job: read its log and annotations from GitHub, pick the
line that explains the failure, store it on the job and classify the failure.

Never inside a web request: a task of the worker (poll/diagnoser.py), claimed from the queue
(storage/tasks.py) that the job's row enqueued.
"""

import logging
import time
from dataclasses import dataclass

from prmonitor.failures import analysis, classify
from prmonitor.failures.extract import best, diagnose_annotations, diagnose_lines
from prmonitor.failures.logs import read_log
from prmonitor.github import GitHubError, NotFound, RateLimited, Unavailable, downloads
from prmonitor.storage import db, diagnoses, evidence, tasks

log = logging.getLogger(__name__)

# A job's log appears some seconds after the job completes; before that GitHub answers 404.
# Past the last delay the task gives up and the failed step's name stays the job's line.
RETRY_DELAYS = (5, 10, 20, 40, 80, 160, 300, 600)
MAX_CLAIMS = len(RETRY_DELAYS) + 2  # past it (a worker dying on it each time) it gives up
ERROR_MESSAGE_MAX = 500
NEVER_RAN = "The job never ran: no runner was assigned to it and none of its steps started"


@dataclass(frozen=True)
class Diagnosis:
    """What is stored on the job. `line` None keeps the failed step's name (no log was read)."""

    source: str  # log, annotations, steps (no log could be read) or job (it never ran)
    line: str | None = None
    rule: str | None = None
    signature: str | None = None
    excerpt: str | None = None
    truncated: bool = False

    @classmethod
    def of(cls, found, source, truncated=False):
        """From an extract.Finding (None: nothing found in the log)."""
        if found is None:
            return cls(source, truncated=truncated)
        signature = None if found.generic else found.signature  # never evidence
        line = found.line[:ERROR_MESSAGE_MAX]
        return cls(source, line, found.rule, signature, found.excerpt, truncated)


class Diagnoser:
    """Diagnoses claimed tasks with one GitHub client (not shared with another thread)."""

    def __init__(self, github, log_max_bytes=256 * 2**20, analysis_limits=None):
        self.github = github
        self.log_max_bytes = log_max_bytes
        # The Config when AI analysis is on (ANTHROPIC_API_KEY): new failures get one.
        self.analysis_limits = analysis_limits

    def run(self, task):
        """Diagnose the task's job and finish the task, or give it back to retry later."""
        job = diagnoses.job_to_read(task.job_id)
        if job is None or task.attempts > MAX_CLAIMS:
            tasks.finish(task, "gave_up", "the job is not stored" if job is None else "no end")
            return "gave_up"
        if classify.never_ran(job.runner_name, job.steps):
            # Often no log at all: GitHub's annotation says why it did not run, if anything.
            found = diagnose_annotations(self.annotations(job))
            return self._store(task, job, Diagnosis("job", NEVER_RAN, "never-ran"), found)
        try:
            diagnosis = self.read(job)
        except RateLimited as exc:
            wait = max(5, round(exc.reset_at - time.time()))
            tasks.retry_later(task, wait, str(exc), spend_attempt=False)
            return "retry"
        except (NotFound, Unavailable) as exc:
            return self._not_read(task, job, exc)
        except GitHubError as exc:
            if exc.status is not None and exc.status >= 500:
                return self._not_read(task, job, exc)
            return self._give_up(task, job, exc)  # 403 (no actions:read), 410 (expired)
        return self._store(task, job, diagnosis)

    def read(self, job):
        """The Diagnosis of a job from its log and its check run's annotations."""
        return Diagnosis.of(*self.find(job))

    def find(self, job):
        """(the extract.Finding or None, where it came from, whether the log was cut): from the
        log and from the check run's annotations (GitHub's problem matchers put `file:line:
        message` errors there), the better of the two."""
        path = f"repos/{job.repo_full_name}/actions/jobs/{job.job_id}/logs"
        with downloads.stream(self.github, path, job.installation_id) as chunks:
            lines = read_log(chunks, self.log_max_bytes)
            from_log = diagnose_lines(lines)
            truncated = lines.truncated
        found = best(from_log, diagnose_annotations(self.annotations(job)))
        return found, ("log" if found is from_log else "annotations"), truncated

    def annotations(self, job):
        """The job's check-run annotations (a job's id is its check run's id); none when
        GitHub will not say: the log alone decides then.
        https://docs.github.com/en/rest/checks/runs#list-check-run-annotations"""
        path = f"repos/{job.repo_full_name}/check-runs/{job.job_id}/annotations"
        try:
            answer = self.github.get(path, {"per_page": 50}, job.installation_id, conditional=False)
        except GitHubError as exc:
            log.info("job=%s annotations not read: %s", job.job_id, exc)
            return []
        return answer.body if isinstance(answer.body, list) else []

    def fail(self, task, exc):
        """The diagnosis itself raised (a bug, not GitHub): the same log would raise again, so
        the failed step's name stays, and the task ends."""
        job = diagnoses.job_to_read(task.job_id)
        if job is None:
            tasks.finish(task, "gave_up", repr(exc))
            return "gave_up"
        return self._store(task, job, Diagnosis("steps"), state="gave_up", error=repr(exc))

    # -- ends of a task ----------------------------------------------------------------------

    def _not_read(self, task, job, exc):
        """No log yet (404) or GitHub unavailable: an annotation naming the failure settles it
        (a runner lost mid-job often has no log, but says so there); else retry later."""
        found = diagnose_annotations(self.annotations(job))
        if found is not None and not found.generic:
            return self._store(task, job, Diagnosis.of(found, "annotations"))
        if task.attempts > len(RETRY_DELAYS):
            return self._give_up(task, job, exc)
        delay = RETRY_DELAYS[task.attempts - 1]
        log.info("job=%s log not read (%s); again in %ss", job.job_id, exc, delay)
        tasks.retry_later(task, delay, str(exc))
        return "retry"

    def _give_up(self, task, job, exc):
        log.warning("job=%s log not read, keeping the failed step: %s", job.job_id, exc)
        return self._store(task, job, Diagnosis("steps"), state="gave_up", error=str(exc))

    def _store(self, task, job, diagnosis, annotation=None, state="done", error=None):
        """The job's diagnosis, its class and the task's end, in one transaction; nothing when
        the task was claimed again meanwhile (its claim expired). Then the failures of the same
        signature are classified again (after the commit: see evidence.outdate_by_signature)."""
        if annotation is not None and not annotation.generic:
            diagnosis = Diagnosis.of(annotation, diagnosis.source)
        with db.writing():
            if not tasks.finish(task, state, error):
                log.info("job=%s diagnosis dropped: the task was claimed again", job.job_id)
                return "superseded"
            diagnoses.store(job.job_id, _columns(diagnosis), diagnosis.line)
            failure_class = classify.apply(job.job_id)
        with db.writing():
            evidence.outdate_by_signature(diagnosis.signature)
        if failure_class == "new" and self.analysis_limits is not None:
            self._enqueue_analysis(job.job_id)
        log.info("job=%s diagnosed source=%s rule=%s", job.job_id, diagnosis.source, diagnosis.rule)
        return state

    def _enqueue_analysis(self, job_id):
        """After the diagnosis committed: whatever goes wrong here, the diagnosis stays."""
        try:
            with db.writing():
                analysis.enqueue(diagnoses.job_with_run(job_id), self.analysis_limits)
        except Exception:
            log.exception("job=%s analysis not enqueued", job_id)


def _columns(diagnosis):
    return {
        "failure_rule": diagnosis.rule,
        "failure_signature": diagnosis.signature,
        "failure_excerpt": diagnosis.excerpt,
        "failure_source": diagnosis.source,
        "log_truncated": diagnosis.truncated,
    }
