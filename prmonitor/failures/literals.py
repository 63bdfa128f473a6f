"""What literal text every match of a regex pattern contains, or starts with (from its parse)."""

import re._constants as sre
import re._parser as sre_parse

MAX_START = 12
SPACE = [(sre.IN, [(sre.CATEGORY, sre.CATEGORY_SPACE)])]
REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
ANCHOR = (sre.AT, sre.AT_BEGINNING)


def branches(pattern: str) -> list[list]:
    """The top-level alternatives (the parser moves a ^ they all start with before them)."""
    items = list(sre_parse.parse(pattern).data)
    head = items[:1] if items and items[0] == ANCHOR else []
    body = items[len(head) :]
    if len(body) == 1 and body[0][0] is sre.BRANCH:
        return [head + list(branch) for branch in body[0][1][1]]
    return [items]


def starts(branch: list) -> set[str] | None:
    """Literal texts one of which starts every match of the branch (after indentation)."""
    if not branch or branch[0] != ANCHOR:
        return None
    rest = branch[1:]
    if rest and rest[0][0] in (sre.MAX_REPEAT, sre.MIN_REPEAT) and list(rest[0][1][2]) == SPACE:
        rest = rest[1:]
    found = _sequence_starts(rest)
    if not found or any(not text.strip() or len(text) < 2 and text.isascii() for text in found):
        return None
    return found


def _sequence_starts(items: list) -> set[str] | None:
    if not items:
        return {""}
    op, av = items[0]
    rest = items[1:]
    if op is sre.LITERAL:
        run = 0
        while run < len(items) and items[run][0] is sre.LITERAL:
            run += 1
        text = "".join(chr(value) for _, value in items[:run])
        if len(text) >= MAX_START or run == len(items):
            return {text[:MAX_START]}
        return _extend(text, items[run:])
    if op is sre.NOT_LITERAL or op is sre.ASSERT_NOT:
        return _sequence_starts(rest) if op is sre.ASSERT_NOT else None
    if op is sre.SUBPATTERN and not av[1]:
        return _sequence_starts(list(av[-1]) + rest)
    if op is sre.BRANCH:
        return _union(_sequence_starts(list(branch) + rest) for branch in av[1])
    if op in REPEATS and av[0] >= 1 and len(av[2]) == 1 and av[2][0][0] is sre.LITERAL:
        text = chr(av[2][0][1]) * av[0]
        return {text[:MAX_START]} if av[1] != av[0] or len(text) >= 4 else _extend(text, rest)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[1] == 1:
        taken = _sequence_starts(list(av[2]) + rest)
        return taken if av[0] == 1 else _union([taken, _sequence_starts(rest)])
    if op is sre.IN and all(kind is sre.LITERAL for kind, _ in av) and len(av) <= 6:
        return _union(
            {chr(value) + start for start in (_sequence_starts(rest) or {""})} for _, value in av
        )
    return None


def _extend(text: str, rest: list) -> set[str]:
    """`text` and what may follow it, if the rest starts with few literal texts."""
    more = _sequence_starts(rest)
    if not more or len(more) > 8:
        return {text}
    return {(text + start)[:MAX_START] for start in more}


def _union(sets) -> set[str] | None:
    found: set[str] = set()
    for each in sets:
        if not each or "" in each:
            return None
        found |= each
    return found


def precise(branch: list) -> set[str] | None:
    """The branch's most selective literals, if strong enough to pick the rule by."""
    hints = required(branch, ())
    if not hints or any(len(hint) < 4 and hint.isascii() for hint in hints):
        return None
    return hints


def required(items, prefer: tuple[str, ...]) -> set[str] | None:
    """The most selective set of literals of which every match contains one (preferring sets
    whose every member contains one of the `prefer` stems)."""
    best, run = None, []
    for op, av in items:
        if op is sre.LITERAL:
            run.append(chr(av))
            continue
        best = _better(best, {"".join(run)} if run else None, prefer)
        run = []
        best = _better(best, _required_in(op, av, prefer), prefer)
    return _better(best, {"".join(run)} if run else None, prefer)


def _required_in(op, av, prefer: tuple[str, ...]) -> set[str] | None:
    if op is sre.SUBPATTERN and not av[1] & sre.SRE_FLAG_IGNORECASE:
        return required(av[-1], prefer)
    if op in REPEATS and av[0] >= 1:
        return required(av[2], prefer)
    if op is sre.ATOMIC_GROUP:
        return required(av, prefer)
    if op is sre.ASSERT and av[0] == 1:
        return required(av[1], prefer)
    if op is sre.BRANCH:
        branches = [required(branch, prefer) for branch in av[1]]
        return set().union(*branches) if all(branches) else None
    return None


def _better(best: set[str] | None, other: set[str] | None, prefer: tuple[str, ...]):
    """The more selective of two hint sets: words over punctuation, long over short, few."""
    if not other:
        return best
    if not best:
        return other
    return other if _selectivity(other, prefer) > _selectivity(best, prefer) else best


def _selectivity(hints: set[str], prefer: tuple[str, ...]) -> tuple[bool, int, int, int]:
    letters = min(sum(char.isalpha() or not char.isascii() for char in hint) for hint in hints)
    covered = bool(prefer) and all(any(stem in hint for stem in prefer) for hint in hints)
    return covered, min(letters, 6), min(map(len, hints)), -len(hints)
