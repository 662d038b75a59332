"""Scheme definitions are validated completely when loaded: a scheme that loads is one
the engine serves (FF1 domain, characters the scan parser reads back, types), and a
bad file is refused with a DefinitionError naming the file, the field and the rule."""
import json
import string
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import tracecode
import tracecode.checks
from tracecode import schemes
from tracecode.errors import DefinitionError, ValidationError
from tracecode.issuance import Issuer
from tracecode.keys import Key
from tracecode.scan import ScanParser
from tracecode.schemes import load_dir, load_scheme, scheme_from_dict


def _serial(**over):
    return {"scheme": {"name": "mine"}, "field": [{"name": "serial", "role": "serial", "length": 10,
                                                   **over}]}


@pytest.mark.parametrize("over,rule", [
    ({"length": 40, "alphabet": "alnum"}, "beyond this FF1's limit"),   # radix 36: 36 numerals at most
    ({"length": 60}, "beyond this FF1's limit"),
    ({"alphabet": "0123456789\x00"}, "NUL"),
    ({"alphabet": "0123456789 "}, "other than space"),
    ({"alphabet": "0123456789\x1d"}, "control characters"),
    ({"alphabet": "0123456789\t"}, "control characters"),
    ({"alphabet": "0123456789-"}, "strips or reads as a separator"),
    ({"alphabet": "0123456789,"}, "strips or reads as a separator"),
    ({"alphabet": "0123456789("}, "strips or reads as a separator"),
    ({"alphabet": "01234567é9"}, "printable ASCII"),
    ({"alphabet": ["0", "1"]}, "alphabet must be a string, got list"),
    ({"alphabet": 10}, "alphabet must be a string, got int"),
    ({"length": True}, "length must be an integer"),
    ({"length": "10"}, "length must be an integer"),
    ({"description": ["x"]}, "description must be a string"),
    ({"example": 1234567890}, "example must be a string"),
    ({"choices": ["1"]}, "takes no 'choices'"),
])
def test_unservable_serials_are_refused_naming_file_field_and_rule(over, rule):
    with pytest.raises(DefinitionError, match=rule) as exc:
        scheme_from_dict(_serial(**over), source="DATA/schemes/mine.toml")
    assert str(exc.value).startswith("DATA/schemes/mine.toml field 'serial': ")


@pytest.mark.parametrize("field,rule", [
    ({"name": "c", "role": "check", "length": 1, "system": ["damm"]}, "system must be a string"),
    ({"name": "c", "role": "check", "length": 1, "system": "damm", "alphabet": "01"}, "from its system"),
    ({"name": "c", "role": "check", "length": 1, "system": "damm", "over": 3}, "over must be a string"),
    ({"name": "p", "role": "product", "length": 4, "check": ["gs1"]}, "check must be a string"),
    ({"name": "p", "role": "product", "length": 4, "check": "gs1", "alphabet": "alnum"}, "cannot be computed"),
    ({"name": "p", "role": "product", "length": 1, "choices": [1, 2]}, "choices must be strings"),
    ({"name": "p", "role": "product", "length": 1, "choices": ["12"]}, "length and alphabet"),
    ({"name": "p", "role": "product", "length": 1, "choices": ["1", "1"]}, "listed twice"),
    ({"name": "p", "role": "product", "length": 1, "choices": {"a": 1}}, "choices must be a list"),
    ({"name": "p", "role": "product", "length": 6, "date": "YYMMDD", "alphabet": "alnum"}, "digits"),
    ({"name": "p", "role": "product", "length": 4, "max_length": 6}, "max_length is for attributes"),
    ({"name": "p", "role": "product", "length": 4, "system": "damm"}, "only check fields"),
    ({"name": "p", "role": ["product"], "length": 4}, "role must be a string"),
])
def test_mistyped_fields_are_refused(field, rule):
    d = {"scheme": {"name": "mine"},
         "field": [field, {"name": "s", "role": "serial", "length": 10}]}
    if field["role"] == "check":
        d["field"].reverse()
    with pytest.raises(DefinitionError, match=rule):
        scheme_from_dict(d, source="f.toml")


@pytest.mark.parametrize("data,rule", [
    ([1, 2], "table/object"),
    ({"scheme": {"name": "mine"}, "field": ["serial"]}, "must be a table"),
    ({"scheme": {"name": "mine"}, "field": {"name": "s"}}, "at least one"),
    ({"scheme": {"name": "mine"}, "fields": []}, "unknown table 'fields'"),
    ({"scheme": {"name": "mine\n"}, "field": [{"name": "s", "role": "serial", "length": 8}]}, "scheme name"),
    ({"scheme": {"name": "mine", "title": 5}, "field": [{"name": "s", "role": "serial", "length": 8}]},
     "title must be a string"),
    ({"scheme": {"name": "mine", "dl_base": "ftp://x"}, "field": [{"name": "s", "role": "serial", "length": 8}]},
     "dl_base"),
    ({"scheme": {"name": "mine", "colour": "red"}, "field": [{"name": "s", "role": "serial", "length": 8}]},
     "unknown key 'colour'"),
    ({"scheme": {"name": "mine"}, "field": [{"name": f"f{i}", "role": "product", "length": 1}
                                             for i in range(17)]}, "at most 16 fields"),
])
def test_malformed_structure_is_refused(data, rule):
    with pytest.raises(DefinitionError, match=rule):
        scheme_from_dict(data, source="f.toml")


def test_deep_and_huge_files_are_refused_not_a_traceback(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 30_000)
    (tmp_path / "deep.toml").write_text("x = " + "[" * 20_000)
    (tmp_path / "huge.toml").write_text("# " + "x" * 100_000)
    for name, rule in (("deep.json", "deep"), ("deep.toml", "deep"), ("huge.toml", "larger than")):
        with pytest.raises(DefinitionError, match=rule) as exc:
            load_scheme(tmp_path / name)
        assert name in str(exc.value)


def test_load_dir_keeps_the_good_schemes_and_lists_the_bad(tmp_path):
    (tmp_path / "a-bad.toml").write_text('[scheme]\nname = "wide"\n[[field]]\nname = "serial"\n'
                                         'role = "serial"\nlength = 40\nalphabet = "alnum"\n')
    (tmp_path / "b-good.json").write_text(json.dumps(_serial()))
    (tmp_path / "c-list.json").write_text(json.dumps(_serial(alphabet=["0", "1"])))
    (tmp_path / "d-shadow.toml").write_text((schemes.BUILTIN_DIR / "generic.toml").read_text())
    errors = []
    loaded = load_dir(tmp_path, base=schemes.builtin(), errors=errors)
    assert "mine" in loaded and "wide" not in loaded and loaded["generic"].source.endswith("generic.toml")
    assert [str(e).split(":")[0].rsplit("/", 1)[-1].split(" ")[0] for e in errors] == \
        ["a-bad.toml", "c-list.json", "d-shadow.toml"]
    with pytest.raises(DefinitionError, match="a-bad.toml"):  # strict without a list
        load_dir(tmp_path)


def test_a_data_directory_with_a_bad_scheme_still_opens(tmp_path):
    d = tracecode.init(tmp_path / "d")
    d.close()
    (tmp_path / "d" / "schemes" / "wide.toml").write_text(
        '[scheme]\nname = "wide"\n[[field]]\nname = "serial"\nrole = "serial"\nlength = 40\n'
        'alphabet = "alnum"\n')
    (tmp_path / "d" / "schemes" / "ok.toml").write_text(
        '[scheme]\nname = "ok"\n[[field]]\nname = "serial"\nrole = "serial"\nlength = 10\n')
    with pytest.warns(schemes.DefinitionWarning, match="wide.toml field 'serial'"):
        d = tracecode.open(tmp_path / "d")
    with d:
        assert "ok" in d.schemes and "wide" not in d.schemes and len(d.scheme_errors) == 1
        # a 40-character scan fails alone, not the batch (it used to raise DomainError)
        batch = d.verify_many(["A" * 40, "8177322" + "0" * 12 + "1"], record=False)
        assert len(batch) == 2
    run = subprocess.run([sys.executable, "-m", "tracecode.cli", "schemes", "--data", str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "\nok " in run.stdout and "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1 and "warning: scheme not loaded" in run.stderr \
        and "wide.toml field 'serial'" in run.stderr


# -- every scheme that loads is served: issued codes parse back to their counters ------------

_PRINTABLE = string.digits + string.ascii_letters + string.punctuation
_good_alphabets = st.one_of(
    st.sampled_from(["digits", "alnum", "gs1", "0123456789ABCDEF"]),
    st.text(st.sampled_from(_PRINTABLE + " \x00\x1d\t-"), min_size=2, max_size=40))
_alphabets = st.one_of(_good_alphabets, st.lists(st.text(max_size=2), max_size=3), st.integers(),
                       st.none())
_junk = st.one_of(st.none(), st.booleans(), st.integers(-5, 80), st.text(max_size=8),
                  st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                      max_size=2))


def _field(role, wild):
    """A field of the role: well-typed values (wild: any value for any key)."""
    if wild:
        keys = ["length", "alphabet", "choices", "check", "date", "system", "over", "example",
                "ai", "max_length"]
        return st.fixed_dictionaries({"name": st.from_regex(r"[a-z]{1,6}", fullmatch=True),
                                      "role": st.just(role)},
                                     optional={k: st.one_of(_junk, _alphabets) for k in keys})
    if role == "check":
        return st.fixed_dictionaries({"role": st.just(role), "length": st.just(1),
                                      "system": st.sampled_from(sorted(tracecode.checks.SYSTEMS))},
                                     optional={"over": st.sampled_from(["code", "serial"])})
    optional = {"alphabet": _good_alphabets}
    if role == "product":
        optional.update(choices=st.lists(st.text(string.digits, min_size=1, max_size=2), min_size=1,
                                         max_size=3),
                        check=st.sampled_from(["gs1", "damm", "luhn36"]),
                        date=st.sampled_from(["YYYYMMDD", "YYMMDD"]))
    return st.fixed_dictionaries({"role": st.just(role),
                                  "length": st.integers(2 if role == "serial" else 1, 24)},
                                 optional=optional)


def _named(fields):
    return [{"name": f"f{i}", **f} if "name" not in f else f for i, f in enumerate(fields)]


def _fields(wild):
    return st.tuples(st.lists(_field("product", wild), max_size=3), _field("serial", wild),
                     st.lists(_field("check", wild), max_size=1),
                     st.lists(_field("attribute", wild), max_size=1)) \
        .map(lambda t: _named(t[0] + [t[1]] + t[2] + t[3]))


_heads = st.fixed_dictionaries({"name": st.just("mine")},
                               optional={"title": st.text(max_size=5), "dl_base": st.just("https://e.x")})
_definitions = st.one_of(
    st.fixed_dictionaries({"scheme": _heads, "field": _fields(False)}),
    st.fixed_dictionaries({"scheme": _heads, "field": _fields(False)}),
    st.fixed_dictionaries({"scheme": _heads, "field": _fields(True)}),
    st.fixed_dictionaries({"scheme": st.one_of(_heads, _junk), "field": st.one_of(_fields(True), _junk)},
                          optional={"extra": _junk}))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_definitions, st.data())
def test_random_definitions_load_and_serve_or_get_a_definition_error(data, draw):
    try:
        scheme = scheme_from_dict(data, source="random.toml")
    except DefinitionError as exc:
        assert str(exc).startswith("random.toml")
        return
    parser = ScanParser({scheme.name: scheme}, Key(bytes(32)))
    product = {f.name: draw.draw(st.sampled_from(f.choices) if f.choices else
                                 st.text(st.sampled_from(f.alphabet), min_size=f.length, max_size=f.length))
               for f in scheme.product_fields}
    try:
        issuer = Issuer(scheme, product, Key(bytes(32)))
    except ValidationError:
        assume(False)  # a drawn date or GTIN that is not one
    start = draw.draw(st.integers(0, scheme.capacity - 3))
    for i, code in enumerate(issuer.codes(start, 3).tolist()):
        scan = parser.parse(code)
        assert (scan.scheme, scan.code, scan.counter) == (scheme.name, code.decode(), start + i)


def _gs1(field: int, **over):
    import tomllib
    d = tomllib.loads((schemes.BUILTIN_DIR / "gs1-sgtin.toml").read_text())
    d["field"][field].update(over)
    d["field"][field] = {k: v for k, v in d["field"][field].items() if v is not None}
    return d


@pytest.mark.parametrize("field,over,rule", [
    (3, {"max_length": 30}, r"\(10\) values have 1 to 20 characters"),
    (2, {"date": None}, r"\(17\) is a YYMMDD date"),
    (3, {"ai": "7003"}, "several parts"),
    (2, {"ai": "400", "date": None, "length": 6, "alphabet": "alnum", "example": None}, None),
    (2, {"ai": "11", "alphabet": "alnum", "date": None, "example": None}, r"\(11\) values are digits"),
])
def test_gs1_fields_follow_the_syntax_dictionary(field, over, rule):
    """What a GS1 scheme renders ((17) expiry, (10) lot) must be what the parser reads back."""
    if rule is None:
        assert scheme_from_dict(_gs1(field, **over)).is_gs1
        return
    with pytest.raises(DefinitionError, match=rule):
        scheme_from_dict(_gs1(field, **over), source="g.toml")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300),
                 st.text(st.sampled_from('[]{}",=:\n a1x"'), max_size=300).map(str.encode),
                 _definitions.map(lambda d: json.dumps(d, default=str).encode())),
       st.sampled_from([".toml", ".json"]))
def test_any_file_content_loads_or_is_a_definition_error(tmp_path, content, suffix):
    path = tmp_path / f"x{suffix}"
    path.write_bytes(content)
    try:
        load_scheme(path)
    except DefinitionError as exc:
        assert str(exc).startswith(str(path))
