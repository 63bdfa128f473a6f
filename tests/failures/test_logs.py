"""Cleaning log lines as GitHub shows them, and reading a streamed log in bounded memory."""

import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prmonitor.failures.logs import MAX_LINE, clean, clean_lines, file_chunks, read_log, visible

STAMP = "2024-05-01T12:34:56.1234567Z "


@pytest.mark.parametrize(
    "raw, shown",
    [
        (STAMP + "plain text", "plain text"),
        ("2024-05-01T12:34:56Z short stamp", "short stamp"),
        ("2024-05-01T12:34:56.12Z odd precision", "odd precision"),
        ("no stamp at all", "no stamp at all"),
        (STAMP + "\x1b[36;1mpytest -q\x1b[0m", "pytest -q"),
        (STAMP + "\x1b[1m\x1b[31mE       assert 3 == 4\x1b[0m", "E       assert 3 == 4"),
        (STAMP + "\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\ text", "link text"),
        (STAMP + "\x1b]0;window title\x07after", "after"),
        (STAMP + "\x1b[2K\x1b[1Gprogress", "progress"),
        (STAMP + "^[[41m^[[1m FAIL ^[[22m^[[49m caret notation", " FAIL  caret notation"),
        (STAMP + "10%\r50%\r100% done", "100% done"),
        (STAMP + "windows line\r", "windows line"),
        ("\ufeff" + STAMP + "first line", "first line"),
        (STAMP + "##[group]Run actions/checkout@v4", "##[group]Run actions/checkout@v4"),
        (STAMP + "##[endgroup]", "##[endgroup]"),
        (
            STAMP + "##[error]Process completed with exit code 1.",
            "##[error]Process completed with exit code 1.",
        ),
        (STAMP + "##[command]/usr/bin/git version", "/usr/bin/git version"),
        (STAMP + "[command]/usr/bin/git version", "/usr/bin/git version"),
        (STAMP + "##[debug]Evaluating condition", "Debug: Evaluating condition"),
        (
            STAMP + "##[warning]Node.js 16 actions are deprecated",
            "Warning: Node.js 16 actions are deprecated",
        ),
        (STAMP + "##[notice]Released v1.2", "Notice: Released v1.2"),
        (STAMP + "##[section]Starting: build", "Starting: build"),
        (STAMP + "::group::Install", "##[group]Install"),
        (STAMP + "::endgroup::", "##[endgroup]"),
        (STAMP + "::error file=src/a.py,line=3,col=1::boom", "##[error]boom"),
        (STAMP + "::warning::careful", "Warning: careful"),
        (STAMP + "text with ##[error] in the middle", "text with ##[error] in the middle"),
        ("test (3.12)\tRun pytest\t" + STAMP + "##[error]boom", "##[error]boom"),
        ("a\tb\tnot a stamped line", "a\tb\tnot a stamped line"),
    ],
)
def test_clean_shows_what_a_reader_sees(raw, shown):
    assert clean(raw) == shown
    assert clean(raw + "\n") == shown


def test_visible_drops_the_structural_markers():
    assert visible("##[error]boom") == "boom"
    assert visible("##[group]Run make") == "Run make"
    assert visible("##[endgroup]") == ""
    assert visible("plain") == "plain"


lines = st.lists(
    st.text(alphabet=st.sampled_from("ab #[]:\x1b\r\ufeff;m0Z-T.é")).map(
        lambda text: text.replace("\n", "")
    ),
    max_size=8,
)


@given(lines, st.booleans())
def test_cleaning_a_block_equals_cleaning_each_line(raw_lines, stamped):
    raw_lines = [(STAMP if stamped else "") + line for line in raw_lines] or [""]
    assert clean_lines("\n".join(raw_lines)) == [clean(line) for line in raw_lines]


def read(data: bytes, size: int = 7, **kwargs) -> tuple[list[str], object]:
    log = read_log((data[at : at + size] for at in range(0, len(data), size)), **kwargs)
    return list(log), log


def test_read_log_cleans_and_splits_lines():
    data = f"{STAMP}one\n{STAMP}\x1b[31mtwo\x1b[0m\r\n{STAMP}three".encode()
    got, log = read(data)
    assert got == ["one", "two", "three"]
    assert (log.bytes_read, log.truncated) == (len(data), False)


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_a_multibyte_character_split_across_chunks_decodes(size):
    text = "naïve — 日本語 ✓ 💥\nsecond ✘ line\n"
    got, _ = read(text.encode(), size=size)
    assert got == ["naïve — 日本語 ✓ 💥", "second ✘ line"]


def test_invalid_utf8_is_replaced_not_raised():
    got, _ = read(b"ok \xff\xfe bytes\nnext\n")
    assert got == ["ok \ufffd\ufffd bytes", "next"]


def test_a_line_without_newline_is_cut_and_memory_stays_bounded():
    """A 4 MiB line is held as at most a few times MAX_LINE bytes, and shown cut."""
    chunk = b"x" * 65536

    def chunks():
        yield b"before\n"
        for _ in range(64):  # 4 MiB without a newline
            yield chunk
        yield b"\nafter\n"

    tracemalloc.start()
    got = list(read_log(chunks()))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [len(line) for line in got] == [6, MAX_LINE, 5]
    assert got[1] == "x" * MAX_LINE
    assert peak < 1_500_000


def test_a_huge_single_chunk_is_sliced():
    data = (b"line of text\n" * 200_000) + b"last"
    got, log = read(data, size=len(data))
    assert len(got) == 200_001 and got[-1] == "last"
    assert log.bytes_read == len(data)


def test_the_cap_truncates_and_says_so():
    data = b"".join(f"{STAMP}line {n}\n".encode() for n in range(1000))
    got, log = read(data, size=4096, cap_bytes=10_000)
    assert log.truncated and log.bytes_read == 10_000
    assert 200 < len(got) < 350
    assert got[0] == "line 0" and got[-2].startswith("line ")


def test_a_log_at_the_cap_exactly_is_not_truncated():
    data = b"a\nb\n"
    got, log = read(data, cap_bytes=len(data))
    assert got == ["a", "b"] and not log.truncated


def test_file_chunks_reads_a_file_in_pieces(tmp_path):
    path = tmp_path / "job.log"
    path.write_bytes(b"x" * 10 + b"\n" + b"y" * 5)
    assert [len(chunk) for chunk in file_chunks(path, size=4)] == [4, 4, 4, 4]
    assert list(read_log(file_chunks(path, size=3))) == ["x" * 10, "y" * 5]
