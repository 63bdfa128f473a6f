"""One pass over a job log: its steps, the step that failed, and the best line of each."""

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice

from .logs import ENDGROUP, ERROR, GROUP
from .prefilter import PREFIX, Prefilter
from .rules import BY_NAME, RULES, Rule

BEFORE, AFTER, RING, BATCH = 10, 29, 64, 128
# An earlier failed step's line this strong explains a last failed step that only wrapped.
STRONG = 60
# A step header (script, shell, env) longer than this lost its ##[endgroup]: read on as output.
HEADER_MAX = 400
# Where the runner's own post-job work starts: nothing there explains the failure.
POST = ("Post job cleanup.", "Cleaning up orphan processes")
TRACEBACK = BY_NAME["python-traceback"]
CHAINED = ("Traceback (", "During handling of the above", "The above exception was")
GHA_ERROR = BY_NAME["gha-error"]
# A line no rule explains, shown when the step's only other lines are wrappers.
LAST_OUTPUT = Rule("last-output", "unknown", 12, r"^(.+)", signature_group=1, generic=True)
# Prefixes that tools put before another tool's output: docker build, compose, turbo, runners.
PREFIXES = re.compile(f"^(?:{PREFIX})")
PREFILTER = Prefilter(RULES)


@dataclass
class Candidate:
    index: int
    rule: Rule
    text: str
    match: re.Match
    before: list[str]
    after: list[str] = field(default_factory=list)

    def beats(self, other: "Candidate | None") -> bool:
        if other is None:
            return True
        return (self.rule.priority, -self.index) > (other.rule.priority, -other.index)


@dataclass
class _Section:
    """A step of the job: from its `##[group]Run ...` header to the next one."""

    body: int
    post: bool = False
    failed: bool = False
    best: Candidate | None = None
    last_words: Candidate | None = None

    def pick(self) -> Candidate | None:
        if self.last_words and self.last_words.beats(self.best):
            return self.last_words
        return self.best


class Walk:
    """One pass over a log, a block of lines at a time: the current step, the last failed one.

    A step starts at its `##[group]Run ...` header; the lines of the header (the script, its
    shell and env) are not output. The answer is the best line of the last step that logged an
    `##[error]` (the step whose failure ended the job); with no `##[error]` at all, the best
    line anywhere but the post-job cleanup."""

    def __init__(self, prefilter: Prefilter = PREFILTER):
        self.prefilter = prefilter
        self.history: list[str] = []
        self.batch: list[str] = []
        self.start = 0
        self.claimed: deque[int] = deque(maxlen=RING)
        self.open: list[Candidate] = []
        self.section = _Section(body=0)
        self.in_header = False
        self.traceback: int | None = None
        self.failing: Candidate | None = None
        self.failing_post = False
        self.earlier: Candidate | None = None
        self.overall: Candidate | None = None
        self.post_best: Candidate | None = None

    def run(self, lines: Iterable[str]) -> Candidate | None:
        for raw, batch in _batches(lines):
            self._batch(raw, batch)
        self._close()
        if self.failing is None or (self.failing.rule.generic and self.earlier):
            # The last failed step only reported a failure (a test reporter, a final check,
            # an `if: always()` step): an earlier failed step that explains it is the cause.
            return self.earlier or self.overall or self.post_best
        return self.failing

    def _batch(self, raw: bytes, batch: list[str]) -> None:
        self.batch = batch
        for candidate in self.open:
            candidate.after.extend(batch[: AFTER - len(candidate.after)])
        self.open = [candidate for candidate in self.open if len(candidate.after) < AFTER]
        for number in sorted(self.prefilter.candidates(raw)):
            if self.traceback is not None:
                self._traceback(self.start + number)
            self._candidate(self.start + number, batch[number])
        if self.traceback is not None:
            self._traceback(self.start + len(batch))
        self.history = (self.history + batch[-RING:])[-RING:]
        self.start += len(batch)

    def _lines(self, first: int, end: int) -> list[str]:
        """The lines numbered [first, end) still in view: the history, then this batch."""
        held = len(self.history)
        offset = self.start - held
        first, end = max(first - offset, 0), max(end - offset, 0)
        if end <= held:
            return self.history[first:end]
        if first >= held:
            return self.batch[first - held : end - held]
        return self.history[first:] + self.batch[: end - held]

    def _candidate(self, index: int, line: str) -> None:
        if line.startswith("##["):
            if line.startswith(GROUP):
                return self._group(index, line)
            if line.startswith(ENDGROUP):
                self.in_header, self.section.body = False, index + 1
                return None
        if self.in_header and index - self.section.body < HEADER_MAX:
            return None
        self.in_header = False
        if line.startswith(POST):
            return self._new_section(index, post=True)
        marked = line.startswith(ERROR)
        self.section.failed |= marked
        claim = claim_line(self.prefilter, line, marked)
        if claim is None:
            return None
        self.claimed.append(index)
        rule, match, text = claim
        if rule is TRACEBACK:
            self.traceback = index
            return None
        if rule.priority == 0:
            return None
        if rule.generic:
            self._last_words(index)
        return self._consider(self._new(index, rule, text, match))

    def _traceback(self, end: int) -> None:
        """A Python traceback ends with its first unindented line: the exception raised."""
        start = self.traceback + 1
        for at, line in enumerate(self._lines(start, end), start):
            if not line or line[0].isspace() or line.startswith(CHAINED):
                continue
            self.traceback = None
            claim = claim_line(self.prefilter, line, False)
            rule, match, text = claim or (TRACEBACK, _line(line), line)
            if rule.priority:
                self._consider(self._new(at, rule, text, match))
            return
        self.traceback = max(end - 1, self.traceback)

    def _new(self, index: int, rule: Rule, text: str, match: re.Match) -> Candidate:
        before = self._lines(index - BEFORE, index)
        after = self._lines(index + 1, index + 1 + AFTER)
        candidate = Candidate(index, rule, text, match, before, after)
        if len(after) < AFTER:
            self.open.append(candidate)
        return candidate

    def _group(self, index: int, line: str) -> None:
        if line.startswith("Run ", len(GROUP)):
            self._new_section(index, post=False)
            self.in_header = True

    def _new_section(self, index: int, post: bool) -> None:
        self._close()
        self.section = _Section(body=index + 1, post=post or self.section.post)

    def _close(self) -> None:
        section = self.section
        if not section.failed or (section.post and self.failing and not self.failing_post):
            return
        if self.failing and not self.failing.rule.generic and self.failing.rule.priority >= STRONG:
            self.earlier = self.failing
        self.failing, self.failing_post = section.pick(), section.post

    def _consider(self, candidate: Candidate) -> None:
        section = self.section
        if not candidate.beats(section.best):
            return
        section.best = candidate
        if section.post:
            self.post_best = candidate if candidate.beats(self.post_best) else self.post_best
        elif candidate.beats(self.overall):
            self.overall = candidate

    def _last_words(self, index: int) -> None:
        """Before a wrapper, the last line nothing claimed: often a script's own message."""
        first = max(self.section.body, index - AFTER)
        for at, line in reversed(list(enumerate(self._lines(first, index), first))):
            if at in self.claimed or not _meaningful(line):
                continue
            if not (self.section.last_words and self.section.last_words.index == at):
                match = LAST_OUTPUT.regex.search(line.strip())
                self.section.last_words = self._new(at, LAST_OUTPUT, line, match)
            return


def _batches(lines: Iterable[str]) -> Iterable[tuple[bytes, list[str]]]:
    """Blocks of lines with their bytes: `read_log`'s own, or made from any iterable of lines."""
    if hasattr(lines, "blocks"):
        yield from lines.blocks()
        return
    iterator = iter(lines)
    while batch := list(islice(iterator, BATCH)):
        yield "\n".join(batch).encode("utf-8", "replace"), batch


def _line(line: str) -> re.Match:
    """A match of the whole line, for lines no rule's pattern matched."""
    return re.search(r"^.*", line)


def _meaningful(line: str) -> bool:
    text = line.strip()
    if len(text) < 3 or text.startswith(("##[", "+ ", "Warning: ", "Notice: ", "Debug: ")):
        return False
    return any(char.isalnum() for char in text)


def claim_line(prefilter: Prefilter, line: str, marked: bool) -> tuple[Rule, re.Match, str] | None:
    """The rule that claims this line, with its match and the line as shown (no marker)."""
    text = line[len(ERROR) :] if marked else line
    if text.startswith("+ "):
        return None
    claim = _claim(prefilter, text)
    if claim is None and (text[:1] in "#[" or "| " in text[:60] or ": " in text[:80]):
        inner = PREFIXES.sub("", text, count=1)
        claim = _claim(prefilter, inner) if inner != text else None
    if claim is None and marked:
        return GHA_ERROR, GHA_ERROR.regex.search(line), text
    return (claim[0], claim[1], text) if claim else None


def _claim(prefilter: Prefilter, text: str) -> tuple[Rule, re.Match] | None:
    for rule in prefilter.rules_for(text):
        match = rule.regex.search(text)
        if match:
            return rule, match
    return None
