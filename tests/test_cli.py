"""The prmonitor command, run as a user runs it: a real process, real exit codes."""

import subprocess

from prmonitor import cli
from prmonitor.server import bind_address

from .helpers import run_cli
from .servers import running_server, wait_for


def test_migrate_creates_the_default_database_and_reruns(tmp_path):
    first = run_cli("migrate", cwd=tmp_path, env={"DATABASE_URL": ""})
    assert first.returncode == 0, first.stderr
    assert "0002_app_tracking" in first.stdout
    assert (tmp_path / "data" / "pr_tracking.db").exists()
    again = run_cli("init", cwd=tmp_path, env={"DATABASE_URL": ""})
    assert (again.returncode, again.stdout.strip()) == (0, "schema is up to date")


def test_bad_setting_is_one_line_and_exit_1(tmp_path):
    result = run_cli("migrate", cwd=tmp_path, env={"CHECK_INTERVAL": "often"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "prmonitor: CHECK_INTERVAL: must be a number of seconds"
    ]


def test_unreachable_database_is_one_line_and_exit_1(tmp_path):
    url = "postgresql://nobody@127.0.0.1:1/none"
    result = run_cli("migrate", cwd=tmp_path, env={"DATABASE_URL": url})
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "DATABASE_URL" in result.stderr


def test_usage_error_is_exit_2(tmp_path):
    assert run_cli("frobnicate", cwd=tmp_path).returncode == 2
    assert run_cli(cwd=tmp_path).returncode == 2
    assert run_cli("show", "99999999999999999999", cwd=tmp_path).returncode == 2
    assert run_cli("show", "\u00b2", cwd=tmp_path).returncode == 2
    for port in ("0", "99999", "-5", "http"):
        result = run_cli("serve", "--port", port, cwd=tmp_path)
        assert result.returncode == 2, port
        assert "a port is a number from 1 to 65535" in result.stderr


def test_ipv6_hosts_are_bound_in_brackets():
    assert bind_address("::1", 3000) == "[::1]:3000"
    assert bind_address("[::]", 80) == "[::]:80"
    assert bind_address("0.0.0.0", 5000) == "0.0.0.0:5000"


def test_show_on_an_unmigrated_database_is_one_line(tmp_path):
    result = run_cli("show", "1", cwd=tmp_path, env={"DATABASE_URL": ""})
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "prmonitor migrate" in result.stderr


def test_show_prints_workflows_and_failures(filled, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", filled)
    assert cli.main(["show", "17"]) == 0
    out = capsys.readouterr().out
    assert "acme/widgets#17 Fix the parser" in out
    assert "failure      CI #42 attempt 1: 1 jobs, 1 failed" in out
    assert "CI / test-unit" in out
    assert '["Run tests", "Upload coverage"]' in out
    assert "https://github.com/acme/widgets/actions/runs/9100000001/job/29000000001" in out


def test_show_without_number_uses_the_current_branch(filled, capsys, monkeypatch, tmp_path):
    subprocess.run(["git", "init", "-q", "-b", "fix-parser", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", filled)
    assert cli.main(["show"]) == 0
    assert "acme/widgets#17" in capsys.readouterr().out


def test_show_unknown_pr_is_exit_1(filled, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", filled)
    assert cli.main(["show", "999"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("prmonitor: pull request #999 is not tracked")


def test_serve_answers_on_the_port_and_stops_on_ctrl_c(tmp_path):
    with running_server(tmp_path, WEBHOOK_SECRET="") as (base, server):
        assert wait_for(f"{base}/api/prs") == b'{"next":null,"prs":[],"success":true}\n'
        assert (tmp_path / "data" / "pr_tracking.db").exists()
    assert server.returncode == 0
    not_configured = [line for line in server.output.splitlines() if "not configured:" in line]
    assert len(not_configured) == 1
    assert "WEBHOOK_SECRET" in not_configured[0] and "GITHUB_TOKEN" in not_configured[0]
    assert "OPEN TO ANYONE" not in server.output  # 127.0.0.1, the default HOST


def test_migrate_without_migration_files_is_an_error(tmp_path, monkeypatch, capsys):
    from prmonitor.storage import db

    monkeypatch.setattr(db, "migrations_dir", lambda: tmp_path / "migrations")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    assert cli.main(["migrate"]) == 1
    assert "no migrations in" in capsys.readouterr().err
