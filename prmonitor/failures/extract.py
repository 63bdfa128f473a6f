"""Picking the line that explains a failed job, from its log or its annotations: pure."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike

from .logs import CAP, ERROR, file_chunks, read_log, visible
from .rules import BY_NAME, Rule
from .walk import AFTER, BEFORE, LAST_OUTPUT, PREFILTER, Candidate, Walk, claim_line

MAX_LINE = 500
# An annotation no rule explains: a problem matcher's or a tool's own `::error` is specific.
ANNOTATION = Rule("annotation", "annotation", 40, r"^(.+)", signature_group=1)
SYNTHETIC = {rule.name: rule for rule in (LAST_OUTPUT, ANNOTATION)}


@dataclass(frozen=True)
class Finding:
    """The line that explains a failure: `line` as shown (one line, <= 500 characters), the
    `rule` and `family` that recognised it, up to 40 lines around it (`excerpt`), its
    `signature` (stable across runs), whether it is only a wrapper (`generic`: never evidence
    that two failures are the same), whether the runner or network failed (`infrastructure`),
    and whether the log was cut at the cap before its end (`truncated`)."""

    line: str
    rule: str
    family: str
    excerpt: str
    signature: str
    generic: bool
    infrastructure: bool
    truncated: bool = False


def _finding(candidate: Candidate, truncated: bool) -> Finding:
    rule = candidate.rule
    part = candidate.match.group(rule.signature_group) if rule.signature_group else None
    lines = [*candidate.before, candidate.text, *candidate.after[:AFTER]]
    return Finding(
        line=candidate.text.strip()[:MAX_LINE],
        rule=rule.name,
        family=rule.family,
        excerpt="\n".join(visible(line)[:MAX_LINE] for line in lines),
        signature=signature(part or candidate.match.string),
        generic=rule.generic,
        infrastructure=rule.infrastructure,
        truncated=truncated,
    )


def rule_for(line: str) -> Rule | None:
    """The rule that claims one cleaned line, if the prefilter lets any rule see it."""
    if not PREFILTER.candidates(line.encode("utf-8", "replace")):
        return None
    claim = claim_line(PREFILTER, line, line.startswith(ERROR))
    return claim[0] if claim else None


def diagnose_lines(lines: Iterable[str]) -> Finding | None:
    """The line that explains why the job failed, from its cleaned lines (as `read_log` gives)."""
    chosen = Walk().run(lines)
    return _finding(chosen, bool(getattr(lines, "truncated", False))) if chosen else None


def diagnose_file(path: str | PathLike, cap_bytes: int = CAP) -> Finding | None:
    """`diagnose_lines` on a log file read in chunks (what `prmonitor diagnose --log` runs)."""
    return diagnose_lines(read_log(file_chunks(path), cap_bytes))


# Volatile parts of a line, replaced so that the same failure on two runs reads the same.
VOLATILE = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"(?:/home/runner/work|/Users/runner/work|/__w)/_temp/\S*", "<tmp>"),
        (r"(?:/home/runner/work|/Users/runner/work|/__w)/[^/\s]+/[^/\s]+/", ""),
        (r"[A-Za-z]:\\a\\[^\\\s]+\\[^\\\s]+\\|/github/workspace/", ""),
        (r"(?:/private)?/(?:tmp|var/folders)/[^\s'\":,)\]]*", "<tmp>"),
        (r"[A-Za-z]:\\Users\\[^\\\s]+\\AppData\\Local\\Temp\\[^\s'\":,)\]]*", "<tmp>"),
        (r"\btmp[\w-]{6,}", "<tmp>"),
        (
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
            "<uuid>",
        ),
        (r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?", "<time>"),
        (r"\b\d\d?:\d\d:\d\d(?:[.,]\d+)?\b", "<time>"),
        (r"\b0x[0-9a-fA-F]+\b", "<addr>"),
        (r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b", "<hex>"),
        (r"\b(?=[0-9A-F]*\d)(?=[0-9A-F]*[A-F])[0-9A-F]{12,}\b", "<hex>"),
        (
            r"\b(?:\d+h)?(?:\d+m)?\d+(?:\.\d+)?\s?(?:ms|µs|us|ns|s|sec|secs|seconds|minutes|min)\b",
            "<dur>",
        ),
        (r"\[gw\d+\]", "[gw]"),
        (r"\b\d+(?:\.\d+)*\b", "<n>"),
        (r"\s+", " "),
    )
)


def signature(line: str) -> str:
    """The line without what changes between runs of the same failure (numbers, paths, ids)."""
    text = line[len(ERROR) :] if line.startswith(ERROR) else line
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text.strip()[:MAX_LINE]


def diagnose_annotations(annotations: list[dict]) -> Finding | None:
    """The failure-level check-run annotation that best explains the failure, if any."""
    chosen = None
    for annotation in annotations:
        if annotation.get("annotation_level") != "failure":
            continue
        candidate = _from_annotation(annotation)
        if candidate and candidate.beats(chosen):
            chosen = candidate
    return _finding(chosen, False) if chosen else None


def _from_annotation(annotation: dict) -> Candidate | None:
    message = [line for line in (annotation.get("message") or "").splitlines() if line.strip()]
    if not message:
        return None
    chosen = None
    for line in message[: BEFORE + AFTER]:
        claim = claim_line(PREFILTER, line, False)
        if claim and claim[0].priority and (not chosen or claim[0].priority > chosen[0].priority):
            chosen = claim
    rule, match, text = chosen or (ANNOTATION, ANNOTATION.regex.search(message[0]), message[0])
    path, start = annotation.get("path"), annotation.get("start_line")
    if path and path != ".github" and path not in text and not rule.generic:
        text = f"{path}:{start}: {text}" if start else f"{path}: {text}"
    return Candidate(0, rule, text, match, [], message[1 : 1 + AFTER])


def best(from_log: Finding | None, from_annotations: Finding | None) -> Finding | None:
    """Choose between the log's finding and the annotations'.

    The log wins when it found something specific: it knows which step failed and ranks
    every line. Annotations win when the log only has a wrapper or a guess (problem matchers
    and `::error` commands are a tool's own verdict), and when they report the runner failing
    where the log did not (a runner that lost communication often leaves no log line)."""
    if from_annotations is None or from_log is None:
        return from_log or from_annotations
    if from_log.generic and not from_annotations.generic:
        return from_annotations
    runner = from_annotations.infrastructure and not from_log.infrastructure
    if runner and _priority(from_annotations) > _priority(from_log):
        return from_annotations
    return from_log


def _priority(finding: Finding) -> int:
    return (BY_NAME.get(finding.rule) or SYNTHETIC[finding.rule]).priority
