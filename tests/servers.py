"""`prmonitor serve` as a user runs it: a real process on a free loopback port."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url, timeout=20):
    """The body at `url` once the server answers it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def running_server(cwd, **env):
    """Yield (base_url, process) of `prmonitor serve` in `cwd` with an empty default database;
    stop it with Ctrl-C afterwards and keep what it printed in `process.output`."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "prmonitor.cli", "serve"],
        cwd=cwd,
        env={**os.environ, "DATABASE_URL": "", "PORT": str(port), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz")
        yield base, server
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.output = server.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            server.kill()  # not left running into the tests after this one
            server.communicate()
            raise
