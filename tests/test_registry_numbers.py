"""Approval and registration numbers, and the QR approval field read in bulk: properties."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracecode.errors import InvalidComponent, InvalidFormat, InvalidLength
from tracecode.registry import approvals, registrations
from tracecode.registry.payload import approval_fields, pack

CATEGORIES = st.sampled_from(approvals.CATEGORIES)
YEARS = st.integers(approvals.FIRST_YEAR, approvals.LAST_YEAR)
NINE = st.from_regex(r"(0[1-9]|[1-9][0-9])[0-9]{7}", fullmatch=True)
BRACKETS = st.sampled_from([("(", ")"), ("（", "）"), ("〔", "〕"), ("【", "】"), ("[", "]"),
                            ("［", "］"), ("", "")])
SPACE = st.sampled_from(["", " ", "  ", "\u3000", "\t"])


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@settings(max_examples=300, deadline=None)
@given(CATEGORIES, YEARS, NINE, BRACKETS, SPACE, SPACE, st.booleans(), st.booleans())
def test_every_spelling_of_an_approval_number_is_one_number(cat, year, digits, brackets, s1, s2,
                                                            wide, traditional):
    canonical = f"{cat}({year}){digits}"
    spelled = f"{s1}{cat}{s2}{brackets[0]}{year}{brackets[1]}{s1}{digits[:4]}{s2}{digits[4:]}{s1}"
    if wide:
        spelled = full_width(spelled)
    if traditional:
        spelled = spelled.replace("兽", "獸").replace("药", "藥")
    assert approvals.validate(spelled) == canonical
    assert approvals.is_valid(spelled) and approvals.looks_like(spelled)
    parts = approvals.split(spelled)
    assert (parts.category, parts.year) == (cat, year)
    assert parts.province + parts.enterprise + parts.product == digits
    assert approvals.validate(canonical) == canonical  # canonical is a fixed point


@settings(max_examples=200, deadline=None)
@given(CATEGORIES, YEARS, st.text("0123456789", min_size=0, max_size=14).filter(lambda t: len(t) != 9))
def test_approval_numbers_of_other_lengths_are_refused(cat, year, digits):
    with pytest.raises(InvalidLength):
        approvals.validate(f"{cat}({year}){digits}")


@pytest.mark.parametrize("text, error", [
    ("兽药字(1979)010012345", InvalidComponent), ("兽药字(2015)000012345", InvalidComponent),
    ("兽药证字(2015)010012345", InvalidFormat), ("兽药字(15)010012345", InvalidFormat),
    ("兽药字(2015)01001234X", InvalidFormat), ("PD20092927", InvalidFormat)])
def test_bad_approval_numbers_say_why(text, error):
    with pytest.raises(error):
        approvals.validate(text)
    assert not approvals.is_valid(text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(registrations.CLASSES)), st.integers(1980, 2099),
       st.integers(0, 9999), SPACE, st.booleans(), st.booleans(), st.booleans())
def test_every_spelling_of_a_registration_number_is_one_number(cls, year, seq, space, dash,
                                                               lower, wide):
    canonical = f"{cls}{year}{seq:04d}"
    spelled = f"{space}{cls}{'-' if dash else ''}{year}{space}{seq:04d}{space}"
    spelled = spelled.lower() if lower else spelled
    spelled = full_width(spelled) if wide else spelled
    assert registrations.validate(spelled) == canonical
    assert registrations.looks_like(spelled)
    prefix = registrations.code_prefix(spelled)
    assert prefix == registrations.CLASSES[cls] + canonical[-6:] and len(prefix) == 7


@pytest.mark.parametrize("text, error", [
    ("PX20092927", InvalidFormat), ("PD2009292", InvalidLength), ("PD200929271", InvalidLength),
    ("PD1979292A", InvalidFormat), ("PD19792927", InvalidComponent)])
def test_bad_registration_numbers_say_why(text, error):
    with pytest.raises(error):
        registrations.validate(text)


SEPARATORS = st.sampled_from([",", ";", "\n", "\r\n", "，", "；"])
FIELD = st.text(st.characters(blacklist_characters=",;\r\n，；\x00", blacklist_categories=("Cs",)),
                max_size=20)


def reference_field(text: str):
    """The third of exactly five fields, split the plain Python way."""
    for sep in ("\r\n", "\n", "\r", "，", "；", ";"):
        text = text.replace(sep, ",")
    parts = text.split(",")
    return parts[2].encode()[:64] if len(parts) == 5 else b""


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.lists(FIELD, min_size=1, max_size=7), st.lists(SEPARATORS, min_size=6,
                                                                          max_size=6),
                          st.booleans()), max_size=30))
def test_qr_approval_fields_in_bulk_match_a_plain_split(items):
    scans, qr = [], []
    for fields, seps, flag in items:
        text = fields[0] + "".join(s + f for s, f in zip(seps, fields[1:]))
        scans.append(text)
        qr.append(flag)
    data, offsets = pack(scans)
    got = approval_fields(data, offsets, np.array(qr, bool))
    assert got.tolist() == [reference_field(t) if f else b"" for t, f in zip(scans, qr)]
    assert [data[offsets[i]:offsets[i + 1]].tobytes() for i in range(len(scans))] == \
        [s.encode() for s in scans]


def test_pack_takes_bytes_and_scans_holding_nul():
    for scans in ([b"a,b", b"", b"c"], ["a\x00b", "c"], ["x", b"y"]):
        data, offsets = pack(scans)
        assert [data[offsets[i]:offsets[i + 1]].tobytes() for i in range(len(scans))] == [
            s.encode() if isinstance(s, str) else s for s in scans]
