"""AI analyses (analyses) and the feedback on them (analysis_feedback): one row per analysed
failure, keyed by head SHA, job name and signature, which is also its task (storage.tasks
claims it); the guards' counts; what the API, the comment and the CLI show; agreement stats."""

import datetime
import hashlib
import json

from peewee import JOIN, Case, fn

from prmonitor.storage import db
from prmonitor.storage.models import Analysis, AnalysisFeedback, Pr, WorkflowJob, iso, utcnow
from prmonitor.storage.sql import execute, read_time

VERDICTS = ("related", "unrelated", "infrastructure", "flaky", "unsure")


def key_of(job):
    """One analysis per (repository, head SHA, job name, what failed): a re-run failing the
    same way, a duplicate event or a second worker find the same row. Hashed: a signature may
    be long and multibyte (Postgres' btree takes about 2,700 bytes a key). `job.workflow` is
    the job's run (joined by the caller)."""
    what = job.failure_signature or job.error_message or ""
    whole = f"{job.workflow.repo_full_name}:{job.head_sha}:{job.job_name}:{what}"
    return f"{job.head_sha}:{hashlib.sha256(whole.encode()).hexdigest()}"


def enqueue(job, installation_id, state="due", reason=None, now=None):
    """The analysis task of a failed job (a workflow_jobs row), unless its key has one;
    `state` skipped with `reason` records a guard that held it back."""

    def render(param):
        return (
            "INSERT INTO analyses (key, job_id, pr_id, installation_id, head_sha, job_name, "
            "state, attempts, due_at, reason, created_at) VALUES "
            f"({', '.join([param] * 10)}, {param}) ON CONFLICT (key) DO NOTHING"
        )

    now = now or utcnow()
    values = [key_of(job), job.job_id, job.pr_id, installation_id, job.head_sha, job.job_name]
    values += [state, 0, now, reason, now]
    execute("analysis_enqueue", render, values)


def count_for_head(head_sha):
    """Analyses of a head that were not skipped (the per-head cap counts them)."""
    return (
        Analysis.select().where(Analysis.head_sha == head_sha, Analysis.state != "skipped").count()
    )


def new_failures_on_head(head_sha):
    """Jobs of a head (by name: a re-run's failures are the same jobs) with a failure
    classified new: more than a few is an outage, not the PR."""
    return (
        WorkflowJob.select(WorkflowJob.job_name)
        .where(WorkflowJob.head_sha == head_sha, WorkflowJob.failure_class == "new")
        .distinct()
        .count()
    )


def finished_in_last_hour(installation_id, now=None):
    """(how many analyses of the installation called Claude in the last hour, the oldest's
    time): the hourly cap."""
    since = (now or utcnow()) - datetime.timedelta(hours=1)
    rows = Analysis.select(fn.COUNT(Analysis.id), fn.MIN(Analysis.finished_at)).where(
        Analysis.installation_id == installation_id,
        Analysis.finished_at >= since,
        Analysis.model.is_null(False),
    )
    count, oldest = rows.scalar(as_tuple=True)
    return count, read_time(oldest)


def get(analysis_id):
    return Analysis.get_or_none(Analysis.id == analysis_id)


def repo_of(row):
    """The repository of an analysis' PR (None when it has none)."""
    return Pr.select(Pr.repo_full_name).where(Pr.id == row.pr_id).scalar()


def store(task_id, result, now=None):
    """The verdict (a dict of analyses columns) of a task that was just finished."""
    Analysis.update(**result, finished_at=now or utcnow()).where(Analysis.id == task_id).execute()


def for_key(key):
    return Analysis.get_or_none(Analysis.key == key)


def by_keys(keys):
    """The analyses of these keys, as the API shows them, by key."""
    keys = [k for k in keys if k]
    if not keys:
        return {}
    return {row.key: to_dict(row) for row in Analysis.select().where(Analysis.key.in_(keys))}


def skipped_on_head(head_sha, reason_start):
    """Whether an analysis of the head was skipped for a reason starting so."""
    return (
        Analysis.select()
        .where(
            Analysis.head_sha == head_sha,
            Analysis.state == "skipped",
            Analysis.reason.startswith(reason_start),
        )
        .exists()
    )


def to_dict(row):
    """An analysis as the API shows it."""
    return {
        "id": row.id,
        "state": row.state,
        "model": row.model,
        "verdict": row.verdict,
        "confidence": row.confidence,
        "explanation": row.explanation,
        "fix": row.fix,
        "evidence": json.loads(row.evidence) if row.evidence else [],
        "grounded": row.grounded,
        "reason": row.reason,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cache_read_tokens": row.cache_read_tokens,
        "cache_creation_tokens": row.cache_creation_tokens,
        "latency_ms": row.latency_ms,
        "error": row.error,
        "finished_at": iso(row.finished_at),
    }


# -- feedback ----------------------------------------------------------------------------------


def add_feedback(analysis_id, correct, note=None, who=None, source="user", now=None):
    """One piece of feedback on a verdict; an automatic one (`source` auto) once per analysis."""
    with db.writing():
        if source == "auto" and has_auto_feedback(analysis_id):
            return None
        return AnalysisFeedback.create(
            analysis_id=analysis_id,
            correct=correct,
            note=(note or None) and note[:2000],
            who=who,
            source=source,
            created_at=now or utcnow(),
        )


def has_auto_feedback(analysis_id):
    return (
        AnalysisFeedback.select()
        .where(AnalysisFeedback.analysis_id == analysis_id, AnalysisFeedback.source == "auto")
        .exists()
    )


def feedback_for(analysis_id):
    rows = AnalysisFeedback.select().where(AnalysisFeedback.analysis_id == analysis_id)
    return [
        {
            "correct": row.correct,
            "note": row.note,
            "source": row.source,
            "who": row.who,
            "created_at": iso(row.created_at),
        }
        for row in rows.order_by(AnalysisFeedback.id)
    ]


def stats():
    """Agreement by verdict and model (feedback that said right, of all feedback; how much of
    it automatic), grounding failures, tokens and latency per analysis."""
    done = Analysis.select().where(Analysis.state == "done")
    totals = done.select(
        fn.COUNT(Analysis.id),
        fn.AVG(Analysis.input_tokens),
        fn.AVG(Analysis.output_tokens),
        fn.AVG(Analysis.cache_read_tokens),
        fn.AVG(Analysis.latency_ms),
    ).scalar(as_tuple=True)
    return {
        "analyses": totals[0],
        "by_verdict": agreement_by_verdict(),
        "grounding_failures": done.where(Analysis.grounded == False).count(),  # noqa: E712
        "per_analysis": {
            "input_tokens": _round(totals[1]),
            "output_tokens": _round(totals[2]),
            "cache_read_tokens": _round(totals[3]),
            "latency_ms": _round(totals[4]),
        },
        "failed": Analysis.select().where(Analysis.state == "failed").count(),
        "skipped": Analysis.select().where(Analysis.state == "skipped").count(),
    }


def agreement_by_verdict():
    """Per (verdict, model) of done analyses: how many, their feedback, how much of it said
    right and how much was automatic, and the agreement (right / feedback)."""
    rows = (
        Analysis.select(
            Analysis.verdict,
            Analysis.model,
            fn.COUNT(fn.DISTINCT(Analysis.id)).alias("analyses"),
            fn.COUNT(AnalysisFeedback.id).alias("feedback"),
            fn.SUM(Case(None, [(AnalysisFeedback.correct == True, 1)], 0)).alias("correct"),  # noqa: E712
            fn.SUM(Case(None, [(AnalysisFeedback.source == "auto", 1)], 0)).alias("automatic"),
        )
        .join(
            AnalysisFeedback,
            on=(AnalysisFeedback.analysis_id == Analysis.id),
            join_type=JOIN.LEFT_OUTER,
        )
        .where(Analysis.state == "done")
        .group_by(Analysis.verdict, Analysis.model)
        .dicts()
    )
    return [
        {
            **row,
            "correct": row["correct"] or 0,
            "automatic": row["automatic"] or 0,  # of `feedback`: from later events, not people
            "agreement": _share(row["correct"], row["feedback"]),
        }
        for row in rows
    ]


def _share(part, whole):
    return round((part or 0) / whole, 3) if whole else None


def _round(value):
    return None if value is None else round(float(value), 1)
