"""No request body makes the webhook receiver answer 500, and a refused delivery leaves no rows."""

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prmonitor.storage.models import Pr, PrHead, Workflow, WorkflowJob

from ..events import HANDLED_EVENTS as HANDLED
from ..events import job_event, pr_event, run_event

SEEDS = {
    "workflow_run": run_event("completed"),
    "workflow_job": job_event("completed"),
    "pull_request": pr_event("opened"),
    "installation": {
        "action": "created",
        "installation": {"id": 1, "account": {"login": "a"}},
        "repositories": [{"id": 2, "full_name": "a/b"}],
    },
    "installation_repositories": {
        "action": "added",
        "installation": {"id": 1},
        "repositories_added": [{"id": 2, "full_name": "a/b"}],
        "repositories_removed": [],
    },
    "ping": {"zen": "Design for failure.", "hook_id": 1},
}
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.text(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False),
    st.just("\x00"),
    st.just("\ud800"),
    st.just("9" * 400),
    st.just("2026-13-45T99:99:99Z"),
    st.just("\u202e\U0001f4a5" * 50),
    st.just("x" * 70000),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def rows():
    return tuple(m.select().count() for m in (Pr, PrHead, Workflow, WorkflowJob))


def paths(value, prefix=()):
    """Every (path) into a JSON document, to pick one to mutate."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def mutate(document, path, action, replacement):
    document = copy.deepcopy(document)
    if not path:
        return replacement
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return document


def check(deliver, event, body):
    before = rows()
    response = deliver(event, body)
    assert response.status_code in (200, 202, 400), response.get_data(as_text=True)[:300]
    if response.status_code == 400:
        assert rows() == before
    return response


@FUZZ
@given(event=st.sampled_from(HANDLED), data=st.data())
def test_mutated_real_payloads_never_500(deliver, database, event, data):
    document = SEEDS[event]
    path = data.draw(st.sampled_from(list(paths(document))))
    action = data.draw(st.sampled_from(["replace", "delete"]))
    replacement = data.draw(json_values)
    check(deliver, event, json.dumps(mutate(document, path, action, replacement)).encode())


@FUZZ
@given(event=st.sampled_from([*HANDLED, "check_run", ""]), body=st.binary(max_size=400))
def test_random_bytes_never_500(deliver, database, event, body):
    check(deliver, event or "push", body)


@FUZZ
@given(event=st.sampled_from(HANDLED), cut=st.integers(min_value=0, max_value=4000))
def test_truncated_json_never_500(deliver, database, event, cut):
    body = json.dumps(SEEDS[event]).encode()
    check(deliver, event, body[: cut % max(len(body), 1)])


@FUZZ
@given(event=st.sampled_from(HANDLED), document=json_values)
def test_arbitrary_json_never_500(deliver, database, event, document):
    check(deliver, event, json.dumps(document).encode())


def test_every_integer_edge_is_refused_or_stored(deliver, database):
    fields = {
        "workflow_job": ("id", "run_id", "run_attempt"),
        "workflow_run": ("id", "run_number", "run_attempt"),
        "pull_request": ("number",),
    }
    for event, names in fields.items():
        for name in names:
            for value in (-1, 0, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 10**30, 1.5, True, "7"):
                payload = mutate(SEEDS[event], (event, name), "replace", value)
                check(deliver, event, json.dumps(payload).encode())


def test_timestamps_out_of_range_are_refused(deliver, database):
    for value in (
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2026-02-30T00:00:00Z",
        "",
        "T",
        "2026-11-20T10:00:00Z\x00",
    ):
        payload = mutate(SEEDS["workflow_job"], ("workflow_job", "started_at"), "replace", value)
        check(deliver, "workflow_job", json.dumps(payload).encode())


def test_unicode_and_nul_in_text_are_stored_cleanly(deliver, database):
    payload = job_event("completed", name="t\x00est \ud83d \U0001f600 ✓", runner_name="r" * 600)
    assert deliver("workflow_job", payload).status_code == 200
    job = WorkflowJob.get()
    assert "\x00" not in job.job_name and "\U0001f600" in job.job_name


NASTY = ["\x00", "a\ud800b", "x" * 70000, 2**31, 2**63, -1, {}, "9999-12-31T23:59:59-01:00"]


def test_every_field_of_every_payload_with_each_nasty_value(deliver, database):
    """Exhaustive where random search is thin: each leaf of each handled payload, replaced."""
    for event, document in SEEDS.items():
        for path in paths(document):
            if not path:
                continue
            for value in NASTY:
                check(deliver, event, json.dumps(mutate(document, path, "replace", value)).encode())
