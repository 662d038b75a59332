"""The GS1 AI table: GS1's Barcode Syntax Dictionary, read once, used by the scan
parser and the renderers alike, cross-checked against biip's own AI list."""
import dataclasses
import datetime as dt
import re

import biip.gs1_application_identifiers as biip_ais
import numpy as np
import pytest

from tracecode import checks
from tracecode.scan import Fault, ScanError, ScanParser
from tracecode.schemes import gs1_ai, scheme_from_dict
from tracecode.schemes.render import predefined_length
from tracecode.errors import DefinitionError

PARSER = ScanParser()
BIIP = biip_ais._GS1_APPLICATION_IDENTIFIERS
FILLER = {"N": "1", "X": "A", "Y": "A", "Z": "A"}
SAMPLE_DATES = {"yymmd0": "261231", "yymmdd": "261231", "yyyymmdd": "20261231"}


def component(c, length):
    if c.date:
        return SAMPLE_DATES[c.date]
    if "hyphen" in c.linters:
        return "-" * length
    if "zero" in c.linters:
        return "0" * length
    if "posinseqslash" in c.linters:
        return "1/1"
    text = FILLER[c.kind] * length
    if "csum" in c.linters:  # GS1 mod 10 over the rest of the component
        text = text[:-1] + checks.GS1.calc(text[:-1])
    return text


def sample(spec, longest=False):
    """A value of the AI's format: the shortest one, or the longest."""
    parts = []
    for c in spec.components:
        if c.optional and not longest:
            break
        parts.append(component(c, c.max if longest else c.min))
    return "".join(parts)


def test_the_dictionary_is_gs1s_and_complete():
    text = gs1_ai.DICTIONARY.read_text(encoding="utf-8")
    assert "GS1 Barcode Syntax Dictionary" in text and "Apache License, Version 2.0" in text
    table = gs1_ai.TABLE
    assert len(table) > 500
    assert table["01"].predefined and table["01"].components[0] == gs1_ai.Component(
        "N", 14, 14, False, ("csum", "gcppos2"))
    assert not table["10"].predefined and (table["10"].min_length, table["10"].max_length) == (1, 20)
    assert table["17"].components[0].date == "yymmd0"
    assert table["7006"].components[0].date == "yymmdd"
    for unassigned in ("8000", "230", "244", "404", "418", "3109", "4327", "7042", "04", "23", "24"):
        assert unassigned not in table


def test_dictionary_errors_name_the_line():
    with pytest.raises(ValueError, match="line 2"):
        gs1_ai.parse("01 *  N14\n99x X..90\n")
    with pytest.raises(ValueError, match="prefix"):
        gs1_ai.parse("01 * N14\n011 X..3\n")
    with pytest.raises(ValueError, match="no format"):
        gs1_ai.parse("01 * req=02\n")


# biip asks 5+ characters of (8010), for the company prefix it must start with: GS1's
# format is Y..30 with a gcppos1 linter, and the parser applies no company-prefix rule.
BIIP_LONGER = {"8010": 5}


def test_the_table_agrees_with_biip_on_every_ai():
    assert set(BIIP) == set(gs1_ai.TABLE)
    for ai, spec in gs1_ai.TABLE.items():
        theirs = BIIP[ai]
        assert theirs.separator_required == (not spec.predefined), ai
        pattern = re.compile(theirs.pattern)
        shortest, longest = sample(spec), sample(spec, longest=True)
        if ai in BIIP_LONGER:
            assert not pattern.fullmatch(ai + shortest)
            shortest = shortest * BIIP_LONGER[ai]
        assert pattern.fullmatch(ai + shortest), (ai, shortest, theirs.pattern)
        assert pattern.fullmatch(ai + longest), (ai, longest, theirs.pattern)
        last = spec.components[-1]
        assert not pattern.fullmatch(ai + longest + FILLER[last.kind]), (ai, theirs.pattern)
        if len(shortest) > 1 and spec.min_length == len(shortest):
            assert not pattern.fullmatch(ai + shortest[:-1]), (ai, theirs.pattern)


def test_every_assigned_ai_parses_in_every_form():
    for ai, spec in gs1_ai.TABLE.items():
        for value in {sample(spec), sample(spec, longest=True)}:
            for text in (f"({ai}){value}", f"]d2{ai}{value}"):
                s = PARSER.parse(text)
                assert s.ais == {ai: value}, (text, s.ais)
        too_long = sample(spec, longest=True) + FILLER[spec.components[-1].kind]
        with pytest.raises(ScanError) as exc:
            PARSER.parse(f"]d2{ai}{too_long}")
        if spec.predefined:  # the extra character reads as the start of the next AI
            assert exc.value.fault in (Fault.UNKNOWN_AI, Fault.BAD_AI_VALUE), ai
        else:
            assert exc.value.fault == Fault.BAD_AI_VALUE, ai


def test_unassigned_ais_are_unknown():
    """Every 2-4 digit number that is no AI, starts with none and starts none:
    UNKNOWN_AI, in bulk (the old table took any AI of an assigned prefix)."""
    table = gs1_ai.TABLE
    numbers = [f"{v:0{d}d}" for d in (2, 3, 4) for v in range(10 ** d)]
    prefixes = {ai[:k] for ai in table for k in range(2, len(ai) + 1)}
    unknown = [n for n in numbers if n not in prefixes
               and not any(n[:k] in table for k in range(2, len(n)))]
    assert {"8000", "230", "244", "404", "418", "3109", "4327", "7042"} <= set(unknown)
    recs = PARSER.parse_many([f"]d2{ai}1234" for ai in unknown]).records
    assert (recs["fault"] == Fault.UNKNOWN_AI).all()
    recs = PARSER.parse_many([f"(01)09521234543213({ai})1234" for ai in unknown]).records
    assert (recs["fault"] == Fault.UNKNOWN_AI).all()
    assert (recs["position"] == 18).all()


def test_formats_are_checked_component_by_component():
    cases = {
        "]d2011234567890123": Fault.BAD_AI_VALUE,          # 01 is N14: 13 digits
        "(422)12A": Fault.BAD_AI_VALUE,                    # N3
        "(7003)2612311": Fault.BAD_AI_VALUE,               # N6 N4: 7 digits
        "(7003)261232" "1230": Fault.INVALID_DATE,         # yymmdd
        "(7006)261200": Fault.INVALID_DATE,                # yymmdd: no DD 00
        "(7250)20261301": Fault.INVALID_DATE,              # yyyymmdd
        "(8010)abc": Fault.BAD_AI_VALUE,                   # Y: character set 39
        "(8030)a.b": Fault.BAD_AI_VALUE,                   # Z: base64url
    }
    for text, fault in cases.items():
        with pytest.raises(ScanError) as exc:
            PARSER.parse(text)
        assert exc.value.fault == fault, text
    ok = {"(17)260200": "260200", "(7250)20240229": "20240229", "(8010)AB-1/#": "AB-1/#",
          "(4330)123456-": "123456-", "(423)156": "156", "(423)156276840": "156276840",
          "(8030)aZ-_09=": "aZ-_09="}
    for text, value in ok.items():
        assert list(PARSER.parse(text).ais.values()) == [value], text


def test_render_reads_the_same_table():
    assert predefined_length("01") and predefined_length("3103")
    assert predefined_length("410") and predefined_length("17")
    # 8005 and 422 have a fixed length but no "*" flag: GS1 wants a separator after them
    assert not predefined_length("8005") and not predefined_length("422")
    for unassigned in ("04", "230", "3109", "418"):
        assert not predefined_length(unassigned)


def test_schemes_name_only_assigned_ais():
    base = {"scheme": {"name": "my-gs1"}, "field": [
        {"name": "gtin", "role": "product", "length": 14, "ai": "01", "check": "gs1"},
        {"name": "serial", "role": "serial", "length": 12, "ai": "21", "alphabet": "digits"},
        {"name": "extra", "role": "attribute", "length": 4, "ai": "8000", "alphabet": "digits"}]}
    with pytest.raises(DefinitionError, match="8000"):
        scheme_from_dict(base)
    base["field"][2]["ai"] = "7240"
    assert scheme_from_dict(base).field("extra").ai == "7240"


# -- the century rule (GS1 General Specifications 7.12) -------------------------------------

@pytest.mark.parametrize("yy, this_year, year", [
    (99, 2026, 1999), (76, 2026, 2076), (77, 2026, 1977), (26, 2026, 2026), (0, 2026, 2000),
    (49, 2099, 2149), (50, 2099, 2050), (0, 2051, 2100), (1, 2051, 2101), (99, 2050, 2099),
    (0, 2049, 2000)])
def test_century_rule(yy, this_year, year):
    assert gs1_ai.full_year(yy, this_year) == year
    assert this_year - 49 <= year <= this_year + 50


def test_century_rule_in_the_parser():
    parser = ScanParser(expired_before=dt.date(2026, 12, 1))
    with pytest.raises(ScanError) as exc:   # 1999, not 2099: long expired
        parser.parse("(01)09521234543213(17)991231")
    assert exc.value.fault == Fault.EXPIRED_DATE
    assert parser.parse("(01)09521234543213(17)761231").ais["17"] == "761231"   # 2076
    batch = parser.parse_many(["(01)09521234543213(17)991231", "(01)09521234543213(17)261200",
                               "(01)09521234543213(17)261130", "(01)09521234543213(17)270101"])
    assert batch.records["fault"].tolist() == [Fault.EXPIRED_DATE, Fault.OK, Fault.EXPIRED_DATE,
                                               Fault.OK]
    # leap days follow the resolved year: 2000 is a leap year, 2100 (in 2051) is not
    core = ScanParser()
    assert core.parse("(17)000229").ais["17"] == "000229"
    core._core.year = 2051
    with pytest.raises(ScanError) as exc:
        core.parse("(17)000229")
    assert exc.value.fault == Fault.INVALID_DATE
    assert core.parse_many(["(17)000229"]).records["fault"][0] == Fault.INVALID_DATE


def test_yymmdd_dates_everywhere_use_the_century_rule():
    from tracecode.dates import expiry_date as _expiry_date
    from tracecode.dates import expiry_ymd
    assert _expiry_date("991231") == dt.date(1999, 12, 31)
    assert _expiry_date("991200") == dt.date(1999, 12, 31)
    assert expiry_ymd("991231") == 19991231 and expiry_ymd("260200") == 20260228
    from tracecode import schemes
    sgtin = schemes.get("gs1-sgtin")
    assert sgtin.field("expiry").normalise("000229") == "000229"
    with pytest.raises(ValueError):
        sgtin.field("expiry").normalise("990229")   # 1999 was no leap year


def test_packed_records_match_the_single_scan_path():
    scans = ["(01)09521234543213(3109)123456", "(8000)1", "(17)991231", "(01) 09521234543213"]
    batch = PARSER.parse_many(scans)
    for text, fault in zip(scans, batch.records["fault"].tolist()):
        try:
            PARSER.parse(text)
            assert fault == Fault.OK, text
        except ScanError as exc:
            assert exc.fault == fault, text
    assert np.array_equal(batch.records["fault"][:2], [Fault.UNKNOWN_AI] * 2)
    assert dataclasses.is_dataclass(gs1_ai.TABLE["01"])
