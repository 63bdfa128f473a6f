"""How the prmonitor command fails, as a user meets it: a pipe closed early, a bad --repo, an
origin that is not on GitHub, no database yet, a Postgres that cannot be opened."""

import os
import subprocess
import sys

import pytest

from .helpers import run_cli


def test_show_into_a_pipe_closed_early_exits_quietly(filled, tmp_path):
    """`prmonitor show 17 | head -3`: the reader stops reading; here it never starts (`true`
    exits at once), so that every write finds the pipe closed."""
    env = {**os.environ, "DATABASE_URL": filled}
    for reader in ("head -1", "true"):
        shown = subprocess.run(
            f"set -o pipefail; {sys.executable} -m prmonitor.cli show 17 | {reader}",
            shell=True,
            executable="/bin/bash",
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (shown.returncode, shown.stderr) == (0, ""), reader
        assert shown.stdout == ("acme/widgets#17 Fix the parser\n" if reader != "true" else "")


@pytest.mark.parametrize("command", ["show", "start", "stop"])
def test_a_malformed_repo_is_a_usage_error_for_every_command(tmp_path, command):
    result = run_cli(command, "1", "--repo", "garbage", cwd=tmp_path, env={"DATABASE_URL": ""})
    assert result.returncode == 2
    assert "repo must look like owner/name" in result.stderr


def test_an_origin_that_is_not_on_github_needs_repo(tmp_path):
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    subprocess.run(
        ["git", "-C", str(checkout), "remote", "add", "origin", "/work/main"], check=True
    )
    result = run_cli("stop", "1", cwd=checkout, env={"DATABASE_URL": ""})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "prmonitor: origin is not a GitHub remote; pass --repo owner/name"
    )


@pytest.mark.parametrize("command", [["show", "1"], ["stop", "1", "--repo", "acme/widgets"]])
def test_commands_that_only_read_create_no_database(tmp_path, command):
    result = run_cli(*command, cwd=tmp_path, env={"DATABASE_URL": ""})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "prmonitor: no database at data/pr_tracking.db: run `prmonitor migrate` first"
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs a Postgres server")
@pytest.mark.parametrize(
    "url,reason",
    [
        ("postgresql://postgres:pw-7f3a@127.0.0.1:1/test", "port 1 failed: Connection refused"),
        (
            "postgresql://postgres:pw-7f3a@127.0.0.1:5432/nosuchdb",
            'database "nosuchdb" does not exist',
        ),
        ("postgresql://nobody:pw-7f3a@127.0.0.1:5432/test", 'role "nobody" does not exist'),
    ],
)
def test_a_postgres_that_cannot_be_opened_says_why_without_the_password(tmp_path, url, reason):
    result = run_cli("migrate", cwd=tmp_path, env={"DATABASE_URL": url})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prmonitor: cannot open DATABASE_URL: ")
    assert reason in lines[0]
    assert "pw-7f3a" not in result.stderr


def test_version(tmp_path):
    from importlib.metadata import version

    result = run_cli("--version", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, f"prmonitor {version('prmonitor')}\n")
