"""`prmonitor poll`, `start`, `stop`, and `serve` with its poller, as real processes talking to
the loopback fake of GitHub."""

import json
import os
import subprocess
import time

import pytest

from .helpers import run_cli
from .servers import running_server, wait_for

REPO = "octo-org/widgets"
TOKEN = "ghp_from_a_laptop"


@pytest.fixture
def fake(fake):
    """The shared fake (the App installed on octo-org/widgets), with a laptop's token and a PR
    whose CI failed."""
    fake.add_personal_token(TOKEN)
    pr = fake.open_pr(REPO, title="Fix the parser")
    run = fake.add_run(REPO, pr["head"]["sha"])
    fake.finish_run(run["id"], {"test": "failure"})
    return fake


@pytest.fixture
def token_env(github_url, tmp_path):
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path}/pr.db",
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": github_url,
    }


def test_poll_without_credentials_is_one_line_and_exit_1(tmp_path):
    env = {"DATABASE_URL": "", "GITHUB_TOKEN": "", "APP_ID": ""}
    result = run_cli("poll", "--once", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "prmonitor: polling needs GitHub credentials: set APP_ID with PRIVATE_KEY "
        "(or PRIVATE_KEY_PATH), or GITHUB_TOKEN"
    ]


def test_start_poll_stop_in_token_mode(fake, token_env, tmp_path):
    assert run_cli("migrate", cwd=tmp_path, env=token_env).returncode == 0
    started = run_cli("start", "1", "--repo", REPO, cwd=tmp_path, env=token_env)
    assert started.returncode == 0, started.stderr
    assert f"{REPO}#1 Fix the parser" in started.stdout
    assert "CI / test" in started.stdout and '["Run tests"]' in started.stdout

    polled = run_cli("poll", "--once", cwd=tmp_path, env=token_env)
    assert polled.returncode == 0, polled.stderr
    assert "repos=1 prs=1" in polled.stdout
    # A second process, nothing changed: every answer is a 304 to the ETags the first stored.
    again = run_cli("poll", "--once", cwd=tmp_path, env=token_env).stdout
    assert "counted=0" in again and "not_modified=0" not in again

    stopped = run_cli("stop", "1", "--repo", REPO, cwd=tmp_path, env=token_env)
    assert (stopped.returncode, stopped.stdout.strip()) == (
        0,
        f"{REPO}#1: no longer tracked (its data stays)",
    )
    fake.reset_calls()
    assert "repos=0" in run_cli("poll", "--once", cwd=tmp_path, env=token_env).stdout
    assert fake.calls == []
    assert "Fix the parser" in run_cli("show", "1", cwd=tmp_path, env=token_env).stdout


def test_poll_once_sends_the_notifications(fake, token_env, tmp_path):
    """Token mode with NOTIFY=comment: the comment is the token user's, once."""
    env = {**token_env, "NOTIFY": "comment,log"}
    assert run_cli("migrate", cwd=tmp_path, env=env).returncode == 0
    assert run_cli("start", "1", "--repo", REPO, cwd=tmp_path, env=env).returncode == 0
    polled = run_cli("poll", "--once", cwd=tmp_path, env=env)
    assert polled.returncode == 0, polled.stderr
    [comment] = fake.comments_on(REPO, 1)
    assert comment["user"]["login"] == fake.personal_login
    assert "❌ 1 new failure" in comment["body"]
    assert 'headline="❌ 1 new failure"' in polled.stderr + polled.stdout
    run_cli("poll", "--once", cwd=tmp_path, env=env)
    assert len(fake.comments_on(REPO, 1)) == 1


def test_start_takes_the_repo_from_the_origin_remote(token_env, tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    origin = f"git@github.com:{REPO}.git"
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", origin], check=True)
    assert run_cli("migrate", cwd=tmp_path, env=token_env).returncode == 0
    started = run_cli("start", "1", cwd=tmp_path, env=token_env)
    assert started.returncode == 0, started.stderr
    assert f"{REPO}#1" in started.stdout


def test_start_outside_a_checkout_needs_repo(token_env, tmp_path):
    result = run_cli("start", "1", cwd=tmp_path, env=token_env)
    assert result.returncode == 1
    assert "--repo owner/name" in result.stderr


def test_start_with_the_app_not_installed_is_one_line(fake, github_url, tmp_path):
    key = tmp_path / "app.pem"
    key.write_text(fake.private_key_pem)
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/pr.db",
        "APP_ID": str(fake.app_id),
        "PRIVATE_KEY_PATH": str(key),
        "GITHUB_API_URL": github_url,
    }
    assert run_cli("migrate", cwd=tmp_path, env=env).returncode == 0
    result = run_cli("start", "3", "--repo", "someone/else", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "prmonitor: the App is not installed on someone/else: install it there first"
    ]


def test_serve_runs_the_poller_beside_the_web_server(fake, token_env, tmp_path):
    env = {**token_env, "DATABASE_URL": "", "CHECK_INTERVAL": "1"}
    assert run_cli("migrate", cwd=tmp_path, env={**env}).returncode == 0
    assert run_cli("start", "1", "--repo", REPO, cwd=tmp_path, env=env).returncode == 0
    with running_server(tmp_path, **env) as (base, server):
        poller = _wait_for_cycle(base)
    assert server.returncode == 0
    pid = int(poller["holder"].split(":")[1])
    assert pid != server.pid
    assert not _alive(pid)  # Ctrl-C stopped both


def _wait_for_cycle(base, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = json.loads(wait_for(f"{base}/api/status"))
        if status["poller"] and status["poller"]["last_cycle"]:
            assert status["polling"] == "token"
            return status["poller"]
        time.sleep(0.2)
    raise AssertionError("the poller never reported a cycle")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child not yet reaped by its parent is a zombie: gone for our purposes.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_poll_once_on_an_unmigrated_database_is_exit_1(token_env, tmp_path):
    result = run_cli("poll", "--once", cwd=tmp_path, env=token_env)
    assert result.returncode == 1
    assert "prmonitor migrate" in result.stderr.strip().splitlines()[-1]


def test_poll_once_that_reconciles_nothing_is_exit_1(fake, token_env, tmp_path):
    assert run_cli("migrate", cwd=tmp_path, env=token_env).returncode == 0
    assert run_cli("start", "1", "--repo", REPO, cwd=tmp_path, env=token_env).returncode == 0
    fake.inject(r"/pulls$", status=503, times=50)
    result = run_cli("poll", "--once", cwd=tmp_path, env=token_env)
    assert result.returncode == 1
    assert "no repository could be reconciled (1 failed)" in result.stderr
