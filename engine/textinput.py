"""Reading the files people and other systems hand the command line: bounded lines, strict
UTF-8, JSON objects of bounded depth, and errors that name the file and the line.

A whole input that cannot be read (a missing file, a directory, no data, a header that is not
text) is an InputError. A bad line inside a readable input is a `BadLine` in the stream of
lines, so the caller can report it by number and carry on with the others.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import sys
from typing import Iterator, NamedTuple

from .errors import TracecodeError

MAX_LINE = 64 << 20   # one line of events (an event may carry 200,000+ codes) or of CSV
MAX_DEPTH = 32        # nesting of a JSON line: events and registry rows are flat


class InputError(TracecodeError, ValueError):
    """An input file or stream that cannot be read at all; the message names it."""


class BadLine(NamedTuple):
    """A line that cannot be used, and why (the caller names the file and line)."""
    reason: str


def name_of(path) -> str:
    return "standard input" if path in (None, "-", "<stdin>") else str(path)


def open_input(path):
    """A binary stream of `path` ('-' or None: standard input), as a context manager."""
    if path in (None, "-"):
        stdin = getattr(sys.stdin, "buffer", sys.stdin)
        return contextlib.nullcontext(stdin)
    try:
        return open(path, "rb")
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None


BLOCK = 1 << 20  # read and decode this much at a time: per-line reads would cost 30% more


def lines(stream, max_bytes: int = MAX_LINE) -> Iterator[tuple[int, str | BadLine]]:
    """(line number from 1, text with its line ending, or BadLine) of a binary or text stream.

    A line over `max_bytes` is skipped (never held whole) and reported; bytes that are not
    UTF-8 make their line a BadLine; a BOM at the start is dropped. Blocks are read and
    decoded whole; only a block holding a bad line is looked at line by line."""
    stream = getattr(stream, "buffer", stream) if not isinstance(stream, io.StringIO) else stream
    binary = isinstance(stream.read(0), bytes)
    nl = b"\n" if binary else "\n"
    too_long = BadLine(f"longer than {max_bytes:,} bytes")
    n, pending, held, skipping = 0, [], 0, False   # pending: the start of an unfinished line
    while True:
        try:
            block = stream.read(BLOCK)
        except OSError as exc:  # e.g. EISDIR on a directory given as stdin
            raise InputError(f"cannot read line {n + 1}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:  # a text stream that decodes strictly
            raise InputError(f"line {n + 1} is not UTF-8 ({exc.reason})") from None
        if not block:
            if skipping:
                yield n + 1, too_long
            elif held:
                yield from _decoded(n, [nl[:0].join(pending)], binary, max_bytes)
            return
        if skipping:  # the rest of a line too long to keep: up to its newline
            end = block.find(nl)
            if end < 0:
                continue
            n += 1
            yield n, too_long
            skipping, block = False, block[end + 1:]
        cut = block.rfind(nl) + 1
        if not cut:
            pending.append(block)
            held += len(block)
            if held > max_bytes:
                pending, held, skipping = [], 0, True
            continue
        parts = nl[:0].join(pending + [block[:cut]]).split(nl)[:-1]
        rest = block[cut:]
        pending, held = ([rest], len(rest)) if rest else ([], 0)
        if held > max_bytes:
            pending, held, skipping = [], 0, True
        yield from _decoded(n, parts, binary, max_bytes)
        n += len(parts)


def _decoded(n: int, parts: list, binary: bool, max_bytes: int):
    """The lines n+1.. of `parts` (lines without their "\\n"), decoded in one go when the
    block is clean, else line by line so only the bad ones are BadLines."""
    whole = None
    if max(map(len, parts)) <= max_bytes:
        joined = (b"\n" if binary else "\n").join(parts)
        try:
            whole = joined.decode("utf-8") if binary else joined
            if not binary and _has_surrogates(whole):
                whole = None
        except UnicodeDecodeError:
            whole = None
    if whole is not None:
        texts = whole.split("\n")
        if n == 0:
            texts[0] = texts[0].lstrip("\ufeff")
        for k, text in enumerate(texts, n + 1):
            yield k, text + "\n"
        return
    for k, raw in enumerate(parts, n + 1):
        if len(raw) > max_bytes:
            yield k, BadLine(f"longer than {max_bytes:,} bytes")
            continue
        if binary:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield k, BadLine(f"not UTF-8 (byte {exc.start + 1} of the line)")
                continue
        else:
            text = raw
            if _has_surrogates(text):  # a text stream read with surrogateescape
                yield k, BadLine("not UTF-8")
                continue
        yield k, (text.lstrip("\ufeff") if k == 1 else text) + "\n"


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 reads as infinity
        raise ValueError(f"{text[:20]} is beyond a float")
    return value


def json_value(text: str):
    """A JSON value of bounded nesting and finite numbers; ValueError with a short reason
    otherwise."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    # Only text with many brackets can be deep: count them before walking anything.
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return value


def _depth(value) -> int:
    """Nesting depth of a parsed JSON value, without recursion; stops past MAX_DEPTH."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict):
            v = v.values()
        elif not isinstance(v, list):
            continue
        deepest = max(deepest, d)
        if deepest > MAX_DEPTH:
            return deepest
        todo.extend((x, d + 1) for x in v if isinstance(x, (dict, list)))
    return deepest


def json_object(text: str) -> dict:
    """A JSON object (what one line of events or registry rows must be); ValueError otherwise."""
    value = json_value(text)
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "true/false", type(None): "null"}.get(
            type(value), "a number")
        raise ValueError(f"a JSON object {{...}} is expected, not {kind}")
    return value
