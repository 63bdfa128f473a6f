"""gunicorn for prmonitor: the settings `prmonitor serve` and the Procfile's `web` share
(gunicorn.conf.py at the repository root reads them), and the check that a bad setting stops
the master before it forks a single worker."""

import contextlib
import inspect
import io
import logging
import os
import sys
import threading
import time

from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.workers import base, gthread

from prmonitor import metrics
from prmonitor.config import Config, ConfigError, is_loopback

log = logging.getLogger(__name__)

# The path without its query string: a dashboard link may carry ?token=API_TOKEN.
ACCESS_LOG_FORMAT = "%(h)s method=%(m)s path=%(U)s status=%(s)s bytes=%(B)s ms=%(M)s"


# The worker model. A sync worker is held by one client for as long as that client takes to
# send its request: two uploads stalled mid-body held both workers until gunicorn's timeout
# killed them (31.5 s), while GitHub gives up on an answer after 10 s. So each worker has
# THREADS threads (gunicorn's gthread), and a thread first reads its request's body, within
# BODY_TIMEOUT (then 408, and the connection closes): a stalled client holds one thread, for
# BODY_TIMEOUT at most. Only then does it take one of the worker's APP_SLOTS to run the app:
# more requests at once in one process only queue for its GIL. Worse, on SQLite the thread
# holding the file lock waits for the GIL after each statement while others parse, and the
# other worker waits for the lock meanwhile: with 8 threads running the app, 0.13 of the
# ceiling instead of the sync worker's 0.56 (bench/push.py). Two slots let a worker run the
# app while the other request waits for Postgres (a COMMIT's WAL flush). Threads and slots
# stay under the database pools' sizes (storage.db: 20 on Postgres, 16 on SQLite), each
# request holding at most one connection, taken inside its slot.
THREADS = 8
APP_SLOTS = 2
# A worker takes a new connection only while fewer than ADMITTED of its requests are running
# or just arrived (see ThreadWorker): the rest wait in the listening socket's queue for
# whichever worker frees a slot first. One more (a request read and waiting for a slot) gave a
# worse p99 in the same run of bench/push.py (bare 13.9 against 11.7 ms, Postgres 34 against 28).
ADMITTED = APP_SLOTS
ARRIVING = 0.1  # s: a connection whose body has not arrived by then is a slow client's
BODY_TIMEOUT = 5.0  # seconds, from the end of the headers; GitHub sends a body at once
# A body of known length up to this is read before the app runs; a longer one is refused by
# the app (webhooks.receiver.MAX_BODY_BYTES, GitHub's cap) without reading it, and a chunked
# one is read by the app, under the same deadline.
PREREAD_BYTES = 25 * 1024 * 1024
DEFAULT_WORKERS = 2

_slots = threading.BoundedSemaphore(APP_SLOTS)  # per worker: each has its copy from the fork


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's gthread worker, but it takes a connection only when it has room to run it
    (see "taking connections by room" below), and a connection is closed in a pool thread.

    gunicorn closes a connection gracefully (RFC 9112 section 9.6: FIN, then it reads until
    the client's FIN, for 2 s at most) in the worker's main thread, which meanwhile accepts,
    hands out and finishes nothing: each stalled client answered 408, which never closes its
    side, stopped the worker for 2 s, one after the other (and without keep-alive every request
    waits there for the client's FIN). A kept-alive or deferred connection goes back to the
    main thread as before."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._arriving = {}  # socket fd -> when the pool got it, until its body is read
        self._ready = set()  # requests read, waiting for a slot or running

    # -- taking connections by room --
    # gthread accepts whenever a connection waits, up to worker_connections (1,000), so one
    # worker could hold several connections queueing for its APP_SLOTS while the other had a
    # slot free, and a delivery's p99 was three to four times its median (bench/push.py, 8
    # connections: SQLite 31.6 ms p99 for 9.2 ms p50). So a worker stops accepting while
    # ADMITTED of its connections are running (or waiting for a slot) or just arrived; the
    # next one waits in the kernel's queue for the first worker with room, as it would for a
    # sync worker. A connection whose body has not arrived ARRIVING s after it was taken is a slow
    # client's and no longer counts: slow clients hold threads, not the gate (THREADS of them
    # stall a worker, as before).

    def enqueue_req(self, conn):
        # The fd as it was taken: a socket closed meanwhile says -1.
        conn.prmonitor_fd = conn.sock.fileno()
        self._arriving[conn.prmonitor_fd] = time.monotonic()
        super().enqueue_req(conn)

    def request_ready(self, fd, req):
        """In the request's thread: its body is read, it now waits for a slot or runs."""
        self._ready.add(req)
        self._arriving.pop(fd, None)

    def request_done(self, req):
        """In the request's thread: its slot is given back."""
        self._ready.discard(req)

    def set_accept_enabled(self, enabled):
        super().set_accept_enabled(enabled and self._has_room())

    def _has_room(self):
        # _ready first: a request moving from the arrivals to it meanwhile is missed, and one
        # connection more is taken (it waits for a slot). Counted twice instead, it would
        # close the gate while a slot is free, until the next request finishes.
        ready = len(self._ready)
        return ready + self._arrivals(time.monotonic())[0] < ADMITTED

    def _arrivals(self, now):
        """(connections arrived less than ARRIVING s ago, when the oldest of them stops
        counting)."""
        young = [since for since in list(self._arriving.values()) if now - since < ARRIVING]
        return len(young), min(young, default=now) + ARRIVING

    def wait_for_and_dispatch_events(self, timeout):
        """gthread's wait, after opening or closing the gate; a gate closed by connections
        just arrived opens again, at the latest, when the oldest of them stops counting."""
        if self.alive:  # a stopping worker has closed its gate for good
            below_limit = self.nr_conns < self.worker_connections
            self.set_accept_enabled(below_limit)
            if below_limit and not self._accepting:  # closed for want of room
                now = time.monotonic()
                timeout = min(timeout, max(self._arrivals(now)[1] - now, 0.001))
        super().wait_for_and_dispatch_events(timeout)

    def is_parent_alive(self):
        """gthread's check, but a worker whose master is gone is no longer alive: gthread
        leaves its loop then with `alive` still set, and the gate would open again while it
        finishes its requests."""
        if super().is_parent_alive():
            return True
        self.alive = False
        return False

    def finish_request(self, conn, fs):
        self._arriving.pop(getattr(conn, "prmonitor_fd", None), None)
        if (
            not self.alive
            or fs.cancelled()
            or fs.exception() is not None
            or fs.result() is not False
        ):
            return super().finish_request(conn, fs)
        self.nr_conns -= 1
        self.tpool.submit(conn.close, True)

    def handle_quit(self, sig, frame):
        """SIGQUIT and SIGINT (Ctrl-C, the master's quick stop): exit without gthread's first
        step, the pool's shutdown(), which takes the pool's lock. The main thread holds that
        lock inside submit() (starting a pool thread waits for it to start), which it calls
        right after each answer here: a signal landing then waited for the lock forever, and
        the master killed the worker after its 30 s graceful timeout. The pool's threads are
        stopped on the way out all the same, by concurrent.futures at interpreter exit."""
        base.Worker.handle_quit(self, sig, frame)


def _worker_class():
    """ThreadWorker where gunicorn's gthread is the one it changes (27 and later: one event
    loop that enables accepting and finishes requests, finish_request(conn, fs)); gthread
    itself elsewhere."""
    worker = gthread.ThreadWorker
    parameters = list(inspect.signature(worker.finish_request).parameters)
    loop = all(
        hasattr(worker, name)
        for name in ("enqueue_req", "set_accept_enabled", "wait_for_and_dispatch_events")
    )
    fits = parameters[1:3] == ["conn", "fs"] and loop
    return "prmonitor.server.ThreadWorker" if fits else "gthread"


def settings():
    """gunicorn's settings, but for `bind` and the worker count (WEB_CONCURRENCY on Heroku)."""
    return {
        "worker_class": _worker_class(),
        "threads": THREADS,
        # No keep-alive, as with the sync worker: a kept-alive connection stays with the worker
        # that accepted it, and a few busy ones can load one worker while the other idles.
        "keepalive": 0,
        "timeout": 30,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": AccessLogger,
        "on_starting": check_configuration,
        "pre_request": before_request,
        "post_request": after_request,
    }


class BodyTimeout(TimeoutError):
    """The request's body did not arrive within BODY_TIMEOUT."""


class _BodyDeadline:
    """The connection's socket as the request's body reader sees it: each recv() may wait only
    for what is left until the deadline. A client trickling a byte at a time cannot stretch it,
    as it could a plain socket timeout, which restarts at every read."""

    def __init__(self, sock, req, seconds):
        self.sock, self.req = sock, req
        self.deadline = time.monotonic() + seconds
        self.timeout = sock.gettimeout()

    def recv(self, size):
        remaining = self.deadline - time.monotonic()
        if remaining > 0:
            self.sock.settimeout(remaining)
            try:
                return self.sock.recv(size)
            except TimeoutError:
                pass
        # Where the next request would start is unknown: the answer says Connection: close,
        # and gunicorn closes the connection after it.
        self.req.must_close = True
        raise BodyTimeout(f"request body not received within {BODY_TIMEOUT:g} s")

    def __getattr__(self, name):
        return getattr(self.sock, name)


class _Unreadable:
    """A request body whose reading failed: reading it again raises the same error, which the
    app sees as its own read's (webhooks.receiver answers 408 for a timeout)."""

    failed = True  # gunicorn then closes the connection instead of draining the body

    def __init__(self, error):
        self.error = error

    def read(self, size=None):
        raise self.error

    readline = read

    def readlines(self, hint=None):
        raise self.error

    def __iter__(self):
        raise self.error


def before_request(worker, req):
    """gunicorn's pre_request hook, in the request's thread: read the body by the deadline,
    then wait for one of the worker's APP_SLOTS (see THREADS)."""
    unreader = getattr(req, "unreader", None)
    sock = getattr(unreader, "sock", None)
    if sock is None or not hasattr(sock, "settimeout"):  # not a socket: nothing can stall
        sock = None
    else:
        unreader.sock = _BodyDeadline(sock, req, BODY_TIMEOUT)
    length = getattr(getattr(req.body, "reader", None), "length", None)
    if sock is not None and isinstance(length, int) and 0 < length <= PREREAD_BYTES:
        if getattr(req, "_expected_100_continue", False):
            # The client waits for this before it sends the body (gunicorn would send it
            # later, as the app starts).
            req._expected_100_continue = False
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            req.body = io.BytesIO(req.body.read())
        except OSError as exc:  # BodyTimeout, or the client went away
            req.body = _Unreadable(exc)
            req.must_close = True
    if sock is not None and hasattr(worker, "request_ready"):
        worker.request_ready(sock.fileno(), req)
        req.prmonitor_ready = True
    _slots.acquire()
    req.prmonitor_slot = True


def after_request(worker, req, environ=None, resp=None):
    """gunicorn's post_request hook: give the slot back, and the socket as it was, for what
    gunicorn reads next (the rest of an unread body, bounded by gunicorn itself)."""
    if getattr(req, "prmonitor_slot", False):
        req.prmonitor_slot = False
        _slots.release()
    if getattr(req, "prmonitor_ready", False):
        req.prmonitor_ready = False
        worker.request_done(req)
    unreader = getattr(req, "unreader", None)
    limited = getattr(unreader, "sock", None)
    if isinstance(limited, _BodyDeadline):
        unreader.sock = limited.sock
        with contextlib.suppress(OSError):  # closed meanwhile
            limited.sock.settimeout(limited.timeout)


class AccessLogger(glogging.Logger):
    """gunicorn's logger, whose access line builds only the atoms ACCESS_LOG_FORMAT names.
    gunicorn's own atoms() also makes one of every request header, response header and WSGI
    environ key, about 60, each then escaped by SafeAtoms, at every request; the line is the
    same. Another format (--access-logformat) gets gunicorn's atoms."""

    def atoms(self, resp, req, environ, request_time):
        if self.cfg.access_log_format != ACCESS_LOG_FORMAT:
            return super().atoms(resp, req, environ, request_time)
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "s": status,
            "B": getattr(resp, "sent", None),
            "M": request_time.seconds * 1000 + request_time.microseconds // 1000,
        }


def check_configuration(arbiter=None):
    """gunicorn's on_starting hook, in the master before it binds or forks: a bad setting ends
    the process with exit status 1 and one line naming it (a worker that failed instead would
    be forked again and again while the master kept the port); a good one is described in one
    line, secrets and the database's password left out."""
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"prmonitor: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    from prmonitor import configure_logging

    configure_logging(config.log_level)
    log.info("prmonitor web %s", config.describe())
    metrics.use_multiprocess_dir()  # before the fork: every worker writes its values there
    binds = list(arbiter.cfg.bind) if arbiter is not None else []
    signed = config.api_token or config.github_sign_in
    if not signed and reachable_from_outside(binds):
        log.warning(
            "OPEN TO ANYONE: the dashboard and /api/* answer without credentials on %s; "
            "set API_TOKEN (or GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET) before this is "
            "reachable from a network",
            " ".join(binds),
        )
    return config


def reachable_from_outside(binds):
    """Whether one of gunicorn's bind addresses (HOST:PORT, [IPv6]:PORT, unix:PATH, fd://N)
    listens beyond this machine: anything but a loopback address or a socket file."""
    for bind in binds:
        if bind.startswith(("unix:", "fd://")):
            continue
        if not is_loopback(bind):
            return True
    return False


class _Gunicorn(BaseApplication):
    def __init__(self, options):
        self.options = options
        super().__init__()

    def load_config(self):
        """Hand the options to gunicorn."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        """The WSGI app, built in each worker."""
        from prmonitor import create_app

        return create_app()


def serve(host, port, workers=None):
    """Run until Ctrl-C. Each worker builds its own app, so no connection crosses a fork. The
    worker count is WEB_CONCURRENCY's when it is a positive number, as for the Procfile's web
    (where gunicorn reads it itself), else DEFAULT_WORKERS."""
    workers = workers or web_concurrency()
    _Gunicorn({**settings(), "bind": bind_address(host, port), "workers": workers}).run()


def web_concurrency():
    raw = os.environ.get("WEB_CONCURRENCY", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_WORKERS


def bind_address(host, port):
    """gunicorn's HOST:PORT, with an IPv6 address in brackets ([::1]:3000)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"
