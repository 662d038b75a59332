"""Scheme definitions: the built-ins, loading from data, and validation."""
import json

import numpy as np
import pytest

from tracecode import schemes
from tracecode.errors import (DefinitionError, InvalidChecksum, InvalidComponent, InvalidFormat,
                              InvalidLength)
from tracecode.schemes import load_scheme, scheme_from_dict

BUILTINS = ["cn-drug-20", "cn-vet-24", "cn-pesticide-32", "gs1-sgtin", "generic",
            "cn-equip-18", "cn-equip-reg-20", "cn-cylinder-16",     # registered: equipment,
            "cn-detonator-13", "cn-edetonator-21", "cn-fireworks-22",   # hazardous goods,
            "cn-eartag-15"]                                              # livestock


def test_builtins_match_the_national_layouts():
    pool = schemes.builtin()
    assert sorted(pool) == sorted(BUILTINS)
    assert pool["cn-drug-20"].length == 20
    assert pool["cn-vet-24"].length == 24
    assert pool["cn-pesticide-32"].length == 32
    assert pool["gs1-sgtin"].length == 14 + 12
    assert pool["cn-detonator-13"].length == 13 and pool["cn-eartag-15"].length == 15
    drug = pool["cn-drug-20"]
    assert drug.offset("serial") == 7 and drug.check.system == "damm"
    vet = pool["cn-vet-24"]
    assert [f.length for f in vet.code_fields] == [8, 5, 10, 1]  # date, enterprise, 11 random digits
    pest = pool["cn-pesticide-32"]
    assert [f.length for f in pest.code_fields] == [1, 6, 1, 3, 20, 1]


def test_capacity_is_the_guessing_bound():
    assert schemes.get("cn-drug-20").capacity == (10**12 - 1) // 10_000 == 99_999_999
    assert schemes.get("generic").capacity == (36**12 - 1) // 10_000


def test_product_values_are_validated_with_field_names():
    drug = schemes.get("cn-drug-20")
    assert drug.product_values({"drug_id": " 8177322 "}) == {"drug_id": "8177322"}
    with pytest.raises(InvalidLength, match="drug_id"):
        drug.product_values({"drug_id": "817732"})
    with pytest.raises(InvalidFormat) as exc:
        drug.product_values({"drug_id": "81773A2"})
    assert exc.value.field == "drug_id" and exc.value.position == 5
    with pytest.raises(InvalidComponent, match="needs a value"):
        drug.product_values({})
    with pytest.raises(InvalidComponent, match="no product field 'gtin'"):
        drug.product_values({"drug_id": "8177322", "gtin": "1"})
    vet = schemes.get("cn-vet-24")
    with pytest.raises(InvalidComponent, match="date"):
        vet.product_values({"date": "20140230", "enterprise": "00002"})
    gs1 = schemes.get("gs1-sgtin")
    with pytest.raises(InvalidComponent, match="gs1 check"):
        gs1.product_values({"gtin": "09521234543214"})
    assert gs1.attribute_values({"expiry": "261200", "lot": "A-1"}) == {"expiry": "261200", "lot": "A-1"}
    with pytest.raises(InvalidComponent, match="expiry"):
        gs1.attribute_values({"expiry": "261301"})
    pest = schemes.get("cn-pesticide-32")
    with pytest.raises(InvalidComponent, match="one of 1, 2, 3"):
        pest.product_values({"reg_class": "4", "reg_number": "092927", "production_type": "1",
                             "spec": "001"})


def test_validate_reports_length_position_and_checksum():
    drug = schemes.get("cn-drug-20")
    with pytest.raises(InvalidLength):
        drug.validate("8177322")
    with pytest.raises(InvalidFormat) as exc:
        drug.validate("8177322000000X000000")
    assert exc.value.position == 13 and exc.value.field == "serial"
    # A Damm check digit completes any 19 digits to exactly one valid code.
    body = "8177322012345678901"
    valid = [body + d for d in "0123456789" if drug.is_valid(body + d)]
    assert len(valid) == 1
    bad = body + str((int(valid[0][-1]) + 1) % 10)
    with pytest.raises(InvalidChecksum) as exc:
        drug.validate(bad)
    assert exc.value.field == "check"
    assert drug.validate(" " + valid[0][:10] + "-" + valid[0][10:] + "\n") == valid[0]


def test_validate_many_agrees_with_validate():
    rng = np.random.default_rng(1)
    for name in BUILTINS:
        sch = schemes.get(name)
        alphabet = np.frombuffer(sch.serial.alphabet.encode(), np.uint8)
        rows = alphabet[rng.integers(0, len(alphabet), size=(3000, sch.length))]
        arr = rows.view(f"S{sch.length}").ravel()
        arr = np.concatenate([arr, np.array([b"", b"123", b"x" * sch.length])])
        expected = np.array([sch.is_valid(c.decode()) for c in arr])
        assert (sch.validate_many(arr) == expected).all(), name


def _definition(**over):
    d = {"scheme": {"name": "mine", "title": "Mine"},
         "field": [{"name": "prefix", "role": "product", "length": 4},
                   {"name": "serial", "role": "serial", "length": 10},
                   {"name": "check", "role": "check", "length": 1, "system": "verhoeff"}]}
    d.update(over)
    return d


def test_custom_scheme_from_toml_and_json(tmp_path):
    toml = tmp_path / "mine.toml"
    toml.write_text('[scheme]\nname = "mine"\n\n[[field]]\nname = "serial"\nrole = "serial"\n'
                    'length = 8\nalphabet = "0123456789ABCDEF"\n')
    sch = load_scheme(toml)
    assert sch.length == 8 and sch.serial_domain == 16**8
    js = tmp_path / "other.json"
    js.write_text(json.dumps(_definition()))
    assert load_scheme(js).name == "mine"


@pytest.mark.parametrize("change,message", [
    ({"scheme": {}}, "scheme name"),
    ({"field": []}, "at least one"),
    ({"field": [{"name": "serial", "role": "serial", "length": 5}]}, "1,000,000"),
    ({"field": [{"name": "s", "role": "serial", "length": 8}, {"name": "t", "role": "serial", "length": 8}]},
     "exactly one serial"),
    ({"field": [{"name": "s", "role": "serial", "length": 8, "colour": "red"}]}, "unknown key 'colour'"),
    ({"field": [{"name": "s", "role": "sereal", "length": 8}]}, "role must be"),
    ({"field": [{"name": "s", "role": "serial", "length": 8},
                {"name": "c", "role": "check", "length": 1, "system": "crc32"}]}, "system must be"),
    ({"field": [{"name": "s", "role": "serial", "length": 8},
                {"name": "c", "role": "check", "length": 1, "system": "mod97_10"}]}, "gives 2"),
    ({"field": [{"name": "s", "role": "serial", "length": 8, "alphabet": "alnum"},
                {"name": "c", "role": "check", "length": 1, "system": "damm"}]}, "cannot check"),
    ({"field": [{"name": "c", "role": "check", "length": 1, "system": "damm"},
                {"name": "s", "role": "serial", "length": 8}]}, "last code field"),
    ({"field": [{"name": "d", "role": "product", "length": 8, "date": "DDMMYY"},
                {"name": "s", "role": "serial", "length": 8}]}, "date must be"),
])
def test_malformed_definitions_get_one_clear_error(change, message):
    with pytest.raises(DefinitionError, match=message):
        scheme_from_dict(_definition(**change))


def test_unreadable_definition_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[scheme\nname=")
    with pytest.raises(DefinitionError, match="bad.toml"):
        load_scheme(bad)
    with pytest.raises(DefinitionError, match="missing"):
        load_scheme(tmp_path / "missing.toml")


def test_custom_schemes_cannot_shadow_builtins(tmp_path):
    (tmp_path / "x.toml").write_text((schemes.BUILTIN_DIR / "generic.toml").read_text())
    with pytest.raises(DefinitionError, match="already defined"):
        schemes.load_dir(tmp_path, base=schemes.builtin())
