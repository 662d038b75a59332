"""Reading hostile input: bounded lines, strict UTF-8, bounded JSON, against a plain reference."""
import io
import json

import pytest
from hypothesis import given, settings, strategies as st

from tracecode import textinput


def reference(data: bytes, max_bytes: int):
    """What lines() must yield, the slow obvious way: split, bound, decode each line."""
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    out = []
    for k, raw in enumerate(parts, 1):
        if len(raw) > max_bytes:
            out.append((k, "too long"))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            out.append((k, "not UTF-8"))
            continue
        out.append((k, (text.lstrip("\ufeff") if k == 1 else text) + "\n"))
    return out


def shown(items):
    return [(k, "too long" if isinstance(v, textinput.BadLine) and v.reason.startswith("longer")
             else "not UTF-8" if isinstance(v, textinput.BadLine) else v) for k, v in items]


# Bytes that make lines, bad UTF-8, BOMs and multi-byte characters likely.
PIECES = st.sampled_from([b"\n", b"a", b"\xff", b"\xe4\xb8\xad", b"\xe4", b"\xef\xbb\xbf", b"\r\n",
                          b"0123456789", b"\x00"])


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=60).map(b"".join), st.integers(1, 40), st.integers(1, 25))
def test_lines_match_the_reference_whatever_the_block_size(data, block, max_bytes):
    saved = textinput.BLOCK
    textinput.BLOCK = block  # blocks cut lines and characters anywhere
    try:
        got = shown(textinput.lines(io.BytesIO(data), max_bytes))
    finally:
        textinput.BLOCK = saved
    assert got == reference(data, max_bytes)


def test_a_huge_line_is_skipped_in_pieces_and_the_next_is_read():
    data = b"first\n" + b"x" * (3 * textinput.BLOCK + 5) + b"\nlast"
    assert shown(textinput.lines(io.BytesIO(data), 1000)) == [(1, "first\n"), (2, "too long"),
                                                              (3, "last\n")]


def test_text_streams_with_escaped_bytes_are_bad_lines():
    assert shown(textinput.lines(io.StringIO("ok\nnot \udcff\n"))) == [(1, "ok\n"), (2, "not UTF-8")]


@pytest.mark.parametrize("text,message", [
    ("[1, 2]", "a JSON object {...} is expected, not an array"),
    ('"x"', "not a string"), ("null", "not null"), ("12", "not a number"),
    ('{"a": NaN}', "NaN is not a JSON number"), ('{"a": -Infinity}', "-Infinity is not a JSON"),
    ("[" * 100_000, "nested deeper than 32 levels"),
    ('{"a": ' + "[" * 33 + "]" * 33 + "}", "nested deeper than 32 levels"),
    ("{", "not JSON"), ("9" * 5000, "not JSON"), ('{"a": 1e400}', "1e400 is beyond a float"),
])
def test_json_objects_or_one_clear_reason(text, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("{", r"\{")
                       .replace("(", r"\(").replace(")", r"\)")):
        textinput.json_object(text)


def test_json_of_32_levels_and_many_codes_is_fine():
    deep = {"a": json.loads("[" * 31 + "]" * 31)}
    assert textinput.json_object(json.dumps(deep)) == deep
    many = {"id": "e", "codes": [f"{i:020d}" for i in range(50_000)]}
    assert textinput.json_object(json.dumps(many)) == many


def test_open_input_names_the_file(tmp_path):
    with pytest.raises(textinput.InputError, match=f"^{tmp_path}/nope: no such file$"):
        textinput.open_input(tmp_path / "nope")
    with pytest.raises(textinput.InputError, match=f"^{tmp_path}: is a directory, not a file$"):
        textinput.open_input(tmp_path)
