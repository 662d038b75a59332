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


def lines(stream, max_bytes: int = MAX_LINE) -> Iterator[tuple[int, str | BadLine]]:
    """(line number from 1, text with its line ending, or BadLine) of a binary or text stream.

    A line over `max_bytes` is skipped (read in pieces, never held whole) and reported; bytes
    that are not UTF-8 make their line a BadLine; a BOM at the start is dropped."""
    stream = getattr(stream, "buffer", stream) if not isinstance(stream, io.StringIO) else stream
    binary = isinstance(stream.read(0), bytes)
    nl = b"\n" if binary else "\n"
    n = 0
    while True:
        try:
            raw = stream.readline(max_bytes + 1)
        except OSError as exc:  # e.g. EISDIR on a directory given as stdin
            raise InputError(f"cannot read line {n + 1}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:  # a text stream that decodes strictly
            raise InputError(f"line {n + 1} is not UTF-8 ({exc.reason})") from None
        if not raw:
            return
        n += 1
        if len(raw) > max_bytes and not raw.endswith(nl):
            while raw and not raw.endswith(nl):  # skip the rest in bounded pieces
                raw = stream.readline(1 << 20)
            yield n, BadLine(f"longer than {max_bytes:,} bytes")
            continue
        if binary:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield n, BadLine(f"not UTF-8 (byte {exc.start + 1} of the line)")
                continue
        else:
            text = raw
            if _has_surrogates(text):  # a text stream read with surrogateescape
                yield n, BadLine("not UTF-8")
                continue
        if n == 1:
            text = text.lstrip("\ufeff")
        yield n, text


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def json_value(text: str):
    """A JSON value of bounded nesting; ValueError with a short reason otherwise."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
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
