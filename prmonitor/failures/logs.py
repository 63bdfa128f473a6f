"""GitHub Actions job logs as a reader sees them: cleaned lines, streamed with bounded memory."""

import re
from collections.abc import Iterable, Iterator

# Cleaning works on the raw bytes of whole lines, before decoding: byte regexes run several
# times faster than str ones on text with non-ASCII characters (✓, box drawing), and a UTF-8
# character never contains a newline byte, so whole lines always decode right.

# The runner stamps every line (https://docs.github.com/en/actions/monitoring-and-troubleshooting-workflows/using-workflow-run-logs);
# found after each newline, a literal the regex engine scans for fast.
STAMPS = re.compile(rb"\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")
BOM = b"\xef\xbb\xbf"
# `gh run view --log` puts the job's and the step's names before each stamped line.
GH_CLI = re.compile(
    rb"^[^\t\n]*\t[^\t\n]*\t(?=(?:\xef\xbb\xbf)?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", re.M
)
# CSI (colours, cursor moves), OSC (titles, hyperlinks), and the two-byte escapes.
ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
# The same escapes in caret notation (^[[31m), as some tools that save logs write them.
CARET_ESCAPES = re.compile(rb"\^\[\[[0-?]*[ -/]*[@-~]")
# A progress bar rewrites its line with \r: the reader sees what came after the last one.
REWRITES = re.compile(rb"^[^\n]*\r(?=[^\n])", re.M)
TRAILING_CR = re.compile(rb"\r+$", re.M)
# Workflow commands as the runner logs them (##[x]) or as a tool printed them (::x::), each
# kind with a literal start the regex engine scans for fast; `_marker` keeps those that
# start a line. https://docs.github.com/en/actions/using-workflows/workflow-commands-for-github-actions
MARKERS = tuple(
    (literal, re.compile(pattern))
    for literal, pattern in (
        (b"##[", rb"##\[(group|endgroup|error|command|debug|section|warning|notice)\]()()"),
        (b"::", rb"::()(group|endgroup|error|debug|warning|notice)(?: [^\n]*?)?::()"),
        (b"[command]", rb"\[()()(command)\]"),
    )
)
# What the reader sees in place of each marker; group, endgroup and error stay as markers
# because they carry the log's structure (see `visible`).
SHOWN = {
    b"group": b"##[group]",
    b"endgroup": b"##[endgroup]",
    b"error": b"##[error]",
    b"command": b"",
    b"section": b"",
    b"debug": b"Debug: ",
    b"warning": b"Warning: ",
    b"notice": b"Notice: ",
}
ERROR = "##[error]"
GROUP = "##[group]"
ENDGROUP = "##[endgroup]"

MAX_LINE = 64 * 1024
CAP = 256 * 2**20
SLICE = 1 << 20


def _marker(match: re.Match) -> bytes:
    start = match.start()
    if start and match.string[start - 1] != 10:  # not at a line's start: text, not a command
        return match[0]
    return SHOWN[match[1] or match[2] or match[3]]


def clean_bytes(data: bytes) -> bytes:
    """Raw lines (bytes, joined by newlines) as a reader sees them, in a few C-speed passes."""
    if b"\t" in data[:512] and GH_CLI.search(data[:4096]):
        data = GH_CLI.sub(b"", data)
    if BOM in data:
        data = data.replace(BOM, b"")
    if b"\x1b" in data:
        data = ESCAPES.sub(b"", data)
    if b"^[[" in data:
        data = CARET_ESCAPES.sub(b"", data)
    if b"\r" in data:
        data = REWRITES.sub(b"", TRAILING_CR.sub(b"", data))
    data = STAMPS.sub(b"\n", b"\n" + data)[1:]
    for literal, pattern in MARKERS:
        if literal in data:
            data = pattern.sub(_marker, data)
    return data


def clean_block(data: bytes) -> tuple[bytes, list[str]]:
    """Cleaned raw lines: as bytes (for the prefilter's scans) and as decoded lines."""
    cleaned = clean_bytes(data)
    return cleaned, _cut(cleaned.decode("utf-8", "replace").split("\n"))


def clean_lines(text: str) -> list[str]:
    """Many raw lines at once, cleaned: the same as `clean` on each."""
    return clean_block(text.encode("utf-8", "replace"))[1]


def clean(line: str) -> str:
    """One raw log line as a reader sees it; ##[group], ##[endgroup] and ##[error] are kept."""
    return clean_lines(line.rstrip("\n").replace("\n", " "))[0]


def visible(line: str) -> str:
    """A cleaned line without the structural markers `clean` keeps."""
    if not line.startswith("##["):
        return line
    for marker in (ERROR, GROUP, ENDGROUP):
        if line.startswith(marker):
            return line[len(marker) :]
    return line


class LogLines:
    """The cleaned lines of a streamed log, read once; `truncated` is set when the cap cut it."""

    def __init__(self, chunks: Iterable[bytes], cap_bytes: int = CAP):
        self._chunks = chunks
        self.cap_bytes = cap_bytes
        self.bytes_read = 0
        self.truncated = False

    def __iter__(self) -> Iterator[str]:
        for _, lines in self.blocks():
            yield from lines

    def blocks(self) -> Iterator[tuple[bytes, list[str]]]:
        """The cleaned lines a piece at a time, each with its bytes (see `clean_block`)."""
        splitter = _Splitter()
        for piece in self._pieces():
            yield from splitter.feed(piece)
        yield from splitter.close()

    def _pieces(self) -> Iterator[bytes]:
        """The chunks, sliced to bounded pieces, stopping at the cap."""
        for chunk in self._chunks:
            room = self.cap_bytes - self.bytes_read
            if len(chunk) > room:
                chunk = chunk[:room]
                self.truncated = True
            view = memoryview(chunk)
            for start in range(0, len(view), SLICE):
                piece = view[start : start + SLICE]
                self.bytes_read += len(piece)
                yield bytes(piece)
            if self.truncated:
                return


class _Splitter:
    """Cuts bytes into blocks of whole cleaned lines, holding at most HOLD bytes of a line."""

    HOLD = 4 * MAX_LINE + 4  # enough bytes for MAX_LINE characters of any UTF-8 text

    def __init__(self):
        self.pending = b""
        self.overlong = False

    def feed(self, data: bytes) -> list[tuple[bytes, list[str]]]:
        blocks = []
        if self.overlong:  # skip the rest of a line already cut
            end = data.find(b"\n")
            if end < 0:
                return blocks
            blocks = self.close()
            data = data[end + 1 :]
        body, newline, tail = (self.pending + data).rpartition(b"\n")
        self.pending = b""
        if newline:
            blocks.append(clean_block(body))
        self._hold(tail)
        return blocks

    def close(self) -> list[tuple[bytes, list[str]]]:
        if not (self.pending or self.overlong):
            return []
        block = clean_block(self.pending)
        self.pending, self.overlong = b"", False
        return [block]

    def _hold(self, data: bytes) -> None:
        self.pending = data[: self.HOLD]
        self.overlong = len(data) > self.HOLD


def _cut(lines: list[str]) -> list[str]:
    if max(map(len, lines)) <= MAX_LINE:
        return lines
    return [line[:MAX_LINE] for line in lines]


def read_log(chunks: Iterable[bytes], cap_bytes: int = CAP) -> LogLines:
    """A log's cleaned lines from its bytes as they arrive (e.g. `Response.iter_content`)."""
    return LogLines(chunks, cap_bytes)


def file_chunks(path, size: int = SLICE) -> Iterator[bytes]:
    """A file's bytes in chunks of `size`."""
    with open(path, "rb") as stream:
        while chunk := stream.read(size):
            yield chunk
