"""Downloads behind a redirect to a short-lived signed URL: a job's log, read as a stream."""

import contextlib

import requests

from prmonitor.github.errors import GitHubError, Unavailable

REDIRECTS = (301, 302, 303, 307, 308)


@contextlib.contextmanager
def stream(github, path, installation=None, chunk_size=64 * 1024):
    """The bytes behind `path`'s redirect, as chunks read while the caller iterates: a log of
    hundreds of MB is never held whole. The API call goes through `github` (retries, tokens);
    the storage host gets no Authorization header: it must not see the token, and refuses one.
    Its URL expires within minutes: it is followed at once and never kept.
    https://docs.github.com/en/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run
    """
    response = github.request("GET", github.url(path), installation, redirect=False)
    location = response.headers.get("Location")
    if response.status_code not in REDIRECTS or not location:
        raise GitHubError(f"GET {path}: {response.status_code} without a redirect")
    try:
        blob = requests.get(location, timeout=github.timeout, stream=True)
    except requests.RequestException as exc:
        raise Unavailable(f"GET {path} log: {type(exc).__name__}") from None
    with blob:
        if blob.status_code != 200:
            # An expired or refused signed URL: the next call to the API signs a new one.
            raise Unavailable(f"GET {path} log: storage answered {blob.status_code}")
        yield _chunks(blob, chunk_size, path)


def _chunks(blob, chunk_size, path):
    """The body's chunks; a connection lost midway is Unavailable, as before the first byte."""
    try:
        yield from blob.iter_content(chunk_size)
    except requests.RequestException as exc:
        raise Unavailable(f"GET {path} log: {type(exc).__name__} while reading") from None
