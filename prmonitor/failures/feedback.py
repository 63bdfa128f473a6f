"""Automatic feedback: later events that contradict a verdict, recorded as feedback with
`source` auto (once per analysis). Called `related`, but a re-run of the same head passed: the
code could pass, so the PR did not cause it. Called `unrelated`, but the failure was gone after
the PR's next push: the PR's own change fixed it."""

import datetime

from prmonitor.storage import analyses
from prmonitor.storage.models import Analysis, AnalysisFeedback, Pr, WorkflowJob, utcnow

WITHIN = datetime.timedelta(days=7)
BATCH = 200


def record_contradictions(now=None):
    """Record the contradictions found among recent verdicts; how many were recorded."""
    since = (now or utcnow()) - WITHIN
    auto = AnalysisFeedback.select(AnalysisFeedback.analysis_id).where(
        AnalysisFeedback.source == "auto"
    )
    candidates = (
        Analysis.select()
        .where(
            Analysis.state == "done",
            Analysis.verdict.in_(("related", "unrelated")),
            Analysis.finished_at >= since,
            Analysis.id.not_in(auto),
        )
        .order_by(Analysis.id.desc())
        .limit(BATCH)
    )
    found = 0
    for row in candidates:
        note = contradiction(row)
        if note and analyses.add_feedback(row.id, False, note, source="auto"):
            found += 1
    return found


def contradiction(row):
    """Why a later event says the verdict was wrong, or None."""
    if row.verdict == "related" and _passed(row.head_sha, row.job_name):
        return "a re-run of the same head passed"
    if row.verdict == "unrelated" and row.pr_id is not None:
        pr = Pr.get_or_none(Pr.id == row.pr_id)
        if (
            pr
            and pr.head_sha
            and pr.head_sha != row.head_sha
            and _passed(pr.head_sha, row.job_name)
        ):
            return "the failure was gone after the PR's next push"
    return None


def _passed(head_sha, job_name):
    return (
        WorkflowJob.select()
        .where(
            WorkflowJob.head_sha == head_sha,
            WorkflowJob.job_name == job_name,
            WorkflowJob.conclusion == "success",
        )
        .exists()
    )
