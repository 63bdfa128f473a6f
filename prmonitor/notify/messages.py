"""What the notifications say, rendered from a Picture (pure): the headline, the sticky comment's
Markdown, the check run's output, the Slack message and the log line.

Everything that comes from a log or a name goes through notify.markdown (or, for Slack,
slack_text): none of it can break the Markdown, inject HTML or mention anyone.
"""

import hashlib
import json

from prmonitor.notify.markdown import (
    code_block,
    code_span,
    html_text,
    link,
    one_line,
    safe_url,
    text,
)

MARKER = "<!-- prmonitor:pr-status -->"  # with the App's own login, finds the sticky comment
BODY_MAX = 65_000  # GitHub refuses a comment (or a check run summary) over 65,536 characters
PER_SECTION = (50, 20, 5, 1)  # failures listed per section at each level of detail
NEW = ("new", None)  # None: a failure not yet diagnosed counts as the PR's own
FOLDED = (
    ("broken_base", "Broken on the base branch"),
    ("seen_elsewhere", "Also failing in other pull requests"),
    ("flaky", "Flaky (passed on the same commit)"),
    ("infrastructure", "Infrastructure"),
)


def digest(body):
    """The hash a channel keeps of what it sent: equal bodies are not sent again."""
    return hashlib.sha256(body.encode()).hexdigest()


def plural(count, word, suffix="s"):
    return f"{count} {word}{suffix if count != 1 else ''}"


def headline(picture):
    """`❌ 2 new failures, 1 flaky, 1 broken on main` / `⏳ 3 jobs running` / `✅ All checks
    green`; a red head whose failures are none of the PR's own says so."""
    running = f"⏳ {plural(len(picture.running), 'job')} running"
    if not picture.failures:
        if picture.running:
            return running
        return "✅ All checks green" if picture.runs else "No runs yet"
    new = len(picture.by_class(*NEW))
    parts = [plural(new, "new failure")] if new else []
    base = one_line(picture.base_ref or "the base branch", 60)
    names = {"broken_base": f"broken on {base}", "seen_elsewhere": "also failing elsewhere"}
    for failure_class, _ in FOLDED:
        count = len(picture.by_class(failure_class))
        if count:
            parts.append(f"{count} {names.get(failure_class, failure_class)}")
    line = ("❌ " if new else "⚠️ No new failures: ") + ", ".join(parts)
    return f"{line} · {running}" if picture.running else line


def comment(picture):
    """The sticky comment's body: the most detail that fits GitHub's limit. Whole blocks are
    dropped, never a string cut (a cut could end a code span early and let its text loose)."""
    for per_section in PER_SECTION:
        body = _comment(picture, per_section, excerpts=per_section >= PER_SECTION[1])
        if len(body) <= BODY_MAX:
            return body
    return "\n\n".join([MARKER, f"## {text(headline(picture), 300)}", _as_of(picture)]) + "\n"


def _comment(picture, per_section, excerpts):
    parts = [MARKER, f"## {text(headline(picture), 300)}", _as_of(picture)]
    if picture.undiagnosed:
        parts.append(f"_Reading the logs of {plural(picture.undiagnosed, 'failed job')}…_")
    if picture.analysis_skipped:
        parts.append(f"_No AI analysis: {text(picture.analysis_skipped)}_")
    new = picture.by_class(*NEW)
    if new:
        parts.append(f"### New failures ({len(new)})")
        parts += _failures(new, per_section, excerpts)
    for failure_class, title in FOLDED:
        found = picture.by_class(failure_class)
        if found:
            parts.append(
                _folded(f"{title} ({len(found)})", _failures(found, per_section, excerpts))
            )
    if picture.running:
        names = [f"- {text(name)}" for name in picture.running[:per_section]]
        names += _more(len(picture.running) - per_section)
        parts.append(_folded(f"Running ({len(picture.running)})", ["\n".join(names)]))
    if picture.earlier:
        earlier = _failures(picture.earlier, per_section, excerpts=False, commit=True)
        parts.append(_folded(f"Earlier failures ({len(picture.earlier)})", earlier))
    return "\n\n".join(parts) + "\n"


def _as_of(picture):
    when = f" · {picture.as_of:%Y-%m-%d %H:%M} UTC" if picture.as_of else ""
    return f"As of {code_span(picture.head_sha[:12])}{when} · {plural(picture.runs, 'run')}"


def _failures(failures, per_section, excerpts, commit=False):
    blocks = [_failure(f, excerpts, commit) for f in failures[:per_section]]
    return blocks + _more(len(failures) - per_section)


def _more(count):
    return [f"_…and {count} more_"] if count > 0 else []


def _failure(failure, excerpt, commit=False):
    """One failure: the job linked to its log, the run, the failed step, the line, the
    evidence, the excerpt folded."""
    run = f"{failure.workflow_name} #{failure.run_number or '?'}"
    if failure.run_attempt > 1:
        run += f", attempt {failure.run_attempt}"
    head = (
        f"**{link(text(failure.job_name), failure.job_url)}** in {link(text(run), failure.run_url)}"
    )
    if failure.step:
        head += f" · step {code_span(failure.step, 120)}"
    if commit:
        head += f" · {code_span(failure.head_sha[:12])}"
    lines = [head]
    if failure.line:
        lines.append(code_span(failure.line))
    elif failure.failure_class is None:
        lines.append("_diagnosing…_")
    reason = _evidence(failure)
    if reason:
        lines.append(f"> {reason}")
    if failure.analysis:
        lines.append(_verdict(failure.analysis))
    block = "  \n".join(lines)
    if excerpt and failure.excerpt:
        block += "\n\n" + _folded("Log excerpt", [code_block(failure.excerpt)])
    return block


def _verdict(analysis):
    """The AI's verdict under its failure; its words are escaped like a log's (a log can
    carry a prompt injection into them)."""
    if analysis.get("confidence") is None:
        return "🤖 **unsure**: the AI's answer quoted lines it was not given, so it is not shown"
    line = f"🤖 **{text(analysis['verdict'])}** ({analysis['confidence']:.0%})"
    if analysis.get("explanation"):
        line += f": {text(analysis['explanation'], 400)}"
    if analysis.get("fix") and analysis["verdict"] == "related":
        line += f" Suggested fix: {text(analysis['fix'], 300)}"
    return line


def _evidence(failure):
    """The class's reason, with a link to its proof (the passing job, a base-branch run)."""
    found = failure.evidence or {}
    if failure.failure_class == "new" or not found.get("reason"):
        return ""  # the default: nothing else explains it
    passed = found.get("passed") or {}
    runs = found.get("runs") or []
    prs = found.get("prs") or []
    reason = text(found["reason"], 300)
    proof = passed.get("html_url") or (runs[0].get("html_url") if runs else None)
    if proof and safe_url(proof):
        reason += f" ({link('the proof', proof)})"
    elif prs and safe_url(prs[0].get("html_url")):
        reason += f" ({link('one of them', prs[0]['html_url'])})"
    return reason


def _folded(summary, blocks):
    """A <details> section; its summary is ours, its blocks escaped Markdown."""
    inner = "\n\n".join(blocks)
    return f"<details><summary>{html_text(summary, 120)}</summary>\n\n{inner}\n\n</details>"


# -- the check run, Slack, the log ------------------------------------------------------------


def check_output(picture):
    """The check run's output: the headline as title, the comment as summary, the result as
    JSON in the text (for other tools)."""
    summary = comment(picture).removeprefix(MARKER).lstrip()
    result = json.dumps(result_of(picture), indent=1, sort_keys=True)
    text_part = code_block(result[:60_000], "json")
    return {"title": one_line(headline(picture), 200), "summary": summary, "text": text_part}


def result_of(picture):
    """The picture as plain data: what the check run's JSON says."""
    return {
        "repository": picture.repo,
        "pull_request": picture.number,
        "head_sha": picture.head_sha,
        "headline": headline(picture),
        "green": picture.green,
        "running": len(picture.running),
        "failures": [
            {
                "job": f.job_name,
                "job_id": f.job_id,
                "job_url": f.job_url,
                "workflow": f.workflow_name,
                "run_url": f.run_url,
                "step": f.step,
                "line": f.line,
                "class": f.failure_class,
                "reason": (f.evidence or {}).get("reason"),
                "analysis": _analysis_result(f.analysis),
            }
            for f in picture.failures
        ],
    }


def _analysis_result(analysis):
    if not analysis:
        return None
    keys = ("id", "verdict", "confidence", "explanation", "fix", "model")
    return {key: analysis.get(key) for key in keys}


def slack_text(value, limit=300):
    """Text for Slack's mrkdwn: &, < and > escaped (so no <!channel> or <@U...> mention or
    link), on one line. https://api.slack.com/reference/surfaces/formatting#escaping"""
    value = one_line(value, limit)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(label, url):
    safe = safe_url(url)
    return f"<{safe.replace('|', '%7C')}|{label}>" if safe else label


def slack_failures(picture, failures):
    """The Block Kit message of a batch of new failures."""
    pr = slack_link(f"{slack_text(picture.repo)}#{picture.number}", picture.url)
    blocks = [_section(f"*{pr}* {slack_text(picture.title, 150)}\n{slack_text(headline(picture))}")]
    for failure in failures[:20]:
        job = slack_link(slack_text(failure.job_name, 100), failure.job_url)
        run = slack_link(slack_text(failure.workflow_name, 80), failure.run_url)
        line = slack_text(failure.line or failure.step or "", 280).replace("`", "'")
        blocks.append(_section(f"• *{job}* in {run}" + (f"\n`{line}`" if line else "")))
    if len(failures) > 20:
        blocks.append(_section(f"…and {len(failures) - 20} more"))
    fallback = f"{picture.repo}#{picture.number}: {headline(picture)}"
    return {"text": slack_text(fallback), "blocks": blocks}


def slack_green(picture):
    """The follow-up when a red PR turns green."""
    pr = slack_link(f"{slack_text(picture.repo)}#{picture.number}", picture.url)
    line = f"*{pr}* {slack_text(picture.title, 150)}\n✅ All checks green now"
    return {
        "text": slack_text(f"{picture.repo}#{picture.number}: all checks green"),
        "blocks": [_section(line)],
    }


def _section(mrkdwn):
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn[:3000]}}


def log_line(picture):
    """One key=value line (values quoted with json's escaping: no line breaks)."""
    counts = {}
    for failure in picture.failures:
        name = failure.failure_class or "undiagnosed"
        counts[name] = counts.get(name, 0) + 1
    fields = {
        "repo": picture.repo,
        "pr": picture.number,
        "head": picture.head_sha[:12],
        "failures": len(picture.failures),
        **counts,
        "running": len(picture.running),
        "headline": headline(picture),
    }
    return " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in fields.items())
