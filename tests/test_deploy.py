"""The Procfile's processes as Heroku runs them: `web` stops at once on a bad setting and says
what runs, `worker` idles until credentials exist and stops promptly on SIGTERM."""

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prmonitor.storage import db
from prmonitor.storage.models import EPOCH, Lease

from .fakes import new_private_key
from .servers import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent


def procfile(process):
    """The command line of one Procfile process, as Heroku would run it."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise LookupError(process)


def start(process, tmp_path, **env):
    """Run a Procfile process from the repository root (Heroku's working directory)."""
    bindir = str(Path(sys.executable).parent)
    command = shlex.split(procfile(process))
    return subprocess.Popen(
        [str(Path(bindir) / command[0]), *command[1:]],
        cwd=ROOT,
        env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def finish(process, timeout=15):
    """SIGTERM to the process group (as Heroku stops a dyno); its output and exit status."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    output, _ = process.communicate(timeout=timeout)
    return output, process.returncode


@pytest.mark.parametrize(
    "setting,value",
    [
        ("CHECK_INTERVAL", "abc"),
        ("PRIVATE_KEY", "notapem"),
        ("DATABASE_URL", "bogus://x"),
    ],
)
def test_web_with_a_bad_setting_exits_1_with_one_line(tmp_path, setting, value):
    env = {"PORT": str(free_port()), "DATABASE_URL": f"sqlite:///{tmp_path}/db", setting: value}
    if setting == "PRIVATE_KEY":
        env["APP_ID"] = "1"
    web = start("web", tmp_path, **env)
    output, _ = web.communicate(timeout=20)  # it exits by itself, forking no worker
    assert web.returncode == 1
    mine = [line for line in output.splitlines() if line.startswith("prmonitor:")]
    assert mine == [f"prmonitor: {setting}: " + mine[0].split(": ", 2)[2]]
    assert "Booting worker" not in output
    assert value not in output or setting == "CHECK_INTERVAL"


def test_web_says_which_database_and_what_is_missing_at_start_up(tmp_path):
    port = free_port()
    url = os.environ.get("TEST_DATABASE_URL")
    if url:  # trust auth takes any password: one that must not reach the log
        url = url.replace("postgres@", "postgres:hunter2-secret@", 1)
    else:
        url = f"sqlite:///{tmp_path}/db"
    web = start("web", tmp_path, PORT=str(port), DATABASE_URL=url, WEBHOOK_SECRET="", API_TOKEN="")
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
    finally:
        output, _ = finish(web)
    lines = [line for line in output.splitlines() if "prmonitor web database=" in line]
    assert len(lines) == 1
    assert "hunter2" not in output
    expected = url.replace(":hunter2-secret", "")
    assert f"database={expected} " in lines[0]
    assert "not configured: webhooks are refused (503) until WEBHOOK_SECRET is set" in lines[0]
    # Heroku's web binds 0.0.0.0: without API_TOKEN anyone may read the dashboard.
    open_ = [line for line in output.splitlines() if "OPEN TO ANYONE" in line]
    assert len(open_) == 1 and "0.0.0.0:" in open_[0] and "set API_TOKEN" in open_[0]


def test_worker_without_credentials_idles_and_stops_on_sigterm(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/db", "APP_ID": "", "GITHUB_TOKEN": ""}
    worker = start("worker", tmp_path, **env)
    deadline = time.monotonic() + 20
    line = ""
    while "poller idle" not in line and time.monotonic() < deadline:
        line = worker.stdout.readline()
    assert "set APP_ID with PRIVATE_KEY (or PRIVATE_KEY_PATH), or GITHUB_TOKEN" in line
    time.sleep(1.0)
    assert worker.poll() is None  # still there: Heroku would restart an exited worker
    started = time.monotonic()
    output, status = finish(worker)
    assert status == 0 and time.monotonic() - started < 5
    assert "Traceback" not in output


def test_worker_stops_within_seconds_of_sigterm_while_github_is_unreachable(tmp_path, database_url):
    """In App mode against an API that refuses connections the client retries with backoff;
    SIGTERM wakes its sleeps, the lease is given back and the worker exits in a few seconds
    (Heroku kills it 30 s after SIGTERM)."""
    env = {
        "DATABASE_URL": database_url,
        "APP_ID": "1",
        "PRIVATE_KEY": new_private_key(),
        "GITHUB_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "CHECK_INTERVAL": "60",
    }
    bindir = Path(sys.executable).parent
    subprocess.run([str(bindir / "prmonitor"), "migrate"], env={**os.environ, **env}, check=True)
    worker = start("worker", tmp_path, **env)
    deadline = time.monotonic() + 20
    line = ""
    while "github retry" not in line and time.monotonic() < deadline:
        line = worker.stdout.readline()
    assert "github retry" in line  # in its backoff now
    started = time.monotonic()
    output, status = finish(worker)
    assert status == 0 and time.monotonic() - started < 5, output
    database = db.bind(database_url)
    with database.connection_context():
        assert Lease.get(Lease.name == "poller").expires_at == EPOCH  # given back
    database.close_all()
