"""The README's commands as a new user pastes them: the offline snippet of "Local
development", run by bash against a loopback port, and the run command's promise."""

import os
import re
import subprocess
from pathlib import Path

from .servers import free_port

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def indented_block_after(marker):
    """The first indented (4-space) code block after the paragraph that contains `marker`."""
    rest = README[README.index(marker) :]
    lines = rest.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("    "))
    block = []
    for line in lines[start:]:
        if line and not line.startswith("    "):
            break
        block.append(line[4:])
    return "\n".join(block).strip() + "\n"


def test_the_local_development_snippet_runs_as_pasted(tmp_path):
    snippet = indented_block_after("To try it offline")
    assert "127.0.0.1:3000" in snippet
    port = free_port()
    (tmp_path / "tests").symlink_to(ROOT / "tests")  # run from a checkout: tests/fixtures
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    done = subprocess.run(
        ["bash", "-c", snippet.replace("127.0.0.1:3000", f"127.0.0.1:{port}")],
        cwd=tmp_path,
        env={**clean, "PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # The server's access log shares stdout: its lines come between the answers, in any order.
    assert '{"ok":true}' in out.splitlines()
    assert len(re.findall(r'"ok":true,"outcome":"processed","success":true', out)) == 3, out
    assert '"job_name":"test-unit"' in out and '"failed_steps":"[\\"Run tests\\"' in out
    # Every request answered 200 (a bare "401" could be part of a delivery's random id).
    posts = re.findall(r"method=POST path=/api/github/webhooks status=(\d+)", out)
    assert posts == ["200"] * 3, out
    assert set(re.findall(r" status=(\d+) ", out)) == {"200"}, out
    assert "Connection refused" not in done.stderr


# Settings of the developer's own environment that would change what the snippet does.
SETTINGS = (
    "DATABASE_URL",
    "PORT",
    "HOST",
    "APP_ID",
    "PRIVATE_KEY",
    "PRIVATE_KEY_PATH",
    "GITHUB_TOKEN",
    "API_TOKEN",
    "WEBHOOK_SECRET",
)


def test_the_sql_example_names_a_pr_the_fixtures_hold():
    example = indented_block_after("The seed's manual queries work unchanged")
    number = re.search(r"p\.pr_number = (\d+)", example).group(1)
    fixture = (ROOT / "tests" / "fixtures" / "pull_request.opened.json").read_text()
    assert f'"number": {number},' in fixture
