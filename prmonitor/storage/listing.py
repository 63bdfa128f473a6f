"""The list of tracked pull requests, a page at a time (the API's /api/prs, the dashboard)."""

import datetime
import re
from typing import NamedTuple

from peewee import Case, Tuple, fn

from prmonitor.storage.models import EPOCH, FAILED_CONCLUSIONS, Pr, Workflow
from prmonitor.storage.queries import count_where, latest_attempt, pr_to_dict


class PrFilter(NamedTuple):
    """Which tracked PRs to list: a repository (owner/name, any case), a state, and where the
    previous page ended (PR_CURSOR's text)."""

    repo: str | None = None
    state: str | None = None
    after: str | None = None


# A page of PRs ends at (open, updated_at, id): "1.1764590400.42". Its rows sort by the same
# three, descending, so the next page is the rows whose triple is smaller (a keyset: no OFFSET).
# Ten digits of seconds reach the year 2286; a time past that is no page's end.
PR_CURSOR = re.compile(r"([01])\.([0-9]{1,10})\.([0-9]{1,12})")


def list_prs(where=None, limit=500):
    """Tracked PRs, open first then most recently updated, with their latest CI verdict; and
    the cursor of the next page (None on the last)."""
    where = where or PrFilter()
    is_open = Case(None, [(Pr.state == "open", 1)], 0)
    updated = fn.COALESCE(Pr.updated_at, EPOCH)
    query = Pr.select(Pr, is_open.alias("open_first"))
    if where.repo:
        query = query.where(fn.LOWER(Pr.repo_full_name) == where.repo.lower())
    if where.state:
        query = query.where(Pr.state == where.state)
    if where.after:
        flag, seconds, pr_id = PR_CURSOR.fullmatch(where.after).groups()
        since = datetime.datetime.fromtimestamp(int(seconds), datetime.UTC).replace(tzinfo=None)
        query = query.where(Tuple(is_open, updated, Pr.id) < Tuple(int(flag), since, int(pr_id)))
    prs = list(query.order_by(is_open.desc(), updated.desc(), Pr.id.desc()).limit(limit + 1))
    cursor = _cursor(prs[limit - 1]) if len(prs) > limit else None
    prs = prs[:limit]
    verdicts = _verdicts([pr.id for pr in prs])
    return [{**pr_to_dict(pr), **verdicts.get(pr.id, _NO_RUNS)} for pr in prs], cursor


def _cursor(pr):
    updated = (pr.updated_at or EPOCH).replace(tzinfo=datetime.UTC)
    return f"{pr.open_first}.{int(updated.timestamp())}.{pr.id}"


_NO_RUNS = {"total_workflows": 0, "failed_workflows": 0, "in_progress_workflows": 0}


def _verdicts(pr_ids):
    if not pr_ids:
        return {}
    rows = (
        Workflow.select(
            Workflow.pr,
            fn.COUNT(Workflow.id).alias("total_workflows"),
            count_where(Workflow.conclusion.in_(FAILED_CONCLUSIONS)).alias("failed_workflows"),
            count_where(Workflow.status != "completed").alias("in_progress_workflows"),
        )
        .where(Workflow.pr.in_(pr_ids) & latest_attempt())
        .group_by(Workflow.pr)
        .dicts()
    )
    return {row.pop("pr"): row for row in rows}
