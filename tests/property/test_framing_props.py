"""Properties of LineSplitter under any byte stream, any chunking and any line cap."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from emf_neuron.framing import LineSplitter

MODEST = settings(max_examples=200, deadline=None)

# Bytes that stress the splitter: newlines, blanks and ordinary text.
stream_bytes = st.binary(max_size=600) | st.lists(
    st.sampled_from([b"\n", b"\n\n", b" ", b"\t", b"\r\n", b"{}", b"x" * 7, b"y" * 40]),
    max_size=60,
).map(b"".join)
caps = st.integers(min_value=1, max_value=64)


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def _run(splitter: LineSplitter, chunks: list[bytes], cap: int) -> list[bytes]:
    lines: list[bytes] = []
    for chunk in chunks:
        lines.extend(splitter.feed(chunk))
        assert splitter.buffered_bytes <= cap
    lines.extend(splitter.finish())
    return lines


@MODEST
@given(stream_bytes, st.lists(st.integers(min_value=0, max_value=700), max_size=30), caps)
def test_any_chunking_yields_the_same_lines_as_feeding_whole(
    data: bytes, cuts: list[int], cap: int
) -> None:
    # given
    whole, chunked = LineSplitter(cap), LineSplitter(cap)
    # when
    expected = _run(whole, [data], cap)
    actual = _run(chunked, _chunked(data, cuts), cap)
    # then
    assert actual == expected
    assert chunked.oversize_lines == whole.oversize_lines


@MODEST
@given(stream_bytes, st.integers(min_value=1, max_value=50), caps)
def test_fixed_size_chunks_yield_the_same_lines(data: bytes, size: int, cap: int) -> None:
    whole, chunked = LineSplitter(cap), LineSplitter(cap)
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    assert _run(chunked, chunks, cap) == _run(whole, [data], cap)
    assert chunked.oversize_lines == whole.oversize_lines


@MODEST
@given(stream_bytes, st.lists(st.integers(min_value=0, max_value=700), max_size=30), caps)
def test_lines_never_exceed_the_cap_nor_contain_a_newline(
    data: bytes, cuts: list[int], cap: int
) -> None:
    for line in _run(LineSplitter(cap), _chunked(data, cuts), cap):
        assert 0 < len(line) <= cap
        assert b"\n" not in line
        assert line.strip()


# A line is a run of non-newline bytes: short ones must come out intact, long ones not at all.
body = st.binary(max_size=90).map(lambda b: b.replace(b"\n", b"."))


@MODEST
@given(
    st.lists(body, max_size=20),
    st.lists(st.integers(min_value=0, max_value=2000), max_size=40),
    st.integers(min_value=1, max_value=48),
    st.booleans(),
)
def test_oversize_lines_never_leak_and_are_each_counted_once(
    lines: list[bytes], cuts: list[int], cap: int, terminated: bool
) -> None:
    # given
    data = b"\n".join(lines) + (b"\n" if terminated else b"")
    splitter = LineSplitter(cap)
    # when
    out = _run(splitter, _chunked(data, cuts), cap)
    # then: exactly the short non-blank lines, in order; every long line counted
    assert out == [line for line in lines if len(line) <= cap and line.strip()]
    assert splitter.oversize_lines == sum(len(line) > cap for line in lines)
