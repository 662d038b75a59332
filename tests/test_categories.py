"""Categories as modules, and schemes told apart by rule (tracecode.categories).

The issue's case: a 20-digit Luhn-checked scheme added as a data file next to
cn-drug-20 (a tenth of its codes satisfy Damm too) and a 13-character one;
1e5 codes of each and of every built-in scheme (issued, or for the special
equipment schemes whose codes others assign, generated and registered), each read
by its own scheme through parse_many and through the index (GENUINE, and a
commission event of 100 of them accepted). Nothing but the data files is added.
"""
import numpy as np
import pytest

import tracecode
from tracecode import categories, schemes
from tracecode.checks import DAMM
from tracecode.scan import Fault, ScanParser

from tests.special_equipment_data import GENERATORS

N = 100_000

SPECIAL_EQUIPMENT = """\
# Special equipment registration code: 4-digit class, 2-digit province, 13 FF1
# digits, a Luhn check digit (a layout of our own over the TSG class codes)
[scheme]
name = "special-equipment-20"
category = "generic"

[[field]]
name = "class"
role = "product"
length = 4
choices = ["1000", "2000", "3000", "4000", "5000", "6000", "8000", "9000"]

[[field]]
name = "province"
role = "product"
length = 2

[[field]]
name = "serial"
role = "serial"
length = 13

[[field]]
name = "check"
role = "check"
length = 1
system = "luhn"
"""

DETONATOR = """\
# Industrial detonator, legacy 13 characters: enterprise, year digit, month, day,
# 7 FF1 characters over 0-9A-Z; the month a letter (A January .. L December: the built-in
# cn-detonator-13, GA 441-2003, writes it in digits, so the two layouts share no code)
[scheme]
name = "detonator-13"

[[field]]
name = "enterprise"
role = "product"
length = 2

[[field]]
name = "year"
role = "product"
length = 1

[[field]]
name = "month"
role = "product"
length = 1
alphabet = "ABCDEFGHIJKL"

[[field]]
name = "day"
role = "product"
length = 2

[[field]]
name = "serial"
role = "serial"
length = 7
alphabet = "alnum"
"""

CUSTOM_PRODUCTS = {
    "special-equipment-20": {"class": "2000", "province": "33"},
    "detonator-13": {"enterprise": "51", "year": "6", "month": "K", "day": "30"},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("categories") / "data"
    tracecode.init(path).close()
    (path / "schemes" / "special-equipment-20.toml").write_text(SPECIAL_EQUIPMENT)
    (path / "schemes" / "detonator-13.toml").write_text(DETONATOR)
    d = tracecode.open(path)
    assert not d.scheme_errors
    issued = {}
    for name, scheme in d.schemes.items():
        if scheme.external:   # assigned by others (special equipment): registered, not issued
            codes = GENERATORS[name](N)
            assert d.register(name, codes, owner="maker").registered == N
            issued[name] = codes
            continue
        product = CUSTOM_PRODUCTS.get(name) or scheme.example_product()
        issued[name] = d.issue(name, product, N).codes()
    assert {n for n, s in d.schemes.items() if s.external} == set(GENERATORS)
    yield d, issued
    d.close()


def test_every_code_is_read_by_its_own_scheme_in_parse_many(data):
    d, issued = data
    parser = ScanParser(d.schemes)
    names = sorted(issued)
    batch = parser.parse_many([c.decode() for n in names for c in issued[n]])
    got = np.array(batch.scheme_names)[batch.records["scheme"]]
    want = np.repeat(names, N)
    fault = batch.records["fault"]
    read, tied = fault == Fault.OK, fault == Fault.AMBIGUOUS
    assert (read | tied).all()
    assert (got[read] == want[read]).all(), "misread codes"
    # every built-in scheme's codes are read, all at once; the only ties are the custom
    # equipment scheme's codes that keep cn-equip-reg-20's rules too (class 2000, a
    # province, a valid YYYYMM: 1 in ~400), and registration codes that keep cn-drug-20's
    # check (a tenth; review: read as cn-equip-reg-20 by the drug's missing prefix alone):
    # without the index nothing tells them apart
    custom = np.isin(want, list(CUSTOM_PRODUCTS))
    reg = want == "cn-equip-reg-20"
    drug_too = schemes.get("cn-drug-20").validate_many(issued["cn-equip-reg-20"])
    assert read[~custom & ~reg].all()
    assert (tied[reg] == drug_too).all() and N // 20 < drug_too.sum() < N // 5
    assert set(want[tied]) <= {"special-equipment-20", "cn-equip-reg-20"}
    one = ScanParser(d.schemes)
    with pytest.raises(tracecode.scan.ScanError) as exc:
        one.parse("21603101012024010008")
    assert set(exc.value.candidates) == {"cn-drug-20", "cn-equip-reg-20"}
    fits = schemes.get("cn-equip-reg-20").validate_many(issued["special-equipment-20"])
    assert (tied[want == "special-equipment-20"] == fits).all() and fits.sum() < N // 100
    # the case first-match detection misread: codes of the Luhn scheme that pass Damm
    luhn = issued["special-equipment-20"]
    assert schemes.get("cn-drug-20").validate_many(luhn).sum() > N // 20


def test_every_code_is_read_by_its_own_scheme_through_the_index(data):
    d, issued = data
    for name, codes in issued.items():
        first = d.apply([{"id": f"{name}-100", "action": "commission",
                          "codes": [c.decode() for c in codes[:100]]}])
        assert [r.get("error") for r in first] == [None], name
        rest = d.apply([{"id": f"{name}-rest", "action": "commission",
                         "codes": [c.decode() for c in codes[100:]]}])
        assert [r.get("error") for r in rest] == [None], name
        vb = d.verify_many([c.decode() for c in codes], record=False)
        assert (vb.verdicts == tracecode.index.Verdict.GENUINE).all(), name
        assert {a.scheme for a in (vb[0], vb[len(vb) - 1])} == {name}


def test_without_the_index_a_tie_is_ambiguous_and_the_index_decides(data):
    """Class 8000 equipment codes start with 8 like drug codes: a tenth pass Damm, and
    with both schemes' rules satisfied only the index can tell (the product it issued)."""
    d, issued = data
    codes = d.issue("special-equipment-20", {"class": "8000", "province": "11"}, 2000).codes()
    texts = [c.decode() for c in codes]
    r = ScanParser(d.schemes).parse_many(texts).records
    both = schemes.get("cn-drug-20").validate_many(codes)
    registration = schemes.get("cn-equip-reg-20").validate_many(codes)   # 1 in ~400 fit it too
    assert both.any()
    tie = both | registration
    assert (r["fault"][tie] == Fault.AMBIGUOUS).all() and (r["fault"][~tie] == Fault.OK).all()
    with pytest.raises(tracecode.scan.ScanError) as exc:
        ScanParser(d.schemes).parse(texts[int(np.flatnonzero(both & ~registration)[0])])
    # cn-equip-reg-20 takes any 20 digits by length and alphabet (a candidate), its rules not
    assert set(exc.value.candidates) - {"cn-equip-reg-20"} == {"cn-drug-20", "special-equipment-20"}
    assert d.apply([{"id": "eq-8000", "action": "commission", "codes": texts}])[0].get("error") is None
    vb = d.verify_many(texts, record=False)
    assert (vb.verdicts == tracecode.index.Verdict.GENUINE).all()
    assert {vb[int(i)].scheme for i in np.flatnonzero(tie)} == {"special-equipment-20"}


def test_a_drug_code_that_passes_luhn_stays_a_drug_code(data):
    """Both products issued (drug 2000331, equipment class 2000 province 33): the
    characters name an issued product under either scheme, so the index decides by
    the counter FF1^-1 gives under each product: within the guessing bound only
    under the product that issued the code (another's: odds below 1 in 10,000,
    and then AMBIGUOUS, never a misreading)."""
    d, issued = data
    equipment = schemes.get("special-equipment-20", d.schemes)
    assert equipment.validate_many(issued["cn-drug-20"]).sum() == 0  # 8177 is no class
    other = d.issue("cn-drug-20", {"drug_id": "2000331"}, 5000).codes()  # not prefix 8
    passes = equipment.validate_many(other)
    assert passes.any()
    texts = [c.decode() for c in other[passes]]
    # without the index, the equipment class rule outweighs the missing drug prefix; those
    # that keep cn-equip-reg-20's rules too (class 2000, province 33, a YYYYMM: 1 in ~400)
    # tie with the custom scheme: AMBIGUOUS, never misread
    r = ScanParser(d.schemes).parse_many(texts).records
    registration = schemes.get("cn-equip-reg-20").validate_many(other[passes])
    assert (r["fault"][~registration] == Fault.OK).all()
    assert (r["fault"][registration] == Fault.AMBIGUOUS).all()
    vb = d.verify_many(texts, record=False)
    read = np.array([a.scheme for a in vb], object)
    assert "special-equipment-20" not in set(read)
    tied = np.flatnonzero(vb.records["fault"] == Fault.AMBIGUOUS)
    assert len(tied) <= max(2, len(texts) // 1000)
    ok = [t for i, t in enumerate(texts) if i not in set(tied.tolist())]
    assert d.apply([{"id": "d2000", "action": "commission", "codes": ok}])[0].get("error") is None
    vb = d.verify_many(ok, record=False)
    assert (vb.verdicts == tracecode.index.Verdict.GENUINE).all()
    assert {a.scheme for a in vb} == {"cn-drug-20"}
    assert {d.verify(t, record=False).scheme for t in ok[:50]} == {"cn-drug-20"}  # one scan too


def test_categories_are_discovered_and_declare_their_vocabulary():
    assert set(categories.ALL) >= {"drugs", "veterinary", "pesticides", "gs1_trade", "generic"}
    for name, cat in categories.ALL.items():
        assert cat.name == name and cat.title
        assert set(cat.lifecycle) <= set(categories.CBV_STEPS) or all(
            s in categories.CBV_STEPS or s.startswith(categories.OUR_NAMESPACE) for s in cat.lifecycle)
        assert set(cat.public) <= set(categories.PUBLIC_FIELDS)
    for s in schemes.builtin().values():
        assert s.category in categories.ALL, s.name
        assert categories.of_scheme(s).name == s.category
        reg = categories.of_scheme(s).registry
        if reg is not None:  # the compared fields are code fields of the scheme
            assert all(s.field(f).role == "product" for f in reg.fields)


def test_registry_kinds_match_the_wire():
    """RegistryKind in verification.proto lists the categories' registry numbers."""
    vpb = pytest.importorskip("tracecode.v1.verification_pb2")
    assert categories.registry_kinds() == (None, "vet", "pesticide")
    for cat in categories.with_registry():
        assert vpb.RegistryKind.Value(f"REGISTRY_KIND_{cat.registry.kind.upper()}") == cat.registry.number


def test_a_definition_naming_an_unknown_category_is_refused():
    from tracecode.errors import DefinitionError
    from tracecode.schemes import scheme_from_dict
    with pytest.raises(DefinitionError, match="category 'toys'"):
        scheme_from_dict({"scheme": {"name": "toy-20", "category": "toys"},
                          "field": [{"name": "p", "role": "product", "length": 6},
                                    {"name": "serial", "role": "serial", "length": 13},
                                    {"name": "check", "role": "check", "length": 1,
                                     "system": "damm"}]})


def test_damm_check_of_a_drug_code():
    assert DAMM.calc("8177322000000000000") == "1"


def test_adding_a_category_is_adding_a_module(tmp_path, monkeypatch):
    """The package is scanned: a module with a CATEGORY is a category, nothing else edited."""
    (tmp_path / "toys.py").write_text(
        "from tracecode.categories.category import Category\n"
        "CATEGORY = Category(name='toys', title='Toys', prefixes=('T',))\n")
    monkeypatch.setattr(categories, "__path__", [*categories.__path__, str(tmp_path)])
    found = categories._discover()
    assert found["toys"].prefixes == ("T",) and set(categories.ALL) <= set(found)


@pytest.mark.parametrize("system", ["luhn", "gs1", "mod11_10", "verhoeff", "damm"])
def test_a_code_is_never_read_by_a_scheme_that_did_not_issue_it(system):
    """A custom 20-digit scheme with no rule of its own beside cn-drug-20 (same check
    system included): codes of each are read by their own scheme or, where nothing
    tells them apart, AMBIGUOUS naming both; never by the other."""
    from tracecode import Key
    from tracecode.issuance import Issuer
    from tracecode.schemes import scheme_from_dict
    key = Key(bytes(range(32)))
    custom = scheme_from_dict({"scheme": {"name": "plain-20"}, "field": [
        {"name": "maker", "role": "product", "length": 7},
        {"name": "serial", "role": "serial", "length": 12},
        {"name": "check", "role": "check", "length": 1, "system": system}]})
    pool = dict(schemes.builtin(), **{"plain-20": custom})
    parser = ScanParser(pool)
    mine = Issuer(custom, {"maker": "8123456"}, key).codes(0, 20_000)        # a drug-like prefix
    drug = Issuer(pool["cn-drug-20"], {"drug_id": "8177322"}, key).codes(0, 20_000)
    for codes, own, other in ((mine, "plain-20", "cn-drug-20"), (drug, "cn-drug-20", "plain-20")):
        r = parser.parse_many(codes).records
        read = np.array(parser.names + [None], object)[r["scheme"]]
        assert not (read == other).any()
        assert ((read == own) | (r["fault"] == Fault.AMBIGUOUS)).all()
