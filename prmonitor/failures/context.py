"""What Claude is given for one failure (pure): the PR's part, shared by the failures of one head
(its title and description, its changed files with their patches), and the failure's part (the
workflow, job, failed step, line, excerpt, the class's evidence, and the patches of the files
the excerpt names, first), within a token budget. Everything goes through redact() first.

The PR's part is the same text for every failure of a head, so the prompt cache serves it
after the first: https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching
"""

import posixpath
import re
from dataclasses import dataclass

from prmonitor.failures.redact import redact

CHARS_PER_TOKEN = 3.5  # a conservative estimate for code and logs
DESCRIPTION_TOKENS = 1_500
EXCERPT_TOKENS = 3_000
PATCH_TOKENS = 4_000  # one file's patch at most
NAMED_SHARE = 0.25  # of the budget, for the patches of the files the failure names
GENERATED = re.compile(
    r"(^|/)(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|Cargo\.lock|go\.sum|"
    r"Gemfile\.lock|composer\.lock|uv\.lock)$|\.min\.(js|css)$|\.snap$|(^|/)(dist|vendor|"
    r"node_modules|__generated__|generated)/|\.pb\.go$|_pb2\.py$|\.svg$"
)
PATH_IN_TEXT = re.compile(r"[\w./-]+\.\w+")
EXCERPT_HEADING = "Log excerpt:"
PATCHES_HEADING = "\n\nPatches:\n"
MIN_QUOTE = 10  # characters: a shorter quote ("None", "test") proves nothing


@dataclass(frozen=True)
class ChangedFile:
    """A file of the PR (GET /repos/{o}/{r}/pulls/{n}/files)."""

    filename: str
    status: str = "modified"
    additions: int = 0
    deletions: int = 0
    patch: str | None = None  # GitHub leaves it out for binary and very large diffs

    @property
    def generated(self):
        return bool(GENERATED.search(self.filename))


def tokens(text):
    """An estimate of the tokens of `text`."""
    return int(len(text) / CHARS_PER_TOKEN) + 1


def cut(text, budget):
    """`text` within `budget` tokens, its end marked when cut."""
    limit = int(budget * CHARS_PER_TOKEN)
    return text if len(text) <= limit else text[:limit] + "\n[... cut]"


def pr_part(title, body, files, budget):
    """The PR's part: title, description and files (stable order, generated files last), the
    patches as the budget allows, the other files by name."""
    lines = [
        f"Pull request: {title or ''}",
        "",
        "Description:",
        cut(redact(body or "(none)"), DESCRIPTION_TOKENS),
        "",
    ]
    ordered = sorted(files, key=lambda f: (f.generated, f.filename))
    lines.append(f"Changed files ({len(files)}):")
    lines += [f"- {f.filename} ({f.status}, +{f.additions} -{f.deletions})" for f in ordered[:300]]
    if len(ordered) > 300:
        lines.append(f"- ... and {len(ordered) - 300} more")
    text = redact("\n".join(lines))
    spent = tokens(text)
    patches = []
    for changed in ordered:
        if changed.patch is None or changed.generated:
            continue
        block = patch_block(changed)
        if spent + tokens(block) > budget:
            continue
        patches.append(block)
        spent += tokens(block)
    return text + (PATCHES_HEADING + "\n".join(patches) if patches else "")


def patch_block(changed):
    return f"--- {changed.filename}\n{cut(redact(changed.patch), PATCH_TOKENS)}\n"


def named_files(excerpt, files):
    """The files the excerpt names (by path or by file name), then files in their directories."""
    named_text = set(PATH_IN_TEXT.findall(excerpt or ""))
    names = {posixpath.basename(p) for p in named_text}
    named = [
        f for f in files if f.filename in named_text or posixpath.basename(f.filename) in names
    ]
    folders = {posixpath.dirname(f.filename) for f in named}
    near = [f for f in files if f not in named and posixpath.dirname(f.filename) in folders]
    return [f for f in named + near if not f.generated and f.patch is not None]


def failure_part(failure, files, budget):
    """The failure's part: where it failed, its line and excerpt, its evidence, and the
    patches of the files its excerpt names."""
    lines = [
        f"Workflow: {failure['workflow']}",
        f"Job: {failure['job']}",
        f"Failed step: {failure.get('step') or '(unknown)'}",
        f"Failure line: {failure.get('line') or '(none)'}",
        f"Class from prmonitor's own rules: {failure.get('class')} ({failure.get('reason') or ''})",
        "",
        EXCERPT_HEADING,
        cut(redact(failure.get("excerpt") or "(none)"), EXCERPT_TOKENS),  # redacted, then cut
    ]
    text = redact("\n".join(lines))
    spent = tokens(text)
    blocks = []
    for changed in named_files(failure.get("excerpt"), files):
        block = patch_block(changed)
        if spent + tokens(block) > budget:
            break
        blocks.append(block)
        spent += tokens(block)
    if blocks:
        text += "\n\nPatches of the files this failure names:\n" + "\n".join(blocks)
    return text


def split_budget(total, system):
    """(the PR's share, the failure's share) of `total` tokens after the system prompt."""
    left = max(1_000, total - tokens(system))
    failure_share = EXCERPT_TOKENS + int(left * NAMED_SHARE)
    return max(500, left - failure_share), failure_share


def normalize(text):
    return " ".join(text.split())


def quotable(part):
    """What a quote may come from in a part (pr_part, failure_part): the log excerpt and the
    patches, never prmonitor's own headings, the file list or the description."""
    for heading in (f"\n{EXCERPT_HEADING}\n", PATCHES_HEADING):
        if heading in part:
            return part.split(heading, 1)[1]
    return ""


def _undiffed(text):
    return "\n".join(line[1:] if line[:1] in "+-" else line for line in text.splitlines())


def grounded(quotes, sent):
    """(all quotes grounded, the first that is not): each, at least MIN_QUOTE characters, must
    be in the quotable text that was sent, whitespace normalised (a quote may span lines),
    with or without a diff's leading + or -."""
    plain, undiffed = normalize(sent), normalize(_undiffed(sent))
    for quote in quotes:
        wanted = normalize(quote)
        found = wanted in plain or normalize(_undiffed(quote)) in undiffed
        if len(wanted) < MIN_QUOTE or not found:
            return False, quote
    return True, None
