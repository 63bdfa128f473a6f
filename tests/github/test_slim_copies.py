"""The slim copies the poller keeps in its ETag store (payloads.slim_run, payloads.slim_pull)
hold everything the parsers read: on a 304 the poller parses the stored copy instead of GitHub's
answer, so a key a copy drops would be lost, or read as absent, from then on.

Over the project's fixtures and every published example of a run or a pull request (webhooks and
REST), two checks: the copy parses to the same rows as the original, and every key the parsers
are seen to read (recorded by a dict that logs its reads) is kept, so a parser that starts to
read a new key fails here even when no example has that key (if the examples reach that read).
"""

import copy
import json

import pytest

from prmonitor.github import payloads

from ..events import FIXTURES, OCTOKIT

INSTALLATION = 42
ALL = "*"  # a recorded read of every key of an object (iteration, items(), ...)
PROBE = "probe"


def _load(path):
    return json.loads(path.read_text())


def _examples(event):
    """(name, payload) of each fixture and published webhook example that has an `event` object."""
    paths = [*sorted(FIXTURES.glob("*.json")), *sorted((OCTOKIT / "webhooks").glob("*/*.json"))]
    for path in paths:
        payload = _load(path)
        if isinstance(payload.get(event), dict):
            yield f"{path.parent.name}/{path.name}", payload


def _rest(name):
    path = OCTOKIT / "rest" / f"{name}.json"
    assert path.is_file(), f"{path} is missing from the published examples"
    return _load(path)


def _runs():
    """(name, run, repository) for every workflow run object in the examples."""
    cases = [(name, p["workflow_run"], p["repository"]) for name, p in _examples("workflow_run")]
    if (OCTOKIT / "rest").is_dir():
        run = _rest("actions-get-workflow-run")
        cases.append(("rest/actions-get-workflow-run.json", run, run["repository"]))
        for i, run in enumerate(_rest("actions-list-workflow-runs-for-repo")["workflow_runs"]):
            cases.append(
                (f"rest/actions-list-workflow-runs-for-repo.json[{i}]", run, run["repository"])
            )
    return cases


def _pulls():
    """(name, pull request, repository) for every pull request object in the examples."""
    cases = [(name, p["pull_request"], p["repository"]) for name, p in _examples("pull_request")]
    if (OCTOKIT / "rest").is_dir():
        pull = _rest("pulls-get")
        cases.append(("rest/pulls-get.json", pull, pull["base"]["repo"]))
    return cases


RUNS, PULLS = _runs(), _pulls()


def _ids(cases):
    return [name for name, _, _ in cases]


def _stored(slim):
    """The copy as the ETag store gives it back: through JSON (poll/etags.py)."""
    return json.loads(json.dumps(slim))


def _repo_ids(run, repo):
    """The run's repository and every repository its pull_requests name: hints for each."""
    ids = {repo["id"]}
    for hint in run.get("pull_requests") or []:
        ids.add(((hint.get("base") or {}).get("repo") or {}).get("id"))
    return sorted(i for i in ids if isinstance(i, int))


# -- the copy parses to the same rows ------------------------------------------------------


def test_there_are_examples_to_check():
    assert any(name.endswith(".json") for name in _ids(RUNS))
    assert any(name.endswith(".json") for name in _ids(PULLS))
    # At least one run whose hints survive the filter, so that comparing hints means something.
    assert any(payloads.pull_request_hints(run, repo["id"]) for _, run, repo in RUNS)


@pytest.mark.parametrize("name,run,repo", RUNS, ids=_ids(RUNS))
def test_a_slim_run_parses_as_the_run(name, run, repo):
    slim = _stored(payloads.slim_run(run))
    assert payloads.parse_run(slim, repo, INSTALLATION) == payloads.parse_run(
        run, repo, INSTALLATION
    )
    for repo_id in _repo_ids(run, repo):
        assert payloads.pull_request_hints(slim, repo_id) == payloads.pull_request_hints(
            run, repo_id
        )


@pytest.mark.parametrize("name,pull,repo", PULLS, ids=_ids(PULLS))
def test_a_slim_pull_parses_as_the_pull(name, pull, repo):
    slim = _stored(payloads.slim_pull(pull))
    assert payloads.parse_pull_request(slim, repo, INSTALLATION) == payloads.parse_pull_request(
        pull, repo, INSTALLATION
    )


# -- every key the parsers read is kept ----------------------------------------------------


class Recording(dict):
    """A dict (and, wrapped the same way, each object in it) that logs the path of every key
    read through get, [], `in` or iteration into `reads`."""

    def __init__(self, data, reads, path=()):
        super().__init__(
            {
                key: Recording(value, reads, (*path, key)) if isinstance(value, dict) else value
                for key, value in data.items()
            }
        )
        self._reads, self._path = reads, path

    def _read(self, key):
        self._reads.add((*self._path, key))

    def get(self, key, default=None):
        self._read(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self._read(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self._read(key)
        return super().__contains__(key)

    def _read_all(self):
        self._read(ALL)

    def __iter__(self):
        self._read_all()
        return super().__iter__()

    def keys(self):
        self._read_all()
        return super().keys()

    def values(self):
        self._read_all()
        return super().values()

    def items(self):
        self._read_all()
        return super().items()


MISSING = object()


def _at(data, path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return MISSING
        data = dict.__getitem__(data, key)
    return data


def _with_probes(original, reads):
    """The object with a value at every path read that it lacks (where its parents are objects
    or absent): what a later payload that has those keys would look like."""
    probe = copy.deepcopy(original)
    for path in sorted(reads, key=len):
        if path[-1] == ALL or _at(probe, path) is not MISSING:
            continue
        parent = probe
        for key in path[:-1]:
            parent = parent.setdefault(key, {})
            if not isinstance(parent, dict):
                break
        else:
            parent[path[-1]] = PROBE
    return probe


def assert_kept(reads, original, slim):
    """Every path read that the object has is in the slim copy, with the same value."""
    for path in sorted(reads, key=str):
        if path[-1] == ALL:
            assert _at(slim, path[:-1]) == _at(original, path[:-1]), f"{path[:-1]} read whole"
            continue
        value = _at(original, path)
        if value is MISSING:
            continue
        kept = _at(slim, path)
        assert kept is not MISSING, f"the parser reads {'.'.join(map(str, path))}: not kept"
        if isinstance(value, dict):
            assert isinstance(kept, dict), f"{path} is an object in the original"
        else:
            assert kept == value, f"{path} differs in the slim copy"


def _run_reads(run, repo):
    reads = set()
    payloads.parse_run(Recording(run, reads), repo, INSTALLATION)
    for repo_id in _repo_ids(run, repo):
        payloads.pull_request_hints(Recording(run, reads), repo_id)
    return reads


def _pull_reads(pull, repo):
    reads = set()
    payloads.parse_pull_request(Recording(pull, reads), repo, INSTALLATION)
    return reads


@pytest.mark.parametrize("name,run,repo", RUNS, ids=_ids(RUNS))
def test_a_slim_run_keeps_every_key_the_parsers_read(name, run, repo):
    reads = _run_reads(run, repo)
    assert ("id",) in reads  # the recording sees the parsers' reads
    assert_kept(reads, run, payloads.slim_run(run))
    probe = _with_probes(run, reads)
    assert_kept(reads, probe, payloads.slim_run(probe))


@pytest.mark.parametrize("name,pull,repo", PULLS, ids=_ids(PULLS))
def test_a_slim_pull_keeps_every_key_the_parser_reads(name, pull, repo):
    reads = _pull_reads(pull, repo)
    assert ("head", "sha") in reads
    assert_kept(reads, pull, payloads.slim_pull(pull))
    probe = _with_probes(pull, reads)
    assert_kept(reads, probe, payloads.slim_pull(probe))


def test_the_recording_catches_a_key_a_copy_drops():
    """The check itself: a copy without one key the parser reads fails it."""
    _, run, repo = RUNS[0]
    reads = _run_reads(run, repo)
    slim = payloads.slim_run(run)
    del slim["head_sha"]
    with pytest.raises(AssertionError, match="head_sha"):
        assert_kept(reads, run, slim)
