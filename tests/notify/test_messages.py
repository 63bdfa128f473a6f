"""What the notifications say (pure): the headline, and escaping of everything that comes from a
log or a name: `<script>`, `@org/team`, unbalanced backticks, `</details>`, javascript: URLs."""

import re

import pytest

from prmonitor.notify import messages
from prmonitor.notify.picture import Failure, Picture

HOSTILE_NAME = "<script>alert(1)</script> @org/team **bold** [x](javascript:alert(1)) ``"
HOSTILE_LINE = "Error: `unbalanced ``` backticks </details><img src=x onerror=alert(1)> @octocat"
HOSTILE_EXCERPT = "line 1\n```\n</details>\n<script>alert(2)</script>\n@org/team was here\n~~~"


def failure(name="test", failure_class="new", line="boom", excerpt=None, evidence=None, url=None):
    return Failure(
        key=f"sha:{name}:{line}",
        job_id=1,
        job_name=name,
        job_url=url or "https://github.com/o/r/actions/runs/1/job/1",
        workflow_name="CI",
        run_number=3,
        run_attempt=1,
        run_url="https://github.com/o/r/actions/runs/1",
        step="Run tests",
        line=line,
        excerpt=excerpt,
        failure_class=failure_class,
        evidence=evidence or {},
        head_sha="a" * 40,
    )


def picture(failures=(), running=(), earlier=(), runs=1, base_ref="main"):
    return Picture(
        pr_id=1,
        repo="o/r",
        number=5,
        title="A title",
        url="https://github.com/o/r/pull/5",
        head_sha="a" * 40,
        base_ref=base_ref,
        draft=False,
        installation_id=7,
        failures=tuple(failures),
        running=tuple(running),
        runs=runs,
        earlier=tuple(earlier),
        undiagnosed=0,
        as_of=None,
    )


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        (
            picture(
                [
                    failure("a"),
                    failure("b"),
                    failure("c", "flaky"),
                    failure("d", "broken_base"),
                ]
            ),
            "❌ 2 new failures, 1 broken on main, 1 flaky",
        ),
        (picture([failure("c", "flaky")], running=["x", "y"]), None),
        (picture(running=["x", "y", "z"]), "⏳ 3 jobs running"),
        (picture(), "✅ All checks green"),
        (picture(runs=0), "No runs yet"),
        (picture([failure("a", None)], running=["x"]), "❌ 1 new failure · ⏳ 1 job running"),
    ],
)
def test_headlines(shown, expected):
    if expected is None:
        expected = "⚠️ No new failures: 1 flaky · ⏳ 2 jobs running"
    assert messages.headline(shown) == expected


def test_hostile_names_and_lines_are_escaped():
    hostile = failure(HOSTILE_NAME, line=HOSTILE_LINE, excerpt=HOSTILE_EXCERPT)
    body = messages.comment(picture([hostile], running=[HOSTILE_NAME], earlier=[hostile]))
    outside_code = _outside_code(body)
    assert "<script>" not in outside_code and "<img" not in outside_code
    assert "javascript:" not in body.replace("javascript\\:", "")
    assert not re.search(r"(?<![\w\u200b])@(org|octocat)\b", outside_code)
    # Every <details> is closed once, by us: the excerpt's </details> stays inside its block.
    assert body.count("<details>") == body.count("</details>") - _in_code(body, "</details>")
    # The line stays whole in one code span, fenced longer than its backtick runs.
    assert "```` Error: `unbalanced ``` backticks </details>" not in body
    assert f"````{HOSTILE_LINE}````" in body


def test_a_javascript_url_is_never_a_link():
    body = messages.comment(picture([failure(url="javascript:alert(1)")]))
    assert "](javascript" not in body and "**test**" in body


def test_the_body_fits_githubs_limit_without_cutting_code():
    many = [failure(f"job {i}", line="x" * 290, excerpt="y\n" * 4000) for i in range(300)]
    body = messages.comment(picture(many))
    assert len(body) <= messages.BODY_MAX
    assert "_…and" in body
    hostile = [
        failure(HOSTILE_NAME * 3, failure_class=c, line=HOSTILE_LINE * 5, excerpt=HOSTILE_EXCERPT)
        for c in ("new", "flaky", "broken_base", "infrastructure", "seen_elsewhere")
        for _ in range(400)
    ]
    body = messages.comment(picture(hostile, running=[HOSTILE_NAME] * 400, earlier=hostile))
    assert len(body) <= messages.BODY_MAX
    outside = _outside_code(body)
    assert "<script>" not in outside and "<img" not in outside and "@org" not in outside


def test_references_and_math_do_not_start():
    shown = messages.text("fixes #123 and o/r#4, costs $x$ @me")
    assert "#\u200b123" in shown and "r\\#\u200b4" in shown
    assert "\\$x\\$" in shown and "@\u200bme" in shown
    assert messages.html_text("<b>#1 & 'q'</b>") == "&lt;b&gt;#\u200b1 &amp; 'q'&lt;/b&gt;"


def test_slack_text_cannot_mention_or_link():
    hostile = failure("<!channel> <@U123> <https://evil|click>", line="<!here> & `x`")
    payload = messages.slack_failures(picture([hostile]), [hostile])
    text = str(payload)
    assert "<!channel>" not in text and "<@U123>" not in text and "<!here>" not in text
    assert "&lt;!channel&gt;" in text


def _outside_code(body):
    body = re.sub(r"^(`{3,})\w*\n.*?^\1$", "", body, flags=re.M | re.S)
    return re.sub(r"(`+)(?!`).+?(?<!`)\1(?!`)", "", body)


def _in_code(body, needle):
    fenced = re.findall(r"^(`{3,})\w*\n(.*?)^\1$", body, flags=re.M | re.S)
    return sum(block.count(needle) for _, block in fenced) + sum(
        1 for span in re.findall(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)", body) if needle in span[1]
    )
