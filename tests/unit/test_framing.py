"""LineSplitter: newline framing of the monitor's byte stream (P1, P2, P3 of the fault table)."""

from __future__ import annotations

import pytest

from emf_neuron.framing import DEFAULT_MAX_LINE_BYTES, LineSplitter


def _feed_all(splitter: LineSplitter, chunks: list[bytes]) -> list[bytes]:
    lines: list[bytes] = []
    for chunk in chunks:
        lines.extend(splitter.feed(chunk))
    return lines


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"a\nb\nc\n"], [b"a", b"b", b"c"]),
        ([b"ab", b"c\n"], [b"abc"]),
        ([b"a", b"b", b"", b"c", b"\nd\n"], [b"abc", b"d"]),
        ([b"one\ntw", b"o\nthr", b"ee\n"], [b"one", b"two", b"three"]),
        ([b"\n\n\nx\n\n"], [b"x"]),
        ([b"  \n\t\r\nx\n"], [b"x"]),
        ([b"x\r\n"], [b"x\r"]),
        ([b"no newline yet"], []),
        ([b"\n"], []),
    ],
    ids=[
        "three-lines-one-chunk",
        "reassembled-across-two-chunks",
        "reassembled-across-many-chunks-with-empty-chunk",
        "lines-straddling-chunk-boundaries",
        "empty-lines-skipped",
        "blank-lines-skipped",
        "carriage-return-kept-in-line",
        "unterminated-line-held-back",
        "lone-newline",
    ],
)
def test_feed_splits_and_reassembles(chunks: list[bytes], expected: list[bytes]) -> None:
    # given
    splitter = LineSplitter(max_line_bytes=1024)
    # when
    lines = _feed_all(splitter, chunks)
    # then
    assert lines == expected
    assert splitter.oversize_lines == 0


def test_one_report_one_byte_at_a_time_is_reassembled_exactly_once() -> None:
    # given: P2, a report dribbled out byte by byte
    report = b'{"neuron_runtime_data": [], "instance_info": {"instance_id": "i-1"}}'
    splitter = LineSplitter()
    # when
    lines = _feed_all(splitter, [bytes([b]) for b in report + b"\n"])
    # then
    assert lines == [report]
    assert splitter.buffered_bytes == 0


def test_finish_returns_the_unterminated_last_line() -> None:
    # given: P1, the last line has no newline before EOF
    splitter = LineSplitter()
    assert splitter.feed(b'{"a": 1}\n{"b":') == [b'{"a": 1}']
    assert splitter.feed(b" 2}") == []
    # when
    tail = splitter.finish()
    # then
    assert tail == [b'{"b": 2}']
    assert splitter.buffered_bytes == 0
    assert splitter.finish() == []


@pytest.mark.parametrize(
    "chunks",
    [[], [b"a\n"], [b"   "], [b"a\n", b"\n"]],
    ids=["nothing-fed", "all-terminated", "blank-tail", "trailing-empty-line"],
)
def test_finish_returns_nothing_without_a_pending_line(chunks: list[bytes]) -> None:
    splitter = LineSplitter()
    _feed_all(splitter, chunks)
    assert splitter.finish() == []


def test_finish_resets_state_for_the_next_stream() -> None:
    splitter = LineSplitter(max_line_bytes=1024)
    splitter.feed(b"partial")
    assert splitter.finish() == [b"partial"]
    assert splitter.feed(b"fresh\n") == [b"fresh"]


def test_line_exactly_at_the_cap_is_kept() -> None:
    cap = 1024
    line = b"x" * cap
    splitter = LineSplitter(max_line_bytes=cap)
    assert splitter.feed(line + b"\n") == [line]
    assert splitter.oversize_lines == 0


def test_line_exactly_at_the_cap_split_over_chunks_is_kept() -> None:
    cap = 1024
    line = b"y" * cap
    splitter = LineSplitter(max_line_bytes=cap)
    lines = _feed_all(splitter, [line[:500], line[500:1000], line[1000:], b"\n"])
    assert lines == [line]
    assert splitter.oversize_lines == 0


def test_unterminated_line_exactly_at_the_cap_is_returned_by_finish() -> None:
    cap = 1024
    splitter = LineSplitter(max_line_bytes=cap)
    assert splitter.feed(b"z" * cap) == []
    assert splitter.buffered_bytes == cap
    assert splitter.finish() == [b"z" * cap]


@pytest.mark.parametrize(
    "chunks",
    [
        [b"x" * 1025 + b"\nok\n"],
        [b"x" * 1025, b"\nok\n"],
        [b"x" * 600, b"x" * 425 + b"\nok\n"],
        [b"x" * 1024, b"x", b"\n", b"ok\n"],
    ],
    ids=[
        "oversize-terminated-in-one-chunk",
        "oversize-then-newline-in-next-chunk",
        "oversize-reached-in-second-chunk",
        "one-byte-over-the-cap",
    ],
)
def test_oversize_line_is_dropped_counted_and_resynced(chunks: list[bytes]) -> None:
    # given: P3 with a 1 KiB cap
    splitter = LineSplitter(max_line_bytes=1024)
    # when
    lines = _feed_all(splitter, chunks)
    # then: nothing of the long line leaks; the next line is intact
    assert lines == [b"ok"]
    assert splitter.oversize_lines == 1
    assert splitter.buffered_bytes == 0


def test_oversize_line_spanning_many_chunks_is_counted_once_and_memory_stays_bounded() -> None:
    # given: a 1 MiB line with no newline, fed in 4 KiB chunks, cap 64 KiB
    cap = 64 * 1024
    splitter = LineSplitter(max_line_bytes=cap)
    chunk = b"A" * 4096
    # when
    emitted: list[bytes] = []
    peak = 0
    for _ in range(256):
        emitted.extend(splitter.feed(chunk))
        peak = max(peak, splitter.buffered_bytes)
    emitted.extend(splitter.feed(b"tail-of-the-long-line\n{}\n"))
    # then
    assert emitted == [b"{}"]
    assert splitter.oversize_lines == 1
    assert peak <= cap
    assert splitter.buffered_bytes == 0


def test_oversize_line_without_newline_before_eof_leaks_nothing() -> None:
    splitter = LineSplitter(max_line_bytes=1024)
    assert splitter.feed(b"good\n" + b"B" * 5000) == [b"good"]
    assert splitter.buffered_bytes == 0
    assert splitter.finish() == []
    assert splitter.oversize_lines == 1


def test_two_oversize_lines_are_counted_separately() -> None:
    splitter = LineSplitter(max_line_bytes=1024)
    lines = _feed_all(splitter, [b"C" * 2000, b"\n", b"D" * 3000 + b"\n", b"e\n"])
    assert lines == [b"e"]
    assert splitter.oversize_lines == 2


def test_buffer_never_exceeds_the_cap_whatever_the_chunking() -> None:
    cap = 1024
    splitter = LineSplitter(max_line_bytes=cap)
    stream = (b"q" * 700 + b"\n") * 3 + b"r" * 5000 + b"\n" + b"s" * 1024 + b"\n"
    peak = 0
    lines: list[bytes] = []
    for size in (1, 7, 333, 1023, 1024, 1025, 4096):
        for start in range(0, len(stream), size):
            lines.extend(splitter.feed(stream[start : start + size]))
            peak = max(peak, splitter.buffered_bytes)
    assert peak <= cap
    assert lines == ([b"q" * 700] * 3 + [b"s" * 1024]) * 7
    assert splitter.oversize_lines == 7


def test_default_cap_is_four_mebibytes() -> None:
    assert DEFAULT_MAX_LINE_BYTES == 4 * 1024 * 1024
    splitter = LineSplitter()
    big = b"{" + b" " * (DEFAULT_MAX_LINE_BYTES - 2) + b"}"
    assert splitter.feed(big + b"\n") == [big]
    assert splitter.feed(big + b" \n") == []
    assert splitter.oversize_lines == 1
