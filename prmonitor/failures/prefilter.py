"""Which lines of a block are worth the rules, and which rules: two C-speed scans per block.

Python's `re` tries every branch of an alternation at every position, so a hundred rules
cannot share one regex. Instead each rule is keyed, from its own pattern:
- by the literal text it starts with (after indentation), found with one regex anchored on
  the newlines of the block, which costs one short attempt per line; or
- by a few stems ("rror", "ail", ...), found with `bytes.find` over the block, which
  runs at memory speed.
Dispatch then runs, on each line found, only the rules whose start or texts it has.
A rule fits no key only if it is anchored without a literal start (a "shape"): those few
patterns are tried at the start of each line, inside the first scan."""

import re

from .literals import ANCHOR, branches, precise, required, starts
from .rules import Rule, RuleError

# Words most failure lines contain, searched as they are (no lowercasing: it costs as much as
# two more stems). A rule branch that does not start with literal text must contain one.
COARSE = (
    "rror", "RROR", "ail", "FAIL", "illed", "fault", "xception", "emory", "imeout", "bort",
    "space left", "denied", "not found", "No such file", "not recognized", "ndefined", ".go:",
    ".py:", ".rb:",
)  # fmt: skip
# Where tools put another tool's output after a prefix: docker build, compose, turbo, runners.
# The scan looks for docker build's only (the others cost a token scan on every line; the
# stems still find those lines, and the rules read them without the prefix).
SCANNED_PREFIX = r"#\d+ (?:\d+\.\d+ )?"
PREFIX = (
    SCANNED_PREFIX + r"|[\w.-]++\s+\| |[@\w/.-]++:[A-Za-z][\w-]*+: "
    r"|\[(?!(?:INFO|WARN|WARNING|DEBUG|ERROR|error|info|warn)\])[\w:@/.-]++\] "
)
# Stems that only count before a digit (".py::" in every pytest line is not a lint finding).
STEM_PATTERNS = {
    stem: re.compile(re.escape(stem.encode()) + rb"\d") for stem in (".py:", ".go:", ".rb:")
}
STRUCTURE = ("##[", "Post job cleanup.", "Cleaning up orphan processes")


class Prefilter:
    def __init__(self, rules: tuple[Rule, ...]):
        self.rules = rules
        self.starts: dict[str, list[tuple[str, list[int]]]] = {}
        self.stems: dict[str, dict[str, list[int]]] = {}
        self.shapes: list[int] = []
        scanned: set[str] = set(STRUCTURE)
        for index, rule in enumerate(rules):
            scanned |= self._key(index, rule)
        for token in STRUCTURE:
            self._add_start(token, None)
        tokens = sorted(token for token in scanned if token not in COARSE)
        shapes = "".join(f"|(?:{rules[index].pattern[1:]})" for index in self.shapes)
        trie, space = _trie([token.encode() for token in tokens]), rb"[^\S\n]*+"
        scanned_shapes, prefix = (
            _scanned_shapes([rules[i].pattern for i in self.shapes]),
            SCANNED_PREFIX.encode(),
        )
        self.line_starts = re.compile(  # MULTILINE: a shape's $ is its line's end
            b"\n(?:" + space + trie + scanned_shapes + b"|" + prefix + space + trie + b")", re.M
        )
        self.shape = re.compile(f"(?:{shapes[1:]})") if shapes else None
        self.scanned_stems = [
            (stem.encode(), STEM_PATTERNS.get(stem)) for stem in COARSE if stem in scanned
        ]
        self.around, self.foreign = _index_hints(self.stems)

    def _key(self, index: int, rule: Rule) -> set[str]:
        """Key each top-level branch by a coarse stem it has, else by its start; return the
        keys the scan must look for (none for noise rules: they only pre-empt other rules)."""
        if rule.regex.flags & re.IGNORECASE:
            raise RuleError(f"rule {rule.name!r}: spell the cases out, (?i) defeats the prefilter")
        alternatives, keys = branches(rule.pattern), set()
        for branch in alternatives:
            hints = required(branch, COARSE)
            stems = {_stem(hint) for hint in hints or ()}
            covered = bool(hints) and None not in stems
            tokens = starts(branch)
            if tokens:
                for token in tokens:
                    self._add_start(token, index)
                keys.update(stems if covered else tokens)
            elif covered:
                weak = any(len(hint) <= 4 for hint in hints)
                self._add_stems(stems, (weak and precise(branch)) or hints, index)
                keys.update(stems)
            elif branch and branch[0] == ANCHOR and len(alternatives) == 1:
                self.shapes.append(index)
            else:
                raise RuleError(
                    f"rule {rule.name!r}: each branch of the pattern must start with literal "
                    f"text, or contain one of {COARSE} (it has {sorted(hints or ())!r}), or "
                    "the pattern must be one branch anchored with ^"
                )
        return keys if rule.priority else set()

    def _add_stems(self, stems: set[str], hints: set[str], index: int) -> None:
        """Each dispatch text under the scan's stems it contains (or under all of them)."""
        for hint in hints:
            for stem in [stem for stem in stems if stem in hint] or stems:
                self.stems.setdefault(stem, {}).setdefault(hint, []).append(index)

    def _add_start(self, token: str, index: int | None) -> None:
        entries = self.starts.setdefault(token[:2], [])
        for known, indices in entries:
            if known == token:
                indices.extend([] if index is None else [index])
                return
        entries.append((token, [] if index is None else [index]))

    def candidates(self, block: bytes) -> set[int]:
        """The numbers (from 0) of the lines of a cleaned block some rule or marker may fit."""
        padded = b"\n" + block
        starts = (match.start() + 1 for match in self.line_starts.finditer(padded))
        found = {number - 1 for number in _line_numbers(padded, starts)}
        hits = []
        for stem, pattern in self.scanned_stems:
            if pattern is not None:
                hits.extend(match.start() for match in pattern.finditer(block))
                continue
            at = block.find(stem)
            while at >= 0:
                hits.append(at)
                at = block.find(b"\n", at)
                at = block.find(stem, at) if at >= 0 else -1
        return found | _line_numbers(block, sorted(hits))

    def rules_for(self, text: str) -> list[Rule]:
        """The rules whose keys this line has, in their order in `rules`."""
        found: set[int] = set()
        stripped = text.lstrip()
        for key in (stripped[:2], stripped[:1]):  # tokens by their first two characters
            for token, indices in self.starts.get(key, ()):
                if stripped.startswith(token):
                    found.update(indices)
        if self.shape is not None and self.shape.match(text):
            found.update(self.shapes)
        for stem, around in self.around:
            if stem not in text:
                continue
            at = text.find(stem)
            while at >= 0:
                before, after = (
                    text[at - 1 : at] or None,
                    text[at + len(stem) : at + len(stem) + 1] or None,
                )
                for key in ((before, after), (before, None), (None, after), (None, None)):
                    for hint, offset, indices in around.get(key, ()):
                        if at >= offset and text.startswith(hint, at - offset):
                            found.update(indices)
                at = text.find(stem, at + 1)
        for hint, indices in self.foreign:
            if hint in text:
                found.update(indices)
        return [self.rules[index] for index in sorted(found)]


# A shape that starts with indentation or a digit: the scan tries these only on such lines.
DIGIT_LED = re.compile(r"\^(?:\\s[*+]{1,2}| +)?\\d")


def _scanned_shapes(patterns: list[str]) -> bytes:
    """The shapes for the line-start scan, the digit-led ones behind one shared lookahead."""
    led = [pattern[1:] for pattern in patterns if DIGIT_LED.match(pattern)]
    others = [pattern[1:] for pattern in patterns if not DIGIT_LED.match(pattern)]
    scanned = "".join(f"|(?:{pattern})" for pattern in others)
    if led:
        scanned += "|(?=[^\\S\\n]*\\d)(?:" + "|".join(f"(?:{pattern})" for pattern in led) + ")"
    return scanned.encode()


def _index_hints(stems: dict[str, dict[str, list[int]]]):
    """For dispatch, each stem's hints by the characters just before and after the stem in
    them (so a line checks only the hints that fit around where its stem is), and the hints
    without the stem (a lookahead's stem with its rule's own words) in one shared list."""
    around, foreign = [], {}
    for stem, groups in stems.items():
        index: dict[tuple, list] = {}
        for hint, indices in groups.items():
            offset = hint.find(stem)
            if offset < 0:
                foreign.setdefault(hint, []).extend(indices)
                continue
            end = offset + len(stem)
            key = (hint[offset - 1] if offset else None, hint[end] if end < len(hint) else None)
            index.setdefault(key, []).append((hint, offset, indices))
        around.append((stem, index))
    return around, list(foreign.items())


def _trie(words: list[bytes]) -> bytes:
    """An alternation of words as a trie: at each byte one branch per next byte."""
    root: dict = {}
    for word in words:
        node = root
        for byte in word:
            node = node.setdefault(byte, {})
        node[None] = {}
    return _emit(root)


def _emit(node: dict) -> bytes:
    ends = None in node
    branches = [
        re.escape(bytes([byte])) + _emit(node[byte])
        for byte in sorted(k for k in node if k is not None)
    ]
    if not branches:
        return b""
    body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
    return b"(?:" + body + b")?" if ends else body


def _stem(hint: str) -> str | None:
    return next((stem for stem in COARSE if stem in hint), None)


def _line_numbers(text: bytes, positions) -> set[int]:
    """For sorted positions in `text`, the number of newlines before each."""
    numbers, line, last = set(), 0, 0
    for position in positions:
        line += text.count(b"\n", last, position)
        last = position
        numbers.add(line)
    return numbers
