"""Prometheus metrics (prometheus-client), for GET /metrics.

Under gunicorn each worker is a process with its own counters; prometheus-client's
multiprocess mode has each write its values to files in PROMETHEUS_MULTIPROC_DIR, and a
scrape sums them, so every scrape sees every worker (and the poller `prmonitor serve` runs
beside them). The directory must be set before prometheus_client is first imported in a
process, so this module imports it only on first use, and use_multiprocess_dir() sets it in
the gunicorn master before it forks. There are only counters and histograms: a dead
worker's counts must go on counting, so no child_exit hook marks it dead (that is for live
gauges only).
https://prometheus.github.io/client_python/multiprocess/

Labels are bounded: events, outcomes, channels and classes are fixed lists; repositories and
workflow names are as many as a deployment has; never job ids, runner names or SHAs.
"""

import atexit
import os
import shutil
import tempfile
import threading

ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: from a webhook's few milliseconds to a job's hours in the queue or running.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
JOB_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 21600)
CYCLE_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

# The label values of the job histograms: bounded, since each is a series per bucket.
MAX_REPOS = 500
MAX_WORKFLOWS = 30
CONCLUSIONS = (
    "success",
    "failure",
    "cancelled",
    "skipped",
    "timed_out",
    "neutral",
    "action_required",
    "startup_failure",
)

_lock = threading.Lock()
_metrics = None
_seen = {}  # repo -> the workflow names given a series of their own
_children = {}  # (metric, label values) -> its series


def use_multiprocess_dir():
    """In the gunicorn master, before it forks: a fresh directory for the workers' values,
    removed at exit, unless PROMETHEUS_MULTIPROC_DIR is set already (then it is used as is)."""
    if os.environ.get(ENV):
        return os.environ[ENV]
    path = tempfile.mkdtemp(prefix="prmonitor-metrics-")
    os.environ[ENV] = path
    master = os.getpid()
    atexit.register(lambda: os.getpid() == master and shutil.rmtree(path, ignore_errors=True))
    return path


def _define():
    from prometheus_client import Counter, Histogram

    return {
        "deliveries": Counter(
            "prmonitor_deliveries", "Webhook deliveries by event and outcome", ["event", "outcome"]
        ),
        "delivery_seconds": Histogram(
            "prmonitor_delivery_seconds",
            "Time to verify, parse and store a webhook delivery",
            ["event"],
            buckets=LATENCY_BUCKETS,
        ),
        "job_queue": Histogram(
            "prmonitor_job_queue_seconds",
            "Time a completed job waited for a runner",
            ["repo", "workflow"],
            buckets=JOB_BUCKETS,
        ),
        "job_duration": Histogram(
            "prmonitor_job_duration_seconds",
            "Time a completed job ran, by conclusion",
            ["repo", "workflow", "conclusion"],
            buckets=JOB_BUCKETS,
        ),
        "github_calls": Counter(
            "prmonitor_github_requests", "GitHub API calls by status class", ["status"]
        ),
        "github_not_modified": Counter(
            "prmonitor_github_not_modified", "GitHub API answers 304 (free of the rate limit)"
        ),
        "rate_limit_waits": Counter(
            "prmonitor_github_rate_limit_waits", "Waits for a GitHub rate limit to reset"
        ),
        "poll_cycle": Histogram(
            "prmonitor_poll_cycle_seconds",
            "Duration of a reconciliation cycle",
            buckets=CYCLE_BUCKETS,
        ),
        "diagnoses": Counter(
            "prmonitor_diagnoses", "Failed jobs classified, by class", ["failure_class"]
        ),
        "notifications": Counter(
            "prmonitor_notifications", "Notifications by channel and result", ["channel", "result"]
        ),
        "analyses": Counter(
            "prmonitor_analyses", "AI analyses finished, by state and verdict", ["state", "verdict"]
        ),
    }


def _get(name):
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = _define()
    return _metrics[name]


def _child(name, *labels):
    """The metric's series for these label values, kept: prometheus-client checks and looks
    them up again on every labels() call, which a delivery would pay a few times over."""
    key = (name, labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = _get(name).labels(*labels)
    return found


# -- what the code records -------------------------------------------------------------------


def delivery(event, outcome, seconds):
    """A webhook delivery answered: `event` one of the handled events, or "other"."""
    _child("deliveries", event, outcome or "refused").inc()
    _child("delivery_seconds", event).observe(max(seconds, 0.0))


def job_completed(repo, workflow, conclusion, queued_seconds, ran_seconds):
    """A job's queue time and run time, when its completion is first stored. A workflow's
    name is the YAML's (a pull request can bring its own): past MAX_WORKFLOWS names per
    repository and MAX_REPOS repositories in this process, the rest count as "other"."""
    repo, workflow = _bounded(repo or "unknown", (workflow or "unknown")[:100])
    conclusion = conclusion if conclusion in CONCLUSIONS else "other"
    if queued_seconds is not None and queued_seconds >= 0:
        _child("job_queue", repo, workflow).observe(queued_seconds)
    if ran_seconds is not None and ran_seconds >= 0:
        _child("job_duration", repo, workflow, conclusion).observe(ran_seconds)


def _bounded(repo, workflow):
    repo = repo[:200]
    with _lock:
        if repo not in _seen and len(_seen) >= MAX_REPOS:
            return "other", "other"
        names = _seen.setdefault(repo, set())
        if workflow not in names and len(names) >= MAX_WORKFLOWS:
            return repo, "other"
        names.add(workflow)
    return repo, workflow


def github_call(status):
    """One answer from GitHub (`status` None: no answer, a connection error)."""
    if status == 304:
        _get("github_not_modified").inc()
    label = "error" if status is None else "304" if status == 304 else f"{status // 100}xx"
    _child("github_calls", label).inc()


def rate_limit_wait():
    _get("rate_limit_waits").inc()


def poll_cycle(seconds):
    _get("poll_cycle").observe(seconds)


def diagnosed(failure_class):
    _get("diagnoses").labels(failure_class or "unclassified").inc()


def notified(channel, result):
    _get("notifications").labels(channel, result).inc()


def analysed(state, verdict):
    _get("analyses").labels(state, verdict or "none").inc()


# -- the scrape ------------------------------------------------------------------------------


def exposition():
    """(body, content type) of the text format: every process's values in multiprocess mode,
    this process's otherwise."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    _get("deliveries")  # the metrics exist (at zero) before anything happened
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
