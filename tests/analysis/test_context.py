"""What Claude is given: secrets redacted before anything leaves (a token planted in the log and
in the diff never reaches the stub), the budget held for PRs of 5 to 500 files, the files the
failure names first, generated files last, and the grounding check."""

import pytest

from prmonitor.failures import context
from prmonitor.failures.redact import redact

from .world import PARSER_LOG, analyse, failing_pr, sync

PLANTED = {
    "github": "ghp_" + "A1b2C3d4E5f6G7h8I9j0" * 2,
    "pat": "github_pat_11AAAAAAA0" + "x" * 40,
    "aws": "AKIA" + "ABCDEFGHIJKLMNOP",
    "server": "ghs_" + "Z" * 36,
}


def test_planted_secrets_never_reach_the_stub(client, fake, stub, diagnosis, queue):
    log = PARSER_LOG.replace(
        "##[endgroup]",
        f"##[endgroup]\nexport GITHUB_TOKEN={PLANTED['github']}\n"
        f"curl -H 'Authorization: Bearer {PLANTED['server']}' https://api.github.com\n"
        "DATABASE_PASSWORD=hunter2hunter2 ./run\n",
    )
    pr, _ = failing_pr(fake, log=log)
    fake.set_files(
        "octo-org/widgets",
        pr["number"],
        [
            {
                "filename": "src/parser.py",
                "patch": f"+TOKEN = '{PLANTED['pat']}'\n+AWS = '{PLANTED['aws']}'\n"
                "+-----BEGIN RSA PRIVATE KEY-----\n+MIIEowIBAAKCAQEA\n"
                "+-----END RSA PRIVATE KEY-----\n",
            }
        ],
    )
    sync(client, fake, diagnosis)
    analyse(queue)
    sent = stub.sent_text()
    assert stub.requests and "src/parser.py" in sent
    for secret in [*PLANTED.values(), "hunter2hunter2", "MIIEowIBAAKCAQEA"]:
        assert secret not in sent
    assert "[REDACTED]" in sent


@pytest.mark.parametrize(
    "text",
    [
        "token ghu_" + "a" * 36,
        "Authorization: token 0123456789abcdef0123",
        "aws_secret_access_key = " + "A" * 40,
        "postgres://admin:s3cr3t@db/prod",
        "client_secret: 'abcdEFGH1234'",
        "GITHUB_TOKEN=0123456789abcdef0123456789abcdef01234567",
        "NPM_TOKEN=npm_" + "b" * 36,
        "mysql --password hunter2secret",
        "DB_PASS=topsecret1",
        "ghp_" + "c" * 36 + "_and_more",
    ],
)
def test_redaction(text):
    secret = text.split()[-1].split("@")[0].strip("'").rpartition(":")[2]
    shown = redact(text)
    assert "[REDACTED]" in shown and secret not in shown


def test_prose_is_not_redacted():
    line = "SyntaxError: unexpected token '}' (the token list is empty)"
    assert redact(line) == line


def files(count):
    return [
        context.ChangedFile(f"pkg/mod{i}/file{i}.py", patch=f"+x = {i}\n" * 300)
        for i in range(count)
    ] + [context.ChangedFile("package-lock.json", patch="+lock\n" * 5000)]


@pytest.mark.parametrize("count", [5, 50, 500])
def test_the_budget_holds(count):
    budget = 30_000
    pr_share, failure_share = context.split_budget(budget, "system prompt")
    shared = context.pr_part("Title", "Body " * 5000, files(count), pr_share)
    failure = {"workflow": "CI", "job": "test", "excerpt": "pkg/mod3/file3.py:1: error\n" * 2000}
    own = context.failure_part(failure, files(count), failure_share)
    assert context.tokens(shared) + context.tokens(own) <= budget
    assert "+lock" not in shared  # generated files are named, never their patches
    assert "--- pkg/mod3/file3.py" in own  # the file the failure names comes with it


def test_grounding_normalises_whitespace_and_diff_markers():
    sent = "E       AssertionError: assert None == []\n+        return None\n+    x = 1\n"
    assert context.grounded(["AssertionError:   assert None == []"], sent) == (True, None)
    assert context.grounded(["+ return None", "return None"], sent) == (True, None)
    assert context.grounded(["return None\n x = 1"], sent) == (True, None)  # across lines
    assert context.grounded(["No space left on device"], sent) == (False, "No space left on device")
    assert context.grounded(["None"], sent)[0] is False  # too short to prove anything


def test_only_the_excerpt_and_patches_are_quotable():
    files = [context.ChangedFile("src/parser.py", patch="+    return None\n")]
    failure = {"workflow": "CI", "job": "test", "step": "Run tests", "excerpt": "E   boom here"}
    own = context.failure_part(failure, files, 5_000)
    shared = context.pr_part("Parse empty input", "A description line", files, 5_000)
    quotable = context.quotable(own) + context.quotable(shared)
    assert context.grounded(["E   boom here", "return None"], quotable)[0]
    for heading in ["Failed step: Run tests", "Parse empty input", "A description line"]:
        assert not context.grounded([heading], quotable)[0]
