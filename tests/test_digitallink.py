"""GS1 Digital Link URI syntax (tracecode.digitallink): what the standard accepts, what it
refuses (each refusal with its sentence), round trips over every primary key and qualifier
sequence of the syntax dictionary, and cross-checks against biip and tracecode's scan parser."""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from tracecode import scan
from tracecode.checks import GS1
from tracecode.digitallink import DigitalLink, DigitalLinkError, from_ais, parse, syntax
from tracecode.errors import TracecodeError

GTIN = "09506000134352"
SSCC = "106141412345678908"
GLN = "9520123456788"


# -- what the standard accepts -------------------------------------------------------------

@pytest.mark.parametrize("text, primary, qualifiers", [
    (f"https://id.gs1.org/01/{GTIN}", ("01", GTIN), ()),
    (f"/01/{GTIN}/", ("01", GTIN), ()),                                     # trailing slash
    (f"/01/{GTIN}/22/V1/10/ABC/21/12345", ("01", GTIN), (("22", "V1"), ("10", "ABC"), ("21", "12345"))),
    (f"/01/{GTIN}/21/12345", ("01", GTIN), (("21", "12345"),)),            # optional 22 and 10 left out
    (f"/01/{GTIN}/235/TPX1", ("01", GTIN), (("235", "TPX1"),)),            # the second alternative
    ("/01/9506000134352", ("01", GTIN), ()),                               # GTIN-13
    ("/01/614141000036", ("01", "00614141000036"), ()),                    # GTIN-12
    ("/01/12345670", ("01", "00000012345670"), ()),                        # GTIN-8
    (f"/gtin/{GTIN}/cpv/V1/lot/ABC/ser/1", ("01", GTIN), (("22", "V1"), ("10", "ABC"), ("21", "1"))),
    (f"https://brand.example/products/risotto/01/{GTIN}/10/L1", ("01", GTIN), (("10", "L1"),)),  # custom path
    (f"/01/{GTIN}/10/01/21/10", ("01", GTIN), (("10", "01"), ("21", "10"))),  # values that look like AIs
    (f"/%30%31/{GTIN}/%6C%6Ft/A", ("01", GTIN), (("10", "A"),)),      # percent-encoded names (RFC 3986 6.2.2.2)
    (f"/01/{GTIN}/414/{GLN}", ("414", GLN), ()),                     # the key search runs from the right
    (f"/00/{SSCC}", ("00", SSCC), ()),
    (f"/sscc/{SSCC}", ("00", SSCC), ()),
    (f"/414/{GLN}/254/32a%2Fb", ("414", GLN), (("254", "32a/b"),)),
    (f"/gln/{GLN}/glnx/1", ("414", GLN), (("254", "1"),)),
    (f"/414/{GLN}/7040/1A2B", ("414", GLN), (("7040", "1A2B"),)),
    (f"/417/{GLN}", ("417", GLN), ()),
    (f"/party/{GLN}", ("417", GLN), ()),
    ("/8006/095060001343520102/10/L1", ("8006", "095060001343520102"), (("10", "L1"),)),
    ("/itip/095060001343520102/22/V/10/L/21/S", ("8006", "095060001343520102"),
     (("22", "V"), ("10", "L"), ("21", "S"))),
    ("/8010/9520ABC-123%2F4/8011/99", ("8010", "9520ABC-123/4"), (("8011", "99"),)),
    ("/cpid/95201ABC/cpsn/1", ("8010", "95201ABC"), (("8011", "1"),)),
    ("/253/4512345678906ab", ("253", "4512345678906ab"), ()),
    ("/gdti/4512345678906", ("253", "4512345678906"), ()),
    ("/255/4512345678906123", ("255", "4512345678906123"), ()),
    ("/401/951234567ABC", ("401", "951234567ABC"), ()),
    ("/402/95123456789012349", ("402", "95123456789012349"), ()),
    ("/8003/03870585000552987", ("8003", "03870585000552987"), ()),
    ("/grai/03870585000552987A", ("8003", "03870585000552987A"), ()),
    ("/8004/0614141ABC", ("8004", "0614141ABC"), ()),
    ("/8013/1987654Ad4X4bL5ttr2310c2K", ("8013", "1987654Ad4X4bL5ttr2310c2K"), ()),
    ("/8017/106141412345678908/8019/12", ("8017", "106141412345678908"), (("8019", "12"),)),
    ("/gsrn/106141412345678908/srin/12", ("8018", "106141412345678908"), (("8019", "12"),)),
    ("/415/9520123456788/8020/REF1", ("415", GLN), (("8020", "REF1"),)),
])
def test_accepted(text, primary, qualifiers):
    dl = parse(text)
    assert dl.primary == primary
    assert dl.qualifiers == qualifiers
    assert dl.attributes == () and dl.params == {}


def test_query_attributes_and_params():
    dl = parse(f"https://x.example/01/{GTIN}/10/ABC?linkType=gs1:pip&17=261231&11=250101"
               "&context=dscsa&lang=en-GB&3103=000500")
    assert dl.attributes == (("11", "250101"), ("17", "261231"), ("3103", "000500"))  # sorted by AI
    assert dl.params == {"linkType": "gs1:pip", "context": "dscsa", "lang": "en-GB"}
    # the short names of data attributes, percent-encoded names and values
    dl = parse(f"/01/{GTIN}?exp=261231&expdt=2612310930&%31%33=261201")
    assert dl.attributes == (("13", "261201"), ("17", "261231"), ("7003", "2612310930"))
    # empty pieces and a fragment are not part of the link; the first of a repeated param counts
    dl = parse(f"/01/{GTIN}?&linkType=all&&linkType=gs1:pip#top")
    assert dl.params == {"linkType": "all"}
    # '+' is a GS1 character, not a space, in a Digital Link query
    assert parse(f"/01/{GTIN}/10/A+B").qualifiers == (("10", "A+B"),)
    # a lot is a data attribute only where it qualifies no key of the path: an SSCC's contents
    assert parse(f"/00/{SSCC}?02={GTIN}&37=12&10=A+B").attributes == (("02", GTIN), ("10", "A+B"), ("37", "12"))


def test_associations_that_hold():
    assert parse(f"/00/{SSCC}?02={GTIN}&37=12").attributes == (("02", GTIN), ("37", "12"))
    assert parse(f"/01/{GTIN}/10/L?3103=000500&3922=1250").attributes == (("3103", "000500"), ("3922", "1250"))
    assert parse(f"/00/{SSCC}?4300=ACME%2CLtd").attributes == (("4300", "ACME,Ltd"),)


def test_equal_links_compare_equal_and_hash():
    a = parse(f"/01/{GTIN}/10/L?17=261231&11=250101&linkType=gs1:pip")
    b = parse(f"https://other.example/gtin/{GTIN}/lot/L?11=250101&exp=261231")
    assert a.product_level() == b.product_level()
    assert a.attributes == b.attributes and a.primary == b.primary and a.qualifiers == b.qualifiers
    assert a != b          # params differ
    assert hash(a) == hash(b)  # params are not hashed: a dict could not be
    assert {a.product_level(): 1}[b.product_level()] == 1


def test_product_level_and_link_key():
    dl = parse(f"/01/{GTIN}/22/V%2F1/10/ABC/21/S?17=261231")
    assert dl.product_level() == DigitalLink(("01", GTIN), (("22", "V/1"),))
    assert dl.link_key() == f"01/{GTIN}"                # a variant has its GTIN's links
    assert dl.link_key(lot=True) == f"01/{GTIN}/10/ABC"
    assert dl.lot == "ABC" and dl.serial == "S"
    plain = parse(f"/01/{GTIN}/21/S")
    assert plain.link_key() == plain.link_key(lot=True) == f"01/{GTIN}"
    assert parse(f"/414/{GLN}/254/1").link_key() == f"414/{GLN}"
    assert parse(f"/00/{SSCC}").link_key() == f"00/{SSCC}"


def test_uri_is_canonical():
    dl = parse("https://brand.example/x/gtin/9506000134352/lot/A%2fB/ser/1?exp=261231&linkType=gs1:pip")
    assert dl.uri("https://trace.example.gov.cn") == \
        f"https://trace.example.gov.cn/01/{GTIN}/10/A%2FB/21/1?17=261231"
    assert dl.uri("https://trace.example.gov.cn/") == dl.uri("https://trace.example.gov.cn")
    assert dl.element_string() == f"(01){GTIN}(10)A/B(21)1(17)261231"


def test_error_is_a_tracecode_error_and_value_error():
    with pytest.raises(TracecodeError):
        parse("/nothing")
    with pytest.raises(ValueError):
        parse("/nothing")


# -- what the standard refuses: one sentence each, saying what and where ---------------------

@pytest.mark.parametrize("text, message", [
    ("/01/09506000134353", "/01/09506000134353: GTIN 09506000134353 has a wrong check digit (3; it should be 2)"),
    ("/01/0950600013435", "/01/0950600013435: GTIN 0950600013435 (13 digits, read as GTIN-13) has a wrong check"),
    ("/01/095060001343", "GTIN 095060001343 (12 digits, read as GTIN-12) has a wrong check digit"),
    ("/01/123456789", "GTIN 123456789 has 9 characters; AI 01 takes 14 (or a GTIN-8, -12 or -13)"),
    ("/01/0950600013435A", "character 'A' at position 14 is not allowed (AI 01 takes digits there)"),
    (f"/00/{SSCC[:-1]}9", f"/00/{SSCC[:-1]}9: SSCC {SSCC[:-1]}9 has a wrong check digit"),
    (f"/01/{GTIN}/21/12/10/ABC", "/10/ABC: qualifier 10 (BATCH/LOT) must come before 21 (SERIAL)"),
    (f"/01/{GTIN}/10/ABC/22/V", "/22/V: qualifier 22 (CPV) must come before 10 (BATCH/LOT)"),
    (f"/01/{GTIN}/10/A/10/B", "/10/B: BATCH/LOT (10) appears twice in the path"),
    (f"/01/{GTIN}/254/1", "/254/1: GLN EXTENSION COMPONENT (254) is not a qualifier of GTIN (01); "
                          "GTIN (01) takes 22, 10, 21 in that order, or 235"),
    (f"/01/{GTIN}/21/S/235/T", "qualifiers 21, 235 cannot be combined"),
    (f"/00/{SSCC}/21/1", "SERIAL (21) is not a qualifier of SSCC (00); SSCC (00) takes no qualifiers"),
    (f"/414/{GLN}/254/1/7040/1ABC", "qualifiers 254, 7040 cannot be combined"),
    (f"/01/{GTIN}/17/261231", "/17/261231: USE BY or EXPIRY (17) is a data attribute, not a key or qualifier: "
                              "it goes in the query (?17=...)"),
    (f"/gtinx/{GTIN}", "/gtinx: 'gtinx' is not a GS1 Digital Link short name"),
    (f"/01/{GTIN}/lotx/1", "'lotx' is not a GS1 Digital Link short name"),
    (f"/01/{GTIN}/10", "/10: BATCH/LOT has no value"),
    (f"/01/{GTIN}/10/01/21", "/21: SERIAL has no value"),          # not "GTIN 21 has 2 characters"
    (f"/01/{GTIN}/10/12/21", "/21: SERIAL has no value"),
    ("/01", "/01: GTIN has no value"),
    (f"/01/{GTIN}/10/A/foo", "/foo: 'foo' is not a GS1 Digital Link short name"),
    (f"/01/{GTIN}/9999/1", "/9999: 9999 is not a GS1 Application Identifier"),
    (f"/x/01/{GTIN}/00/1", "/00/1: SSCC (00) is a second primary key after GTIN (01)"),
    ("/products/risotto", "/products: 'products' is not a GS1 Digital Link short name"),
    ("/", "the path is empty"),
    ("https://id.gs1.org", "the path is empty"),
    (f"/01//{GTIN}", "/01//: empty path segment"),
    (f"/01/{GTIN}//10/A", f"/01/{GTIN}//: empty path segment"),
    ("/999/1", "/999: 999 is not a GS1 Application Identifier"),
    (f"/01/{GTIN}/10/" + "A" * 21, "BATCH/LOT AAAAAAAAAAAAAAAAAAAAA has 21 characters; AI 10 takes 1 to 20 (X..20)"),
    (f"/01/{GTIN}/10/A%ZZ", "/10/A%ZZ: '%' must start a percent-encoding (%XX)"),
    (f"/01/{GTIN}/10/A%FF", "/10/A%FF: the percent-encoded bytes are not UTF-8"),
    (f"/01/{GTIN}/10/%E4%B8%AD", "BATCH/LOT 中: character '中' at position 1 is not allowed"),
    (f"/01/{GTIN}/10/A%23B", "character '#' at position 2 is not allowed"),   # # is not in set 82
    (f"/01/{GTIN}/10/A%2FB%20", "BATCH/LOT A/B : character ' ' at position 4 is not allowed"),
    (f"/01/{GTIN}?17=261331", "?17=261331: USE BY or EXPIRY 261331 is not a date (YYMMDD)"),
    (f"/01/{GTIN}?17=26123", "USE BY or EXPIRY 26123 has 5 characters; AI 17 takes 6"),
    (f"/01/{GTIN}?17=261231&exp=261231", "?exp=261231: USE BY or EXPIRY (17) appears twice in the query"),
    (f"/01/{GTIN}/10/A?10=B", "?10=B: BATCH/LOT (10) is already in the path"),
    (f"/01/{GTIN}?21=1", "?21=1: SERIAL (21) qualifies GTIN (01): a key qualifier must follow its key in the "
                         "path (/01/<GTIN>/21/1), not stand in the query"),
    (f"/01/{GTIN}?10=ABC", "?10=ABC: BATCH/LOT (10) qualifies GTIN (01): a key qualifier must follow its key in "
                           "the path (/01/<GTIN>/10/ABC), not stand in the query"),
    (f"/01/{GTIN}?lot=ABC", "?lot=ABC: BATCH/LOT (10) qualifies GTIN (01): a key qualifier must follow its key"),
    ("/8006/095060001343520102?10=L", "?10=L: BATCH/LOT (10) qualifies ITIP (8006): a key qualifier must follow"),
    (f"/01/{GTIN}/235/X1?10=L", "?10=L: BATCH/LOT (10) qualifies GTIN (01): a key qualifier must follow"),
    (f"/00/{SSCC}?21=1", "?21=1: SERIAL (21) is not allowed as a data attribute"),
    (f"/ser/ABC/gtin/{GTIN}", f"/ser/ABC/gtin/{GTIN}: SERIAL (21) stands before GTIN (01): a key qualifier must "
                              f"follow its key in the path (/01/<GTIN>/21/ABC)"),
    (f"/21/S1/01/{GTIN}", f"/21/S1/01/{GTIN}: SERIAL (21) stands before GTIN (01): a key qualifier must follow"),
    (f"/shop/10/L1/01/{GTIN}/21/S", f"/10/L1/01/{GTIN}: BATCH/LOT (10) stands before GTIN (01): a key qualifier"),
    (f"/lot/L1/ser/S1/01/{GTIN}", "SERIAL (21) stands before GTIN (01)"),
    (f"/254/1/414/{GLN}", f"/254/1/414/{GLN}: GLN EXTENSION COMPONENT (254) stands before"),
    (f"/01/{GTIN}?01={GTIN}", "GTIN (01) is already in the path"),
    (f"/01/{GTIN}?99=1&12345=1", "?12345=1: 12345 is not a GS1 Application Identifier"),
    (f"/01/{GTIN}?17", "?17: USE BY or EXPIRY (17) has no value"),
    (f"/01/{GTIN}?=x", "?=x: a query parameter without a name"),
    (f"/00/{SSCC}?17=261231", "?17=261231: USE BY or EXPIRY (17) needs one of 01, 02, 03, 255, 8006, 8026 with it"),
    (f"/01/{GTIN}?3103=000100&3102=001000",
     "?3102=001000: NET WEIGHT (kg) (3102) cannot be used together with NET WEIGHT (kg) (3103)"),
    (f"/01/{GTIN}?37=5", f"/01/{GTIN}: GTIN (01) cannot be used together with COUNT (37)"),
    (f"/01/{GTIN}?02={GTIN}", "CONTENT (02) cannot be used together with GTIN (01)"),
    ("/8006/095060001343520301", "piece 3 of 1 is not a piece of the total"),
    ("/8003/13870585000552987", "GRAI 13870585000552987 must start with 0"),
    ("/8013/1987654Ad4X4bL5ttr2310c2L", "wrong check character pair (2L; it should be 2K)"),
    ("/8004/06A4ABC", "GIAI 06A4ABC must start with a GS1 Company Prefix (at least 4 digits)"),
    ("/cpid/123", "CPID 123 must start with a GS1 Company Prefix"),
])
def test_refused(text, message):
    with pytest.raises(DigitalLinkError) as e:
        parse(text)
    assert message in str(e.value), str(e.value)


def test_size_bound():
    long = f"/01/{GTIN}?" + "&".join(f"x{i}=" + "v" * 50 for i in range(100))
    with pytest.raises(DigitalLinkError, match="longer than 4096 bytes"):
        parse(long)
    with pytest.raises(DigitalLinkError, match="longer than 4096 bytes"):
        parse(f"/01/{GTIN}/10/" + "中" * 1400)   # counted in bytes, not characters
    with pytest.raises(DigitalLinkError, match="more than 64 segments"):
        parse("/a" * 100 + f"/01/{GTIN}")
    with pytest.raises(DigitalLinkError, match="more than 32 query parameters"):
        parse(f"/01/{GTIN}?" + "&".join(f"p{i}=1" for i in range(33)))
    with pytest.raises(DigitalLinkError, match="is text"):
        parse(b"/01/09506000134352")


# -- generated links: every primary key and qualifier sequence --------------------------------

_CHARS = {"N": "0123456789", "X": "".join(sorted(syntax.CSET_82)), "Y": "".join(sorted(syntax.CSET_39)),
          "Z": "".join(sorted(syntax.CSET_64))}


@st.composite
def ai_values(draw, ai: str):
    """A value of AI ``ai`` its format and linters accept (check digits computed)."""
    out = ""
    for c in syntax.AI_TABLE[ai].components:
        if c.optional and draw(st.booleans()):
            break
        if "zero" in c.linters:
            out += "0"
            continue
        if "pieceoftotal" in c.linters:
            total = draw(st.integers(1, 99))
            out += f"{draw(st.integers(1, total)):02d}{total:02d}"
            continue
        if "csumalpha" in c.linters:
            body = draw(st.text("0123456789", min_size=4, max_size=4)) + \
                draw(st.text(_CHARS[c.kind], min_size=0, max_size=c.max - 6))
            out += body + syntax.gmn_check_pair(body)
            continue
        if "gcppos1" in c.linters and c.min != c.max:
            # a GS1 Company Prefix first; biip wants 5 characters at least (8010)
            lead = draw(st.text("0123456789", min_size=4, max_size=4))
            out += lead + draw(st.text(_CHARS[c.kind], min_size=1, max_size=c.max - 4))
            continue
        part = draw(st.text(_CHARS[c.kind], min_size=c.min, max_size=c.max))
        if "csum" in c.linters:
            part = part[:-1] + GS1.calc(part[:-1])
        out += part
    return out


@st.composite
def digital_links(draw):
    key = draw(st.sampled_from(sorted(syntax.PRIMARY_KEYS)))
    alt = draw(st.sampled_from(syntax.PRIMARY_KEYS[key]))
    qualifiers = tuple((q, draw(ai_values(q))) for q in alt if draw(st.booleans()))
    taken = {key, *(q for a in syntax.PRIMARY_KEYS[key] for q in a)}   # its qualifiers go in the path
    simple = sorted(ai for ai in syntax.ATTRIBUTES if ai not in taken and ai in ("11", "13", "15", "17", "3103",
                                                                              "4300", "10", "7003", "422"))
    attrs = draw(st.lists(st.sampled_from(simple), unique=True, max_size=3))
    today = dt.date(2026, 12, 2)
    values = {}
    for ai in attrs:
        if ai in ("11", "13", "15", "17"):
            d = today + dt.timedelta(days=draw(st.integers(-3000, 3000)))
            values[ai] = d.strftime("%y%m%d")
        elif ai == "7003":
            d = today + dt.timedelta(days=draw(st.integers(-3000, 3000)))
            values[ai] = d.strftime("%y%m%d") + f"{draw(st.integers(0, 23)):02d}{draw(st.integers(0, 59)):02d}"
        elif ai == "422":
            values[ai] = "156"
        else:
            values[ai] = draw(ai_values(ai))
    for _ in range(2):   # keep the attributes GS1's req=/ex= rules allow with this key
        present = {key, *(q for q, _ in qualifiers), *values}
        values = {ai: v for ai, v in values.items() if syntax.association_fault(ai, present) is None}
    return DigitalLink((key, draw(ai_values(key))), qualifiers, tuple(sorted(values.items())))


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(digital_links(), st.sampled_from(["https://trace.example.gov.cn", "https://id.gs1.org/",
                                         "http://127.0.0.1:8080/some/prefix"]))
def test_round_trip(dl, base):
    assert parse(dl.uri(base)) == dl
    assert parse(dl.uri(base)).uri(base) == dl.uri(base)


@SETTINGS
@given(digital_links())
def test_round_trip_with_short_names_and_params(dl):
    """The same link spelled with legacy short names, a trailing slash and params."""
    path = "".join(f"/{syntax.AI_SHORT_NAMES.get(ai, ai)}/{quote(v, safe='')}"
                   for ai, v in (dl.primary, *dl.qualifiers))
    query = "&".join([f"{ai}={quote(v, safe='')}" for ai, v in reversed(dl.attributes)] + ["linkType=gs1:pip"])
    got = parse(f"https://elsewhere.example{path}/?{query}")
    assert (got.primary, got.qualifiers, got.attributes) == (dl.primary, dl.qualifiers, dl.attributes)
    assert got.params == {"linkType": "gs1:pip"}


@SETTINGS
@given(digital_links())
def test_agrees_with_biip(dl):
    """biip (an independent parser) reads the canonical URI to the same element strings."""
    theirs = GS1DigitalLinkURI.parse(dl.uri("https://id.gs1.org"))
    pairs = {(es.ai.ai, es.value) for es in theirs.element_strings}
    assert pairs == {dl.primary, *dl.qualifiers, *dl.attributes}


@st.composite
def misordered(draw):
    """A GTIN or ITIP path with two or three of 22, 10, 21 in a wrong order."""
    key = draw(st.sampled_from(["01", "8006"]))
    chosen = draw(st.lists(st.sampled_from(["22", "10", "21"]), min_size=2, max_size=3, unique=True))
    assume(chosen != sorted(chosen, key=["22", "10", "21"].index))
    return DigitalLink((key, draw(ai_values(key))), tuple((q, draw(ai_values(q))) for q in chosen))


@SETTINGS
@given(misordered())
def test_biip_refusals_are_refused(dl):
    """Qualifiers out of order: biip refuses the path, and so do we, saying which comes first."""
    text = dl.uri("https://id.gs1.org")
    with pytest.raises(DigitalLinkError, match="must come before"):
        parse(text)
    with pytest.raises(ParseError):
        GS1DigitalLinkURI.parse(text)


@st.composite
def gtin_links(draw):
    body = draw(st.text("0123456789", min_size=13, max_size=13))
    key = ("01", body + GS1.calc(body))
    sscc = draw(st.text("0123456789", min_size=17, max_size=17))
    if draw(st.booleans()):
        return DigitalLink(("00", sscc + GS1.calc(sscc)))
    # lots and serials from the GS1 set, without '(' which the human-readable form cannot carry
    text = st.text(_CHARS["X"].replace("(", "").replace(")", ""), min_size=1, max_size=20)
    quals = []
    if draw(st.booleans()):
        quals.append(("10", draw(text)))
    quals.append(("21", draw(text)))
    attrs = ()
    if draw(st.booleans()):   # an expiry in the query, as the scan parser reads it too
        expiry = dt.date(2026, 1, 1) + dt.timedelta(days=draw(st.integers(-5000, 5000)))
        attrs = (("17", expiry.strftime("%y%m%d")),)
    return DigitalLink(key, tuple(quals), attrs)


@settings(max_examples=300, deadline=None)
@given(gtin_links())
def test_element_string_agrees_with_scan_parser(dl):
    """tracecode's own scan parser reads both the element string and the URI to the same AIs."""
    pairs = dict((dl.primary, *dl.qualifiers, *dl.attributes))
    assert scan.parse(dl.element_string()).ais == pairs
    assert scan.parse(dl.uri("https://trace.example.gov.cn")).ais == pairs


def test_tables_come_from_the_dictionary():
    # every primary key AI is a known AI with a check digit or its own format; qualifiers too
    for key, alts in syntax.PRIMARY_KEYS.items():
        assert key in syntax.AI_TABLE
        for alt in alts:
            assert all(q in syntax.AI_TABLE for q in alt)
    assert set(syntax.PRIMARY_KEYS) >= {"00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004",
                                        "8006", "8010", "8013", "8017", "8018"}
    assert syntax.QUALIFIERS.isdisjoint(syntax.PRIMARY_KEYS)   # the right-to-left key search relies on it
    for name, ai in syntax.SHORT_NAMES.items():
        assert ai in syntax.AI_TABLE, name
    assert {"17", "10", "11", "3103"} <= syntax.ATTRIBUTES and "21" not in syntax.ATTRIBUTES


def test_parse_is_quick():
    """Parsed on every resolver request: far below the HTTP stack's own cost."""
    import time
    text = f"https://trace.example.gov.cn/01/{GTIN}/10/ABC/21/12345?17=261231&linkType=gs1:pip"
    parse(text)
    t = time.perf_counter()
    for _ in range(2000):
        parse(text)
    per = (time.perf_counter() - t) / 2000
    assert per < 500e-6, f"{per * 1e6:.0f} µs per parse"


@settings(max_examples=200, deadline=None)
@given(gtin_links())
def test_link_key_is_the_links_store_canonical_key(dl):
    """The resolver looks links up under dl.link_key(): the form tracecode.app.links keeps
    them under (what `tracecode links` and the API set), for every GTIN and lot."""
    from tracecode import schemes
    from tracecode.app.links import parse_key
    assume(dl.primary[0] == "01" and "/" not in (dl.lot or ""))
    known = schemes.builtin()
    for lot in (False, True):
        assert parse_key(dl.link_key(lot=lot), known).text == dl.link_key(lot=lot)
    short = parse(f"/gtin/{dl.primary[1].lstrip('0').rjust(13, '0')}").link_key()
    assert parse_key(short, known).text == dl.link_key()


_PIECES = st.sampled_from(["/", "01", "/01/", GTIN, "9506000134352", "/10/", "/21/", "/22/", "/235/", "/00/", SSCC,
                           "/gtin/", "/lot/", "?", "&", "=", "17", "261231", "%", "%2F", "%E4%B8", "%ZZ", "#",
                           "linkType", "gs1:pip", "https://x.example", "//", "414", GLN, "/254/", "3103", "000500",
                           "中", "\x00", " ", "+", "8003", "0", "A", "(", ")"])


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(_PIECES, max_size=30).map("".join)))
def test_anything_parses_or_is_refused_in_words(text):
    """No input gets anything but a DigitalLink or a DigitalLinkError with a sentence; what
    parses prints back to a URI that parses to the same link."""
    try:
        dl = parse(text)
    except DigitalLinkError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    again = parse(dl.uri("https://trace.example.gov.cn"))
    assert (again.primary, again.qualifiers, again.attributes) == (dl.primary, dl.qualifiers, dl.attributes)


@SETTINGS
@given(digital_links(), st.randoms(use_true_random=False))
def test_from_ais_builds_the_same_link(dl, rnd):
    """Element strings in any order build the link a URI parses to (a lot in the query is
    valid too, but from_ais puts a key's qualifiers in the path)."""
    assume(not any(ai in alt for ai, _ in dl.attributes for alt in syntax.PRIMARY_KEYS[dl.primary[0]]))
    pairs = [dl.primary, *dl.qualifiers, *dl.attributes]
    rest = pairs[1:]
    rnd.shuffle(rest)
    assert from_ais([pairs[0], *rest]) == dl
    assert from_ais(dict([pairs[0], *rest])).uri("https://t.example") == dl.uri("https://t.example")


@settings(max_examples=200, deadline=None)
@given(gtin_links())
def test_from_ais_of_a_scan(dl):
    """What the scan parser reads off a GS1 DataMatrix (its ais) becomes the same link."""
    assert from_ais(scan.parse(dl.element_string()).ais) == dl


@pytest.mark.parametrize("ais, message", [
    ({"17": "261231"}, "no GS1 primary key"),
    ({"01": GTIN, "254": "1"}, "(254): GLN EXTENSION COMPONENT (254) cannot be in a Digital Link with GTIN (01)"),
    ({"01": GTIN, "21": "1", "235": "T"}, "TPX (235) cannot be in a Digital Link with GTIN (01)"),
    ({"01": "09506000134353"}, "(01): GTIN 09506000134353 has a wrong check digit"),
    ({"01": GTIN, "99999": "1"}, "99999 is not a GS1 Application Identifier"),
    ([("01", GTIN), ("10", "A"), ("10", "B")], "(10): BATCH/LOT (10) appears twice"),
    ({"00": SSCC, "17": "261231"}, "USE BY or EXPIRY (17) needs one of 01, 02, 03, 255, 8006, 8026"),
])
def test_from_ais_refusals(ais, message):
    with pytest.raises(DigitalLinkError) as e:
        from_ais(ais)
    assert message in str(e.value), str(e.value)
