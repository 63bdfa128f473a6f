"""AI analysis of a new failure: Claude is given the PR's changes and the failure (context.py,
redacted), answers through a forced tool call with a JSON schema, and the verdict is kept only
when every line it quotes is in what it was given (else it is `unsure`, with the reason).

A task of the worker (poll/analyst.py), never inside a web request; enqueued by the diagnosis
(enqueue) under guards: ANALYSIS_MAX_PER_HEAD per head, ANALYSIS_MAX_PER_HOUR per installation,
none on a head with more new failures than that (an outage, not the PR). A failing or slow AI
holds nothing back: the notification goes out without it, and is edited when it lands.
https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use#forcing-tool-use
"""

import json
import logging
import time

import anthropic

from prmonitor import metrics
from prmonitor.failures import context
from prmonitor.github import GitHubError, NotFound, RateLimited
from prmonitor.storage import analyses, db, diagnoses, evidence, outbox, tasks
from prmonitor.storage.models import utcnow

log = logging.getLogger(__name__)

RETRY_DELAYS = (30, 120, 600, 1800)  # 429, 529, timeouts, malformed answers
MAX_CLAIMS = len(RETRY_DELAYS) + 1
OUTAGE = "more than"  # the start of the reason a head's analyses were skipped for an outage
TOOL = {
    "name": "record_verdict",
    "description": "Record whether the pull request's changes caused this CI failure.",
    "input_schema": {
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": list(analyses.VERDICTS)},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "explanation": {"type": "string", "description": "Two sentences at most."},
            "fix": {"type": "string", "description": "The change most likely to fix it."},
            "evidence": {
                "type": "array",
                "items": {"type": "string"},
                "maxItems": 6,
                "description": "Lines quoted verbatim from the log excerpt or the patches.",
            },
        },
        "required": ["verdict", "confidence", "explanation", "fix", "evidence"],
    },
}
SYSTEM = (
    "You are a CI failure analyst for a GitHub pull request. Decide whether the failing job "
    "failed because of the pull request's changes (related), for a reason outside them "
    "(unrelated: e.g. the base branch is broken), because of the CI infrastructure "
    "(infrastructure: runner, network, service outage), because a test is flaky (flaky), or "
    "say unsure. Quote as evidence only lines that appear verbatim in the log excerpt or the "
    "patches you were given. Answer with the record_verdict tool."
)


class Malformed(Exception):
    """The answer did not hold a verdict in the tool's schema."""


def enqueue(job, limits):
    """After a failure was diagnosed `new` (or an unsure class): its analysis task, or a
    skipped row saying which guard held it back. `limits` is the Config. A base-branch
    push's failure belongs to no PR: there is no change to weigh it against."""
    if job is None or job.pr_id is None or not job.head_sha:
        return
    found = diagnoses.job_to_read(job.job_id)
    installation = found.installation_id if found else None
    new = analyses.new_failures_on_head(job.head_sha)
    if new > limits.analysis_max_per_head:
        reason = f"{OUTAGE} {limits.analysis_max_per_head} new failures on this head: an outage?"
        analyses.enqueue(job, installation, "skipped", reason)
    elif analyses.count_for_head(job.head_sha) >= limits.analysis_max_per_head:
        analyses.enqueue(job, installation, "skipped", "the head's analyses are capped")
    else:
        analyses.enqueue(job, installation)


class Analyzer:
    """Runs claimed analysis tasks with an Anthropic client and a GitHub client of its own."""

    def __init__(self, claude, github, config):
        self.claude, self.github = claude, github
        self.model = config.anthropic_model
        self.budget = config.analysis_input_tokens
        self.max_per_hour = config.analysis_max_per_hour
        self.max_per_head = config.analysis_max_per_head

    @classmethod
    def from_config(cls, config, github):
        """None without ANTHROPIC_API_KEY: no analysis, nothing else changes."""
        if not config.anthropic_api_key:
            return None
        claude = anthropic.Anthropic(
            api_key=config.anthropic_api_key,
            base_url=config.anthropic_base_url,
            timeout=60.0,
            max_retries=1,  # 429 and 529 come back through the queue's backoff
        )
        return cls(claude, github, config)

    # -- one task --------------------------------------------------------------------------

    def run(self, task):
        """Analyse the task's failure, or give it back, or end it; returns its end."""
        row = analyses.get(task.id)
        job = diagnoses.job_with_run(row.job_id) if row else None
        if job is None or task.attempts > MAX_CLAIMS:
            return self._end(task, "failed", error="the job is gone" if job is None else "no end")
        if analyses.new_failures_on_head(row.head_sha) > self.max_per_head:
            reason = f"{OUTAGE} {self.max_per_head} new failures on this head: an outage?"
            return self._end(task, "skipped", reason=reason)
        count, oldest = analyses.finished_in_last_hour(row.installation_id)
        if count >= self.max_per_hour:
            wait = 3600 - (utcnow() - oldest).total_seconds() if oldest else 600
            tasks.retry_later(task, max(60, wait), "hourly cap", spend_attempt=False)
            return "retry"
        try:
            prompt = self.prompt(job, evidence.pr_of(job))
        except RateLimited as exc:
            wait = max(5, exc.reset_at - time.time())
            tasks.retry_later(task, wait, str(exc), spend_attempt=False)
            return "retry"
        except GitHubError as exc:
            return self._retry(task, f"the PR's files: {exc}")
        return self._ask(task, job, prompt)

    def _ask(self, task, job, prompt):
        started = time.monotonic()
        try:
            response = self.claude.messages.create(**request_for(self.model, prompt))
        except anthropic.RateLimitError as exc:
            return self._retry(task, f"429: {exc}", _retry_after(exc))
        except (anthropic.APITimeoutError, anthropic.APIConnectionError) as exc:
            return self._retry(task, f"{type(exc).__name__}: {exc}")
        except anthropic.APIStatusError as exc:
            if exc.status_code >= 500:  # 529: overloaded
                return self._retry(task, f"{exc.status_code}: {exc}")
            return self._end(task, "failed", error=f"{exc.status_code}: {exc}"[:500])
        latency = int((time.monotonic() - started) * 1000)
        usage = _usage(response)
        try:
            answer = parse(response)
        except Malformed as exc:
            return self._retry(task, f"malformed answer: {exc}")
        result = {**verdict_of(answer, prompt["sent"]), **usage, "latency_ms": latency}
        return self._end(
            task, "done", result={**result, "model": getattr(response, "model", self.model)}
        )

    def prompt(self, job, pr):
        """The prompt of one failure of the PR (see build_prompt)."""
        files = self.pr_files(job, pr)
        title, body = (pr.title, pr.body) if pr else ("", None)
        return build_prompt(title, body, files, failure_facts(job), self.budget)

    def pr_files(self, job, pr):
        """The PR's changed files with their patches, every page (GitHub lists 3,000 at most).
        https://docs.github.com/en/rest/pulls/pulls#list-pull-requests-files"""
        if pr is None:
            return []
        path = f"repos/{pr.repo_full_name}/pulls/{pr.pr_number}/files"
        try:
            pages = self.github.get_pages(path, {"per_page": 100}, pr.installation_id, limit=30)
        except NotFound:
            return []
        return [changed_file(item) for page in pages for item in (page.body or [])]

    # -- ends ----------------------------------------------------------------------------------

    def _retry(self, task, error, delay=None):
        if task.attempts > len(RETRY_DELAYS):
            return self._end(task, "failed", error=error[:500])
        delay = max(delay or 0, RETRY_DELAYS[task.attempts - 1])
        log.info("analysis=%s retry in %ss: %s", task.id, delay, error)
        tasks.retry_later(task, delay, error)
        return "retry"

    def _end(self, task, state, result=None, reason=None, error=None):
        """The task's end and its result in one transaction, then the PR's notifications
        are due (the comment shows the verdict); nothing when the claim was lost."""
        row = analyses.get(task.id)
        with db.writing():
            if not tasks.finish(task, state, error):
                return "superseded"
            if result or reason:
                analyses.store(
                    task.id, {**(result or {}), **({"reason": reason} if reason else {})}
                )
            if row is not None and row.pr_id is not None:
                outbox.mark_pr(row.pr_id)
        verdict = (result or {}).get("verdict")
        metrics.analysed(state, verdict)
        log.info("analysis=%s %s verdict=%s model=%s", task.id, state, verdict, self.model)
        return state


def build_prompt(title, body, files, failure, budget):
    """{"content": the user message's blocks, "sent": all their text}: the PR's part (marked
    for the prompt cache: the same for every failure of a head), then the failure's."""
    pr_budget, failure_budget = context.split_budget(budget, SYSTEM)
    shared = context.pr_part(title, body, files, pr_budget)
    own = context.failure_part(failure, files, failure_budget)
    # What a quote may come from: the log excerpt and the patches, not prmonitor's headings,
    # the file list or the author's description.
    quotable = context.quotable(own) + "\n" + context.quotable(shared)
    content = [
        {"type": "text", "text": shared, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": own},
    ]
    return {"content": content, "sent": {"all": f"{shared}\n{own}", "quotable": quotable}}


def request_for(model, prompt):
    """The Messages API call: the verdict as a forced tool call (TOOL's JSON schema)."""
    return {
        "model": model,
        "max_tokens": 1024,
        "system": [{"type": "text", "text": SYSTEM}],
        "messages": [{"role": "user", "content": prompt["content"]}],
        "tools": [TOOL],
        "tool_choice": {"type": "tool", "name": TOOL["name"]},
    }


def _retry_after(exc):
    """The seconds a 429's retry-after header asks for, or None."""
    value = getattr(getattr(exc, "response", None), "headers", {}).get("retry-after", "")
    return int(value) if value.isascii() and value.isdigit() else None


def parse(response):
    """The tool call's input, checked against the schema's required fields and types."""
    calls = [b for b in getattr(response, "content", []) if getattr(b, "type", None) == "tool_use"]
    if not calls or not isinstance(calls[0].input, dict):
        raise Malformed("no record_verdict call")
    answer = calls[0].input
    if answer.get("verdict") not in analyses.VERDICTS:
        raise Malformed(f"verdict {answer.get('verdict')!r}")
    confidence = answer.get("confidence")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0 <= confidence <= 1
    ):
        raise Malformed("confidence is not a number from 0 to 1")
    quotes = answer.get("evidence")
    if not isinstance(quotes, list) or not all(isinstance(q, str) for q in quotes):
        raise Malformed("evidence is not a list of lines")
    if not isinstance(answer.get("explanation"), str):
        raise Malformed("no explanation")
    return answer


def verdict_of(answer, sent):
    """The stored verdict: as answered when every quote is in what was sent, else unsure."""
    quotes = [q for q in answer["evidence"] if q.strip()][:6]
    ok, missing = context.grounded(quotes, sent["quotable"]) if quotes else (False, None)
    result = {
        "verdict": answer["verdict"],
        "confidence": float(answer["confidence"]),
        "explanation": answer["explanation"][:1000],
        "fix": str(answer.get("fix") or "")[:1000] or None,
        "evidence": json.dumps([q[:500] for q in quotes]),
        "grounded": ok,
    }
    if not ok:
        # Nothing of an ungrounded answer is shown as if it were a verdict: the reason keeps it.
        said = f"{answer['verdict']} ({answer['confidence']})"
        why = f"quoted a line not in its input: {missing[:200]!r}" if missing else "quoted nothing"
        result.update(
            verdict="unsure",
            confidence=None,
            explanation=None,
            fix=None,
            reason=f"answered {said} but {why}; it said: {answer['explanation'][:300]}",
        )
    return result


def failure_facts(job):
    found = json.loads(job.evidence) if job.evidence else {}
    steps = json.loads(job.failed_steps or "[]")
    return {
        "workflow": job.workflow.workflow_name or job.workflow_name,
        "job": job.job_name,
        "step": steps[0] if steps else None,
        "line": job.error_message,
        "excerpt": job.failure_excerpt,
        "class": job.failure_class,
        "reason": found.get("reason"),
    }


def changed_file(item):
    return context.ChangedFile(
        filename=str(item.get("filename") or ""),
        status=str(item.get("status") or "modified"),
        additions=int(item.get("additions") or 0),
        deletions=int(item.get("deletions") or 0),
        patch=item.get("patch") if isinstance(item.get("patch"), str) else None,
    )


def _usage(response):
    usage = getattr(response, "usage", None)

    def count(name):
        value = getattr(usage, name, None)
        return int(value) if isinstance(value, int) else None

    return {
        "input_tokens": count("input_tokens"),
        "output_tokens": count("output_tokens"),
        "cache_read_tokens": count("cache_read_input_tokens"),
        "cache_creation_tokens": count("cache_creation_input_tokens"),
    }
