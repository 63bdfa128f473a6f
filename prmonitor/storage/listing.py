"""The list of tracked pull requests, a page at a time (the API's /api/prs, the dashboard)."""

import datetime
import heapq
import re
from typing import NamedTuple

from peewee import Tuple, fn

from prmonitor.storage.diagnoses import UNCLASSIFIED
from prmonitor.storage.models import EPOCH, FAILED_CONCLUSIONS, Pr, Workflow, WorkflowJob
from prmonitor.storage.queries import count_where, latest_attempt, pr_to_dict


class PrFilter(NamedTuple):
    """Which tracked PRs to list: a repository (owner/name, any case), a state, and where the
    previous page ended (PR_CURSOR's text)."""

    repo: str | None = None
    state: str | None = None
    after: str | None = None
    status: str | None = None  # one of STATUSES: the CI of the PR's head
    search: str | None = None  # a PR number, or words of the title
    visible: frozenset | None = None  # only these repositories (full names); None: all


# A PR's CI at a glance, from the latest attempt of each run of its head (an earlier push's
# red runs do not make a fixed PR red).
STATUSES = ("failing", "running", "green", "none")


# A page of PRs ends at (open, updated_at, id): "1.1764590400.42". Its rows sort by the same
# three, descending, so the next page is the rows whose triple is smaller (a keyset: no OFFSET).
# Ten digits of seconds reach the year 2286; a time past that is no page's end.
PR_CURSOR = re.compile(r"([01])\.([0-9]{1,10})\.([0-9]{1,12})")

# Each part of the list (the open PRs, then the rest) is read newest first, in the order of
# the prs indexes of migration 0006 read backwards: no sort, and no row past the page's end.
_NEWEST_FIRST = (Pr.updated_at.desc(), Pr.id.desc())


def list_prs(where=None, limit=500):
    """Tracked PRs, open first then most recently updated, with their latest CI verdict; and
    the cursor of the next page (None on the last)."""
    where = where or PrFilter()
    prs = _page(where, limit + 1)
    cursor = _cursor(prs[limit - 1]) if len(prs) > limit else None
    prs = prs[:limit]
    verdicts = _verdicts([pr.id for pr in prs])
    return [{**_listed(pr), **verdicts.get(pr.id, _NO_RUNS)} for pr in prs], cursor


def _page(where, wanted):
    """Up to `wanted` PRs after the cursor: the rest of its part, then the parts after it."""
    after = _after(where.after)
    query = Pr.select()
    if where.repo:
        query = query.where(_in_repo(where.repo))
    if where.visible is not None:
        # By any casing: a stored name may differ in case from the one GitHub lists now.
        query = query.where(
            fn.LOWER(Pr.repo_full_name).in_(sorted(r.lower() for r in where.visible))
        )
    if where.status:
        query = query.where(_with_status(where.status))
    if where.search:
        query = query.where(_matching(where.search))
    found = []
    for flag, condition in _parts(where.state):
        if after and flag > after[0]:
            continue  # a cursor among the rest is past every open PR
        since = after[1:] if after and flag == after[0] else None
        found += _part(query.where(condition), since, wanted - len(found))
        if len(found) == wanted:
            break
    return found


def _after(cursor):
    """PR_CURSOR's text as (open, updated_at, id), or None."""
    if not cursor:
        return None
    flag, seconds, pr_id = PR_CURSOR.fullmatch(cursor).groups()
    since = datetime.datetime.fromtimestamp(int(seconds), datetime.UTC).replace(tzinfo=None)
    return int(flag), since, int(pr_id)


def _parts(state):
    """(open flag, condition) of each part of the list, open PRs first; a state is in one. A PR
    of unknown state (a row from before the App) sorts with the closed ones."""
    if state:
        return [(int(state == "open"), Pr.state == state)]
    return [(1, Pr.state == "open"), (0, (Pr.state != "open") | Pr.state.is_null())]


def _in_repo(repo):
    """The PRs of `repo`: by its exact name, which an index serves, else by any casing of it
    (GitHub's names are case-insensitive), as queries.resolve_pr matches a repository."""
    if Pr.select().where(Pr.repo_full_name == repo).exists():
        return Pr.repo_full_name == repo
    return fn.LOWER(Pr.repo_full_name) == repo.lower()


def _of_head(run=Workflow):
    """The run is of its PR's current head (any head when the PR's is not known)."""
    return (run.head_sha == Pr.head_sha) | Pr.head_sha.is_null()


def _head_runs():
    """The latest attempts of the runs of Pr's head (a correlated subquery)."""
    run = Workflow.alias("run")
    where = (run.pr == Pr.id) & _of_head(run) & latest_attempt(run)
    return run, run.select(run.id).where(where)


def _with_status(status):
    run, runs = _head_runs()
    failing = fn.EXISTS(runs.where(run.conclusion.in_(FAILED_CONCLUSIONS)))
    running = fn.EXISTS(runs.where(run.status != "completed"))
    return {
        "failing": failing,
        "running": ~failing & running,
        "green": fn.EXISTS(runs) & ~failing & ~running,
        "none": ~fn.EXISTS(runs),
    }[status]


def _matching(search):
    """A PR number ("17" or "#17"), else PRs whose title holds the text (any case)."""
    text = search.strip()
    if text.lstrip("#").isdigit() and len(text.lstrip("#")) <= 10:
        return Pr.pr_number == int(text.lstrip("#"))
    return fn.LOWER(Pr.title).contains(text.lower())


def _part(query, since, wanted):
    """Up to `wanted` rows of `query` newest first, after `since` (updated_at, id) if given.

    A row of unknown time (updated_at NULL: written by hand, since ensure_pr and migration
    0006 write the epoch) sorts as the epoch; NULL would sort first on Postgres and last on
    SQLite, and no comparison admits it, so such rows are read apart and merged in."""
    timed = query.where(Pr.updated_at.is_null(False))
    untimed = query.where(Pr.updated_at.is_null())
    if since:
        timed = timed.where(Tuple(Pr.updated_at, Pr.id) < Tuple(*since))
        untimed = untimed.where(Tuple(EPOCH, Pr.id) < Tuple(*since))
    rows = list(timed.order_by(*_NEWEST_FIRST).limit(wanted))
    if len(rows) == wanted and rows[-1].updated_at > EPOCH:
        return rows  # the rows of unknown time come after all of these
    untimed = untimed.order_by(*_NEWEST_FIRST).limit(wanted)
    return list(heapq.merge(rows, untimed, key=_key, reverse=True))[:wanted]


def _key(pr):
    return pr.updated_at or EPOCH, pr.id


def _cursor(pr):
    updated = (pr.updated_at or EPOCH).replace(tzinfo=datetime.UTC)
    return f"{int(pr.state == 'open')}.{int(updated.timestamp())}.{pr.id}"


def _listed(pr):
    """A PR as the list shows it: an unknown time (the epoch, for a PR known only from a run's
    hint) is null, as it was before 0006 stored the epoch there."""
    listed = pr_to_dict(pr)
    if pr.updated_at == EPOCH:
        listed["updated_at"] = None
    return listed


_NO_RUNS = {
    "total_workflows": 0,
    "failed_workflows": 0,
    "in_progress_workflows": 0,
    "status": "none",
}


def _verdicts(pr_ids):
    """{pr id: the counts of its latest run attempts (every head's, as the API has always
    given them), and `status`: STATUSES' word for its head's}."""
    if not pr_ids:
        return {}
    of_head = _of_head()
    failed = Workflow.conclusion.in_(FAILED_CONCLUSIONS)
    going = Workflow.status != "completed"
    rows = (
        Workflow.select(
            Workflow.pr,
            fn.COUNT(Workflow.id).alias("total_workflows"),
            count_where(failed).alias("failed_workflows"),
            count_where(going).alias("in_progress_workflows"),
            count_where(of_head).alias("head"),
            count_where(of_head & failed).alias("head_failed"),
            count_where(of_head & going).alias("head_going"),
        )
        .join(Pr, on=(Workflow.pr == Pr.id))
        .where(Workflow.pr.in_(pr_ids) & latest_attempt())
        .group_by(Workflow.pr)
        .dicts()
    )
    return {row.pop("pr"): _with_verdict(row) for row in rows}


def _with_verdict(row):
    head, failed, going = (int(row.pop(key)) for key in ("head", "head_failed", "head_going"))
    status = "failing" if failed else "running" if going else "green" if head else "none"
    return {**{key: int(value) for key, value in row.items()}, "status": status}


def failure_classes(pr_ids):
    """{pr id: {class: count}} of the failed jobs of its head's latest run attempts (a job
    not diagnosed yet counts as UNCLASSIFIED)."""
    if not pr_ids:
        return {}
    of_head = _of_head()
    failure_class = fn.COALESCE(WorkflowJob.failure_class, UNCLASSIFIED)
    rows = (
        WorkflowJob.select(Workflow.pr, failure_class, fn.COUNT(WorkflowJob.id))
        .join(Workflow, on=(WorkflowJob.workflow == Workflow.id))
        .join(Pr, on=(Workflow.pr == Pr.id))
        .where(
            Workflow.pr.in_(pr_ids)
            & of_head
            & latest_attempt()
            & WorkflowJob.conclusion.in_(FAILED_CONCLUSIONS)
        )
        .group_by(Workflow.pr, failure_class)
        .tuples()
    )
    found = {}
    for pr_id, name, count in rows:
        found.setdefault(pr_id, {})[name] = int(count)
    return found
