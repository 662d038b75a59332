"""The scan parser: every form a scan arrives in, its faults, bulk and scalar agreeing."""
import datetime as dt
import random
import re

import biip
import numpy as np
import pytest
from biip.gs1_messages import GS1Message
from hypothesis import HealthCheck, given, settings, strategies as st

from tracecode import Key, schemes
from tracecode.issuance import Issuer
from tracecode.scan import Fault, ScanError, ScanParser, parse
from tracecode.schemes import scheme_from_dict

MASTER = Key(bytes(range(32)))
# the schemes issued here (those of codes others assign are registered: test_category_special_equipment)
PRODUCTS = {name: s.example_product() for name, s in schemes.builtin().items() if not s.external}
ATTRS = {"expiry": "261231", "lot": "LOT/7-A"}
PARSER = ScanParser(master_key=MASTER)


def issued(name, start=100, count=50, render="bare", attributes=None):
    iss = Issuer(schemes.get(name), PRODUCTS[name], MASTER)
    return iss, [c.decode() for c in iss.codes(start, count, render, attributes)]


def full_width(text):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# -- bare codes of every scheme ------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_bare_codes_in_every_spelling(name):
    iss, codes = issued(name)
    for k, code in enumerate(codes):
        spellings = [code, f"  {code}\r\n", full_width(code), f"\u3000{code}\ufeff",
                     " ".join(code[i:i + 4] for i in range(0, len(code), 4)),
                     "-".join(code[i:i + 5] for i in range(0, len(code), 5))]
        if iss.scheme.case_insensitive:
            spellings.append(code.lower())
        for text in spellings:
            s = PARSER.parse(text)
            assert (s.scheme, s.code, s.counter) == (name, code, 100 + k), text
            assert s.form == "bare"
            assert {f: s.fields[f] for f in iss.product} == iss.product
            assert s.fields["serial"] == iss.scheme.split(code)["serial"]


def test_vet_qr_payloads():
    iss, codes = issued("cn-vet-24", count=3)
    five = f"{codes[0]},兽用阿莫西林可溶性粉,兽药字(2015)010012345,某某动物药业有限公司,0571-88888888"
    s = PARSER.parse(five)
    assert (s.scheme, s.code, s.form, s.counter) == ("cn-vet-24", codes[0], "qr-fields", 100)
    assert s.extra == {"product": "兽用阿莫西林可溶性粉", "approval_number": "兽药字(2015)010012345",
                       "company": "某某动物药业有限公司", "phone": "0571-88888888"}
    # full-width commas from a Chinese input method, and the code-first form with a line break
    assert PARSER.parse(five.replace(",", "，")).code == codes[0]
    assert PARSER.parse(codes[1] + "\n兽用阿莫西林可溶性粉").code == codes[1]


def test_pesticide_trace_url():
    iss, codes = issued("cn-pesticide-32", count=2)
    for url in (f"http://www.icama.cn/trace?code={codes[0]}", f"HTTPS://nyzs.example.cn/t/{codes[0]}"):
        s = PARSER.parse(url)
        assert (s.form, s.scheme, s.code, s.counter) == ("url", "cn-pesticide-32", codes[0], 100)
    with pytest.raises(ScanError) as exc:
        PARSER.parse("https://example.cn/t/12345")
    assert exc.value.fault == Fault.UNKNOWN_FORMAT


# -- GS1 -------------------------------------------------------------------------------------

def test_gs1_element_strings_with_and_without_symbology_identifiers():
    iss, codes = issued("gs1-sgtin", render="element", attributes=ATTRS)
    bare = [c.decode() for c in iss.codes(100, 50)]
    for k, (element, code) in enumerate(zip(codes, bare)):
        for text in (element, "]d2" + element, "]Q3" + element, "]C1" + element, "]e0" + element,
                     "\x1d" + element):
            s = PARSER.parse(text)
            assert (s.scheme, s.code, s.counter, s.form) == ("gs1-sgtin", code, 100 + k, "element")
            assert s.fields == {"gtin": "09521234543213", "serial": code[14:], **ATTRS}


def test_gs1_ais_in_any_order_and_every_form():
    iss, codes = issued("gs1-sgtin", count=20)
    rng = random.Random(7)
    for k, code in enumerate(codes):
        pairs = [("01", code[:14]), ("21", code[14:]), ("17", "261231"), ("10", "L1")]
        rng.shuffle(pairs)
        element = "".join(ai + v + ("\x1d" if ai in ("10", "21") else "") for ai, v in pairs).rstrip("\x1d")
        hri = "".join(f"({ai}){v}" for ai, v in pairs)
        dl = f"https://brand.example.cn/some/prefix/01/{code[:14]}/10/L1/21/{code[14:]}?17=261231&x=y"
        for text, form in ((element, "element"), (hri, "hri"), (dl, "digital-link")):
            s = PARSER.parse(text)
            assert (s.form, s.scheme, s.code, s.counter) == (form, "gs1-sgtin", code, 100 + k), text
            assert s.ais == {"01": code[:14], "21": code[14:], "17": "261231", "10": "L1"}


def test_foreign_gs1_data_parses_without_a_scheme():
    s = PARSER.parse("]d2010952123454321321ABC-123")
    assert (s.scheme, s.code, s.counter) == (None, "09521234543213ABC-123", None)
    sscc = PARSER.parse("(00)106141411234567897")
    assert sscc.scheme is None and sscc.ais == {"00": "106141411234567897"}


def _render_all(iss, count=30):
    out = []
    for how in ("element", "hri", "dl"):
        out += [c.decode() for c in iss.codes(0, count, how, ATTRS)]
    return out


def _biip_fields(text):
    if text.startswith("("):
        msg = GS1Message.parse_hri(text)
    elif text.startswith("http"):
        msg = biip.parse(text).gs1_digital_link_uri
    else:
        msg = biip.parse(text).gs1_message
    return None if msg is None else {e.ai.ai: e.value for e in msg.element_strings}


def test_engine_renders_parse_the_same_in_biip_and_the_engine():
    iss = Issuer(schemes.get("gs1-sgtin"), PRODUCTS["gs1-sgtin"], MASTER)
    for text in _render_all(iss):
        assert _biip_fields(text) == PARSER.parse(text).ais, text


# GS1 strings from outside tracecode: whatever biip accepts, the engine accepts alike.
CORPUS = [
    "0109521234543213", "]d20109521234543213", "010952123454321310ABC", "(01)09521234543213(10)ABC",
    "01095212345432131726123110ABC\x1d21XYZ", "]C1" "00106141411234567897",
    "0109521234543213" "3103000250" "15261130", "(01)09521234543213(3102)001250(11)250101",
    "01095212345432132112345\x1d" "10LOT-9\x1d" "17270228", "0109521234543213" "17261200" "21A1",
    "(01)09521234543213(21)abc-DEF_12(30)12", "(01)09521234543213(400)PO-778(37)25",
    "]Q30109521234543213" "2199" "\x1d" "240ADD-ON", "(01)09521234543213(13)251031(21)S1",
    "https://id.gs1.org/01/09521234543213/21/12345", "https://id.gs1.org/01/09521234543213/10/A%2FB/21/1?17=270101",
    "https://example.com/01/09521234543213?15=261200", "(00)106141411234567897(401)CONSIGN-1",
    "(01)09521234543213(7003)2512311430", "0109521234543213" "91internal-data",
]


@pytest.mark.parametrize("text", CORPUS)
def test_whatever_biip_accepts_the_engine_accepts_with_the_same_fields(text):
    expected = _biip_fields(text)
    if expected is None:
        pytest.skip("biip does not accept it")
    assert PARSER.parse(text).ais == expected


# -- faults --------------------------------------------------------------------------------

def fault_of(text, parser=PARSER):
    with pytest.raises(ScanError) as exc:
        parser.parse(text)
    return exc.value


def test_faults_name_the_field_and_the_position():
    _, (code,) = issued("cn-drug-20", count=1)
    e = fault_of(code[:-1] + str((int(code[-1]) + 1) % 10))
    assert (e.fault, e.scheme, e.field, e.position) == (Fault.CHECK_MISMATCH, "cn-drug-20", "check", 19)
    e = fault_of(code[:10] + "x" + code[11:])
    assert (e.fault, e.field, e.position) == (Fault.BAD_CHARACTER, "serial", 10)
    assert "position 10" in str(e)
    e = fault_of(code[:-3])   # 18 characters would fit cn-equip-18's length (and break its rules)
    assert e.fault == Fault.WRONG_LENGTH and "17 characters" in str(e)
    assert fault_of("").fault == Fault.EMPTY
    assert fault_of(" \t\r\n").fault == Fault.EMPTY
    assert fault_of("]d2").fault == Fault.EMPTY
    e = fault_of("(01)09521234543213(17)261332")
    assert (e.fault, e.field) == (Fault.INVALID_DATE, "AI 17")
    e = fault_of("]d20109521234543214")
    assert (e.fault, e.field) == (Fault.CHECK_MISMATCH, "AI 01")
    e = fault_of("]d2010952123454321305123")
    assert e.fault == Fault.UNKNOWN_AI and e.position == 19
    e = fault_of("]d201095212345432131726")
    assert (e.fault, e.field) == (Fault.BAD_AI_VALUE, "AI 17")
    e = fault_of("(01)09521234543213(21)1(21)2")
    assert e.fault == Fault.DUPLICATE_AI
    e = fault_of("https://id.gs1.org/01/09521234543213/21/%zz")
    assert e.fault == Fault.BAD_AI_VALUE
    assert fault_of(b"\x81773220").fault == Fault.NOT_UTF8
    assert fault_of("8" * 5_000_000).fault == Fault.TOO_LONG  # megabytes: refused at once
    e = fault_of("8177322000\x00000000001")
    assert e.fault == Fault.BAD_CHARACTER


def test_product_field_rules_are_checked():
    iss = Issuer(schemes.get("cn-vet-24"), PRODUCTS["cn-vet-24"], MASTER)
    code = iss.codes(0, 1)[0].decode()
    bad_date = "20141327" + code[8:]  # month 13; fix the Damm digit so only the date is wrong
    from tracecode.checks import DAMM
    bad_date = bad_date[:-1] + DAMM.calc(bad_date[:-1])
    e = fault_of(bad_date)
    assert (e.fault, e.field) == (Fault.INVALID_FIELD, "date")
    gs1 = "09521234543214" + "123456789012"  # GTIN check digit wrong
    e = fault_of(gs1)
    assert (e.fault, e.scheme, e.field) == (Fault.INVALID_FIELD, "gs1-sgtin", "gtin")


def test_schemes_of_one_length_are_told_apart_by_rule():
    """A custom 20-digit Luhn scheme next to cn-drug-20: a tenth of each one's codes
    satisfy the other's check digit too. A code is read by the scheme whose rules it
    breaks least (the custom codes lack the drug prefix 8), or is AMBIGUOUS naming
    both when nothing tells them apart (a drug code that passes Luhn: the custom
    scheme's region may start with 8); never by the other scheme, in parse and
    parse_many alike. Which scheme comes first plays no part."""
    custom = scheme_from_dict({
        "scheme": {"name": "local-20"},
        "field": [{"name": "region", "role": "product", "length": 6},
                  {"name": "serial", "role": "serial", "length": 13},
                  {"name": "check", "role": "check", "length": 1, "system": "luhn"}]})
    pool = dict(schemes.builtin(), **{"local-20": custom})
    parser = ScanParser(pool, MASTER)
    drug = Issuer(schemes.get("cn-drug-20"), PRODUCTS["cn-drug-20"], MASTER).codes(0, 200)
    local = Issuer(custom, {"region": "330100"}, MASTER).codes(0, 200)
    both = custom.validate_many(drug)
    assert both.any()
    for c, tied in zip(drug, both):
        if tied:
            e = fault_of(c.decode(), parser)
            assert e.fault == Fault.AMBIGUOUS and set(e.candidates) == {"cn-drug-20", "local-20"}
        else:
            assert parser.parse(c.decode()).scheme == "cn-drug-20"
    assert [parser.parse(c.decode()).scheme for c in local] == ["local-20"] * len(local)
    assert any(schemes.get("cn-drug-20").is_valid(c.decode()) for c in local)  # once misread
    batch = parser.parse_many([c.decode() for c in list(drug) + list(local)])
    got = np.array(batch.scheme_names + [None], object)[batch.records["scheme"]]
    want = np.array(["cn-drug-20"] * len(drug) + ["local-20"] * len(local), object)
    want[:len(drug)][both] = None
    assert (got == want).all()
    assert (batch.records["fault"][:len(drug)][both] == Fault.AMBIGUOUS).all()


def test_a_code_no_rule_decides_is_ambiguous():
    """Two custom schemes of one layout and check system: a code of either fits both, and
    nothing but the index could tell them apart, so it is AMBIGUOUS, naming both."""
    def definition(name):
        return scheme_from_dict({
            "scheme": {"name": name},
            "field": [{"name": "plant", "role": "product", "length": 4},
                      {"name": "serial", "role": "serial", "length": 11},
                      {"name": "check", "role": "check", "length": 1, "system": "luhn"}]})
    pool = dict(schemes.builtin(), **{"plant-a": definition("plant-a"),
                                      "plant-b": definition("plant-b")})
    parser = ScanParser(pool, MASTER)
    code = Issuer(pool["plant-a"], {"plant": "0042"}, MASTER).codes(0, 1)[0].decode()
    e = fault_of(code, parser)
    assert e.fault == Fault.AMBIGUOUS and e.candidates == ("plant-a", "plant-b")
    assert "plant-a and plant-b" in str(e)
    r = parser.parse_many([code, "81773220000000000001"]).records
    assert r["fault"].tolist() == [Fault.AMBIGUOUS, Fault.OK] and r["scheme"][0] == -1



def test_two_gs1_schemes_taking_one_serial_are_ambiguous_without_a_rule():
    """A second GS1 scheme of the same serial layout: an element string fits both."""
    definition = {"scheme": {"name": "gs1-sgtin-b"},
                  "field": [{"name": "gtin", "role": "product", "ai": "01", "length": 14,
                             "check": "gs1"},
                            {"name": "serial", "role": "serial", "ai": "21", "length": 12}]}
    pool = dict(schemes.builtin(), **{"gs1-sgtin-b": scheme_from_dict(definition)})
    parser = ScanParser(pool, MASTER)
    e = fault_of("]d20109521234543213" "21123456789012", parser)
    assert e.fault == Fault.AMBIGUOUS and set(e.candidates) == {"gs1-sgtin", "gs1-sgtin-b"}
    assert ScanParser().parse("]d20109521234543213" "21123456789012").scheme \
        == "gs1-sgtin"

# -- bulk ----------------------------------------------------------------------------------

def _mixed_corpus():
    texts = []
    for name in PRODUCTS:
        _, codes = issued(name, count=40)
        texts += codes + [c[:-1] + ("0" if c[-1] != "0" else "1") for c in codes[:5]]
    _, el = issued("gs1-sgtin", count=20, render="element", attributes=ATTRS)
    _, dl = issued("gs1-sgtin", count=20, render="dl", attributes=ATTRS)
    texts += el + dl + CORPUS + ["", "junk", "(99", "]d2", "８１７７３２２", "x" * 5000]
    return texts


def test_parse_many_agrees_with_parse():
    texts = _mixed_corpus()
    batch = PARSER.parse_many(texts)
    assert len(batch) == len(texts)
    for i, text in enumerate(texts):
        try:
            s = PARSER.parse(text)
        except ScanError as e:
            assert batch["fault"][i] == e.fault, text
            continue
        r = batch.records[i]
        assert r["fault"] == Fault.OK
        assert (batch.scheme_names[r["scheme"]] if r["scheme"] >= 0 else None) == s.scheme
        assert r["code"].decode() == (s.code or "")
        assert r["expiry"].decode() == s.ais.get("17", "")
        assert r["lot"].decode() == s.ais.get("10", "")
        assert (int(batch.counter[i]) if batch.counter_ok[i] else None) == s.counter


def test_parse_many_packed_buffer_and_reused_output():
    iss, codes = issued("cn-drug-20", start=0, count=10_000)
    data = "".join(codes).encode()
    offsets = np.arange(0, 20 * 10_001, 20, dtype=np.int64)
    out = np.empty(10_000, dtype=PARSER.parse_many([]).records.dtype)
    batch = PARSER.parse_many(data, offsets, out=out)
    assert batch.records is out and batch.ok.all()
    assert (batch.counter == np.arange(10_000)).all() and batch.counter_ok.all()
    with pytest.raises(ValueError):
        PARSER.parse_many(data, np.array([0, 10**9], np.int64))


def test_counters_need_the_right_key():
    _, codes = issued("cn-drug-20", count=100)
    other = ScanParser(master_key=Key(bytes(32))).parse_many(codes)
    assert other.ok.all()  # the code is well-formed...
    assert not (other.counter[other.counter_ok] == np.arange(100, 200)[other.counter_ok]).any()


# -- properties ----------------------------------------------------------------------------

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(data):
    try:
        s = PARSER.parse(data)
    except ScanError as e:
        assert isinstance(e.fault, Fault)
    else:
        assert s.form is not None
    assert len(PARSER.parse_many([data])) == 1


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_random_text_never_crashes(text):
    try:
        PARSER.parse(text)
    except ScanError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(PRODUCTS)), st.integers(0, 999_998),  # cn-vet-24 holds 10**6 - 1
       st.sampled_from(["bare", "element", "hri", "dl"]))
def test_render_parse_round_trip(name, counter, how):
    iss = Issuer(schemes.get(name), PRODUCTS[name], MASTER)
    if how not in iss.scheme.renders:
        how = "bare"
    attrs = ATTRS if how != "bare" else None
    text = iss.codes(counter, 1, how, attrs)[0].decode()
    s = PARSER.parse(text)
    assert (s.scheme, s.counter) == (name, counter)
    assert s.code == iss.codes(counter, 1)[0].decode()


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(PRODUCTS)), st.data())
def test_truncated_and_corrupted_codes_are_typed_errors(name, data):
    _, (code,) = issued(name, count=1)
    cut = data.draw(st.integers(0, len(code) - 1))
    external = [s for s in schemes.builtin().values() if s.external and s.is_valid(code[:cut])]
    if external:   # a layout without a check character (cn-cylinder-16) takes these characters
        assert PARSER.parse(code[:cut]).scheme in {s.name for s in external}
        return
    e = fault_of(code[:cut]) if cut else fault_of("")
    assert e.fault in (Fault.EMPTY, Fault.WRONG_LENGTH, Fault.BAD_CHARACTER, Fault.CHECK_MISMATCH,
                       Fault.INVALID_FIELD, Fault.UNKNOWN_AI, Fault.BAD_AI_VALUE)


def test_module_level_parse_uses_builtin_schemes():
    _, (code,) = issued("cn-drug-20", count=1)
    s = parse(code)
    assert s.scheme == "cn-drug-20" and s.counter is None  # no key, no counter
    assert parse(code, master_key=MASTER).counter == 100


def test_hri_values_may_hold_parentheses():
    s = PARSER.parse("(01)09521234543213(10)A(1)B(21)S(2)")
    assert s.ais == {"01": "09521234543213", "10": "A(1)B", "21": "S(2)"}


def test_review_cases():
    # Digital Link faults point into the URL, not into a scratch copy
    e = fault_of("https://example.com/01/09521234543213/17/261331")
    assert e.fault == Fault.INVALID_DATE and e.position == 41
    # GTIN-13 in a Digital Link path is padded to 14 digits, as biip does
    s = PARSER.parse("https://example.com/01/9521234543213/21/1")
    assert s.ais["01"] == "09521234543213" == _biip_fields("https://example.com/01/9521234543213/21/1")["01"]
    # unseparated element strings whose length happens to be a national scheme's
    for text in ("01095212345432131012", "010952123454321321123456",
                 "01095212345432132112345678901234"):
        assert PARSER.parse(text).ais == _biip_fields(text), text
    # repeated separators are harmless
    assert PARSER.parse("]d20109521234543213\x1d\x1d21123").ais == {"01": "09521234543213", "21": "123"}
    # the code may end a trace URL's path, before its query
    _, (code,) = issued("cn-pesticide-32", count=1)
    assert PARSER.parse(f"https://www.icama.cn/q/{code}?from=qr").code == code
    # line-separated QR fields
    _, (vet,) = issued("cn-vet-24", count=1)
    s = PARSER.parse(f"{vet}\n产品\n兽药字(2015)010012345\n公司\n0571")
    assert s.extra["approval_number"] == "兽药字(2015)010012345"


def test_hri_render_refuses_ambiguous_values():
    iss = Issuer(schemes.get("gs1-sgtin"), PRODUCTS["gs1-sgtin"], MASTER)
    with pytest.raises(ValueError, match="ambiguous"):
        iss.codes(0, 1, "hri", {"lot": "A(21)B"})
    text = iss.codes(0, 1, "element", {"lot": "A(21)B"})[0].decode()
    assert PARSER.parse(text).fields["lot"] == "A(21)B"


def test_expired_date_fault_when_asked():
    import datetime as dt
    parser = ScanParser(master_key=MASTER, expired_before=dt.date(2026, 12, 1))
    assert parser.parse("(01)09521234543213(17)261231(21)1").ais["17"] == "261231"
    assert parser.parse("(01)09521234543213(17)261200(21)1").ais["17"] == "261200"  # 00: 31 Dec
    assert fault_of("(01)09521234543213(17)261100(21)1", parser).fault == Fault.EXPIRED_DATE  # 30 Nov
    e = fault_of("(01)09521234543213(17)261130(21)1", parser)
    assert (e.fault, e.field) == (Fault.EXPIRED_DATE, "AI 17") and "expired" in str(e)
    batch = parser.parse_many(["(01)09521234543213(17)250101(21)1", "(01)09521234543213(17)270101(21)1"])
    assert batch["fault"].tolist() == [Fault.EXPIRED_DATE, Fault.OK]
    assert PARSER.parse("(01)09521234543213(17)200101(21)1").ais["17"] == "200101"  # off by default


# -- human-readable strings as people type them from a label --------------------------------

def test_hri_with_spaces_as_typed_from_a_label():
    s = PARSER.parse("(01) 09521234543213 (21) ABC")
    assert (s.form, s.ais) == ("hri", {"01": "09521234543213", "21": "ABC"})
    iss, (hri,) = issued("gs1-sgtin", count=1, render="hri", attributes=ATTRS)
    spaced = hri.replace("(", " (").replace(")", ") ").strip()
    s = PARSER.parse(spaced)
    assert (s.scheme, s.counter, s.fields["lot"]) == ("gs1-sgtin", 100, "LOT/7-A")
    assert PARSER.parse(spaced.replace(" ", "\u3000\u3000")).counter == 100   # ideographic spaces
    assert PARSER.parse(full_width(hri).replace("）", "） ")).counter == 100   # full-width input
    # strict elsewhere: a space inside a value ends it, and what follows must be an (AI)
    e = fault_of("(01)09521234543213(10)AB CD")
    assert (e.fault, e.position) == (Fault.UNKNOWN_AI, 25)
    assert fault_of("(01)0952123454 3213").fault == Fault.BAD_AI_VALUE
    assert fault_of("(01) 09521234543213 (8000) 1").fault == Fault.UNKNOWN_AI
    # a numeric value ends at "(": the unassigned AI after it is named, not the GTIN
    e = fault_of("(01)09521234543213(3109)123456")
    assert (e.fault, e.position) == (Fault.UNKNOWN_AI, 18)


hri_values = st.fixed_dictionaries({
    # within the century rule's window, so the date means the same whenever the test runs
    "expiry": st.dates(dt.date(dt.date.today().year - 49, 1, 1),
                       dt.date(dt.date.today().year + 49, 12, 31)).map(lambda d: d.strftime("%y%m%d")),
    "lot": st.text(alphabet="ABCXYZ0123456789-./_()", min_size=1, max_size=20),
}).filter(lambda a: not re.search(r"\(\d{2,4}\)", a["lot"]))
blanks = st.lists(st.sampled_from([" ", "\u3000", "  "]), min_size=0, max_size=2).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10 ** 6), hri_values, st.data())
def test_hri_with_spaces_at_group_boundaries_round_trips(counter, attrs, data):
    iss = Issuer(schemes.get("gs1-sgtin"), PRODUCTS["gs1-sgtin"], MASTER)
    hri = iss.codes(counter, 1, "hri", attrs)[0].decode()
    expected = PARSER.parse(hri)
    groups = re.findall(r"\(\d{2,4}\)[^ ]*?(?=\(\d{2,4}\)|$)", hri)
    assert "".join(groups) == hri
    spaced = data.draw(blanks)
    for g in groups:
        ai, value = g[:g.index(")") + 1], g[g.index(")") + 1:]
        spaced += ai + data.draw(blanks) + value + data.draw(blanks)
    s = PARSER.parse(spaced)
    assert (s.scheme, s.code, s.counter, s.ais, s.fields) == (
        expected.scheme, expected.code, counter, expected.ais, expected.fields), spaced
    assert PARSER.parse_many([spaced]).records["fault"][0] == Fault.OK


def test_symbology_identifiers_are_a_bracket_a_letter_and_a_modifier():
    _, (code,) = issued("cn-drug-20", count=1)
    for sid in ("]C0", "]d1", "]Q1", "]E0", "]z9"):   # other identifiers are dropped
        assert PARSER.parse(sid + code).code == code, sid
    # "]a" and a character cut or whole: not an identifier, so the scan stays as it is;
    # a non-ASCII character counts as one, and is a bad one when the length fits a scheme
    for text in ("]a中" + code[3:], "]中" + code[2:], "]" + code[1:], "中" + code[1:]):
        assert fault_of(text).fault == Fault.BAD_CHARACTER, text
    assert fault_of("]a中" + code).fault == Fault.WRONG_LENGTH   # 23 characters: no scheme's length
    e = fault_of(b"]a\xe4" + code.encode())
    assert (e.fault, e.position) == (Fault.NOT_UTF8, 2)
    e = fault_of("]a中" + code[3:])
    assert "'中'" in str(e) and e.position == 2
