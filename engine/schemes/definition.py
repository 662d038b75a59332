"""Reading scheme definitions (TOML or JSON) and checking them completely.

A scheme that loads is one the engine can serve: every key has its type, the
serial is an FF1 domain this implementation handles (the same check FF1
makes), every code character is one the scan parser reads back (no separator
it strips, no character that picks another form), and the code fits the
parser's tables. A definition that breaks a rule is refused with a
DefinitionError naming the file, the field and the rule; ``load_dir`` keeps
the good schemes of a folder and lists the bad ones.
"""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from .. import checks
from ..errors import DefinitionError, DomainError
from ..fpe.ff1 import check_domain
from . import gs1_ai
from .scheme import ALPHABETS, ASSIGNED, DATE_FORMATS, MAX_CODE_LENGTH, MAX_FIELDS, ROLES, Field, Scheme

MAX_FILE_BYTES = 64 * 1024   # a definition is a few hundred bytes; more is not one
MAX_SCHEMES = 64             # the scan parser's table holds this many, built-ins included
MAX_TEXT = 2000              # characters of a title, description or example
MAX_CHOICES = 1000
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_TOP_KEYS = {"scheme", "field"}
_HEAD_KEYS = {"name", "title", "description", "dl_base", "category", "assigned"}
_FIELD_TYPES = {"name": str, "role": str, "length": int, "max_length": int, "alphabet": str,
                "choices": list, "date": str, "check": str, "system": str, "over": str,
                "ai": str, "description": str, "example": str, "region": str}
_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list"}
# A bare code is read after the parser strips spaces and '-'; ',' ';' make a QR
# payload of fields, '(' the human-readable GS1 form, ']' a symbology
# identifier and ':' a URL: a code holding any of them never reads back.
_NOT_IN_CODES = frozenset(" -,;()]:")


class DefinitionWarning(UserWarning):
    """A scheme file was refused; the other schemes are in use."""


def _where(source, field=None) -> str:
    where = source or "scheme definition"
    return f"{where} field {field!r}" if field is not None else where


def _typed(raw: dict, key: str, types, where: str):
    """raw[key] if it has the definition schema's type (None when absent)."""
    value = raw.get(key)
    if value is None:
        return None
    want = types[key]
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        raise DefinitionError(f"{where}: {key} must be {_TYPE_NAMES[want]}, "
                              f"got {type(value).__name__}")
    if want is str and len(value) > MAX_TEXT:
        raise DefinitionError(f"{where}: {key} is longer than {MAX_TEXT} characters")
    return value


def _check_alphabet(alphabet: str, role: str, ai, where: str) -> None:
    if len(alphabet) < 2 or len(set(alphabet)) != len(alphabet):
        raise DefinitionError(f"{where}: alphabet must be a name ({', '.join(ALPHABETS)}) or at "
                              f"least 2 distinct characters")
    bad = [ch for ch in alphabet if not ("!" <= ch <= "~")]
    if bad:
        raise DefinitionError(f"{where}: alphabet holds {bad[0]!r}: only printable ASCII characters "
                              f"other than space are allowed (no control characters, NUL or GS)")
    if role != "attribute":
        bad = sorted(set(alphabet) & _NOT_IN_CODES)
        if bad:
            raise DefinitionError(
                f"{where}: alphabet holds {bad[0]!r}, which the scan parser strips or reads as a "
                f"separator; code characters exclude {' '.join(sorted(_NOT_IN_CODES - {' '}))} "
                f"and space")
    if ai is not None:
        bad = sorted(set(alphabet) - set(ALPHABETS["gs1"]))
        if bad:
            raise DefinitionError(f"{where}: alphabet holds {bad[0]!r}, outside GS1's character "
                                  f"set 82 that (AI) values are written in")


def _field_from(raw, source, index: int) -> Field:
    if not isinstance(raw, dict):
        raise DefinitionError(f"{_where(source)}: [[field]] number {index + 1} must be a table")
    where = _where(source)
    unknown = sorted(map(str, set(raw) - set(_FIELD_TYPES)))
    if unknown:
        raise DefinitionError(f"{where}: [[field]] number {index + 1}: unknown key {unknown[0]!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DefinitionError(f"{where}: [[field]] number {index + 1}: name must be lower-case "
                              f"letters, digits, '_' or '-' (at most 63, starting with a letter)")
    where = _where(source, name)
    typed = {key: _typed(raw, key, _FIELD_TYPES, where) for key in _FIELD_TYPES}
    role = typed["role"]
    if role not in ROLES:
        raise DefinitionError(f"{where}: role must be one of {', '.join(ROLES)}, got {role!r}")
    length, max_length = typed["length"], typed["max_length"]
    for key, val in (("length", length), ("max_length", max_length)):
        if val is not None and not 1 <= val <= 64:
            raise DefinitionError(f"{where}: {key} must be an integer from 1 to 64")
    if length is None and (role != "attribute" or max_length is None):
        raise DefinitionError(f"{where}: needs a length (only attributes may give max_length instead)")
    if max_length is not None and (role != "attribute" or length is not None):
        raise DefinitionError(f"{where}: max_length is for attributes of variable length, "
                              f"without a length")
    system, over, ai = typed["system"], typed["over"], typed["ai"]
    if ai is not None and ai not in gs1_ai.TABLE:  # the parser would refuse what it renders
        raise DefinitionError(f"{where}: ai {ai!r} is not a GS1 Application Identifier GS1 has "
                              f"assigned (see the GS1 Barcode Syntax Dictionary)")
    alphabet = typed["alphabet"]
    if role == "check":
        if system not in checks.SYSTEMS:
            raise DefinitionError(f"{where}: system must be one of {', '.join(checks.SYSTEMS)}")
        sysobj = checks.get(system)
        if length != sysobj.check_len:
            raise DefinitionError(f"{where}: {system} gives {sysobj.check_len} character(s), "
                                  f"length says {length}")
        if alphabet is not None:
            raise DefinitionError(f"{where}: a check field takes its alphabet from its system")
        if over is not None and over not in ("code", "serial"):
            raise DefinitionError(f"{where}: over must be 'code' or 'serial'")
        alphabet = sysobj.check_alphabet
    else:
        for key in ("system", "over"):
            if typed[key] is not None:
                raise DefinitionError(f"{where}: only check fields take {key!r}")
        alphabet = ALPHABETS.get(alphabet, alphabet) if alphabet is not None else ALPHABETS["digits"]
    _check_alphabet(alphabet, role, ai, where)
    date, check = typed["date"], typed["check"]
    region = typed["region"]
    if region is not None and (region != "province" or role != "product" or length is None
                               or length < 2 or alphabet != ALPHABETS["digits"]):
        raise DefinitionError(f"{where}: region = \"province\" is for a product field of digits "
                              f"whose first 2 name a GB/T 2260 province")
    if role in ("serial", "check"):
        for key in ("date", "check", "choices"):
            if typed[key] is not None:
                raise DefinitionError(f"{where}: a {role} field takes no {key!r}")
    if date is not None:
        if date not in DATE_FORMATS or length != len(date):
            raise DefinitionError(f"{where}: date must be one of {', '.join(DATE_FORMATS)} "
                                  f"with a matching length")
        if alphabet != ALPHABETS["digits"]:
            raise DefinitionError(f"{where}: a date field's alphabet is digits")
    if check is not None:
        if check not in checks.SYSTEMS:
            raise DefinitionError(f"{where}: check must be one of {', '.join(checks.SYSTEMS)}")
        sysobj = checks.get(check)
        if set(alphabet) - set(sysobj.alphabet) - set(sysobj.check_alphabet) \
                or (length or max_length) <= sysobj.check_len:
            raise DefinitionError(f"{where}: the {check} check character cannot be computed over "
                                  f"this field's alphabet and length")
    choices = typed["choices"]
    if choices is not None:
        choices = _choices(choices, length, max_length, alphabet, where)
    return Field(name=name, role=role, length=length, max_length=max_length, alphabet=alphabet,
                 choices=choices, date=date, check=check, system=system,
                 over=over or "code", ai=ai, description=typed["description"] or "", region=region,
                 example=typed["example"])


def _choices(choices: list, length, max_length, alphabet: str, where: str) -> tuple:
    if not choices or len(choices) > MAX_CHOICES:
        raise DefinitionError(f"{where}: choices must list 1 to {MAX_CHOICES} values")
    for c in choices:
        if not isinstance(c, str):
            raise DefinitionError(f"{where}: choices must be strings, got {type(c).__name__}")
        if (length is not None and len(c) != length) or not 1 <= len(c) <= (length or max_length) \
                or set(c) - set(alphabet):
            raise DefinitionError(f"{where}: choice {c[:40]!r} is not a value of the field's "
                                  f"length and alphabet")
    if len(set(choices)) != len(choices):
        raise DefinitionError(f"{where}: choices are listed twice")
    return tuple(choices)


def scheme_from_dict(data, source: str | None = None) -> Scheme:
    """Build and check a Scheme from a parsed definition (DefinitionError if it breaks a rule)."""
    where = _where(source)
    if not isinstance(data, dict):
        raise DefinitionError(f"{where}: a definition is a table/object")
    unknown = sorted(map(str, set(data) - _TOP_KEYS))
    if unknown:
        raise DefinitionError(f"{where}: unknown table {unknown[0]!r}; a definition has "
                              f"[scheme] and [[field]]")
    head = data.get("scheme")
    if not isinstance(head, dict):
        raise DefinitionError(f"{where}: missing [scheme] table")
    unknown = sorted(map(str, set(head) - _HEAD_KEYS))
    if unknown:
        raise DefinitionError(f"{where}: [scheme] has an unknown key {unknown[0]!r}")
    name = head.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DefinitionError(f"{where}: scheme name must be lower-case letters, digits, '_' or '-'")
    head_types = {"title": str, "description": str, "dl_base": str, "category": str, "assigned": str}
    title, description, dl_base, category, assigned = (_typed(head, k, head_types, f"{where}: [scheme]")
                                                       for k in head_types)
    if assigned is not None and assigned not in ASSIGNED:
        raise DefinitionError(f"{where}: [scheme] assigned must be one of {', '.join(ASSIGNED)}")
    if category is not None:
        from .. import categories  # a module per category, discovered: see tracecode.categories
        if category not in categories.ALL:
            raise DefinitionError(f"{where}: [scheme] category {category!r} is not one of "
                                  f"{', '.join(sorted(categories.ALL))} (a category is a module "
                                  f"of tracecode.categories)")
    if dl_base is not None and not re.fullmatch(r"https?://[!-~]{1,200}", dl_base):
        raise DefinitionError(f"{where}: [scheme] dl_base must be an http(s):// URL without spaces")
    raw_fields = data.get("field")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise DefinitionError(f"{where}: needs at least one [[field]]")
    if len(raw_fields) > MAX_FIELDS:
        raise DefinitionError(f"{where}: at most {MAX_FIELDS} fields (the scan parser's limit)")
    fields = tuple(_field_from(f, source, i) for i, f in enumerate(raw_fields))
    by_name = {}
    for f in fields:
        if f.name in by_name:
            raise DefinitionError(f"{where}: field {f.name!r} is defined twice")
        by_name[f.name] = f
    _check_layout(fields, where, external=assigned == "external")
    scheme = Scheme(name=name, title=title or name, fields=fields, description=description or "",
                    dl_base=(dl_base or "https://id.gs1.org").rstrip("/"),
                    source=source, category=category, assigned=assigned or "issued", _by_name=by_name)
    for f in fields:
        if f.example is not None:
            try:
                f.normalise(f.example)
            except ValueError as exc:
                raise DefinitionError(f"{_where(source, f.name)}: example is invalid: {exc}") from None
    return scheme


def _check_layout(fields, where: str, external: bool = False) -> None:
    """The rules between fields: one serial FF1 can serve (an external scheme's serial is
    the assigner's, plain: any length), the check last, GS1's shape."""
    serials = [f for f in fields if f.role == "serial"]
    if len(serials) != 1:
        raise DefinitionError(f"{where}: needs exactly one serial field, has {len(serials)}")
    ser = serials[0]
    try:
        if not external:
            check_domain(len(ser.alphabet), ser.length)
    except DomainError as exc:
        raise DefinitionError(f"{where} field {ser.name!r}: length and alphabet: {exc} "
                              f"(NIST SP 800-38G FF1)") from None
    code_fields = [f for f in fields if f.role != "attribute"]
    if sum(f.length for f in code_fields) > MAX_CODE_LENGTH:
        raise DefinitionError(f"{where}: at most {MAX_CODE_LENGTH} code characters "
                              f"(the scan parser's limit)")
    checks_ = [f for f in fields if f.role == "check"]
    if len(checks_) > 1:
        raise DefinitionError(f"{where}: at most one check field")
    if checks_:
        chk = checks_[0]
        if code_fields[-1] is not chk:
            raise DefinitionError(f"{where}: the check field must be the last code field")
        covered = code_fields[:-1] if chk.over == "code" else [ser]
        system = checks.get(chk.system)
        for f in covered:
            if set(f.alphabet) - set(system.alphabet):
                raise DefinitionError(
                    f"{where}: field {f.name!r} uses characters the {chk.system} system cannot check")
        if chk.over == "serial" and code_fields[-2] is not ser:
            raise DefinitionError(f"{where}: over = 'serial' needs the check right after the serial")
    ais = [f for f in fields if f.ai]
    if ais:
        if len(ais) != len(fields):
            raise DefinitionError(f"{where}: in a GS1 scheme every field needs an ai")
        if len({f.ai for f in fields}) != len(fields):
            raise DefinitionError(f"{where}: an ai is given to two fields")
        if checks_:  # AI 21 defines no check character; the GTIN carries its own
            raise DefinitionError(f"{where}: a GS1 scheme has no per-code check field")
        by_ai = {f.ai: f for f in fields}
        gtin = by_ai.get("01")
        if gtin is None or gtin.role != "product" or gtin.length != 14 or gtin.check != "gs1" \
                or gtin.alphabet != ALPHABETS["digits"] or ser.ai != "21" or ser.length > 20 \
                or any(f.role == "product" and f.ai != "01" for f in fields):
            raise DefinitionError(f"{where}: a GS1 scheme is (01) GTIN-14 (digits, check = \"gs1\") "
                                  f"+ (21) serial of at most 20 characters, with attributes for "
                                  f"other AIs")
        for f in fields:
            _check_ai(f, where)


def _check_ai(f: Field, where: str) -> None:
    """A field's value is what GS1's syntax dictionary allows for its AI, so the element
    string, HRI and Digital Link renderings read back."""
    where = f"{where} field {f.name!r}"
    spec = gs1_ai.TABLE.get(f.ai)
    if spec is None:
        raise DefinitionError(f"{where}: ai ({f.ai}) is not in GS1's syntax dictionary")
    if len(spec.components) != 1 or spec.components[0].kind not in "NX":
        raise DefinitionError(f"{where}: ai ({f.ai}) has a value of several parts or of "
                              f"character set 39/64; only single N or X values are supported")
    comp = spec.components[0]
    lo, hi = (f.length, f.length) if f.length is not None else (1, f.max_length)
    if lo < comp.min or hi > comp.max:
        raise DefinitionError(f"{where}: ({f.ai}) values have {comp.min} to {comp.max} "
                              f"characters; the field allows {lo} to {hi}")
    if comp.kind == "N" and set(f.alphabet) - set(ALPHABETS["digits"]):
        raise DefinitionError(f"{where}: ({f.ai}) values are digits; the alphabet is not")
    if comp.date is not None and f.date != "YYMMDD":
        raise DefinitionError(f"{where}: ({f.ai}) is a YYMMDD date; the field needs "
                              f'date = "YYMMDD"')


def load_scheme(path: str | Path) -> Scheme:
    """Read a scheme definition from a .toml or .json file (DefinitionError naming the file)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            text = f.read(MAX_FILE_BYTES + 1)
        if len(text) > MAX_FILE_BYTES:
            raise DefinitionError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KB; "
                                  f"not a scheme definition")
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            data = tomllib.loads(text.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # TOMLDecodeError is a ValueError
        raise DefinitionError(f"{path}: {' '.join(str(exc).split())[:300]}") from None
    except RecursionError:  # a hostile file of nested brackets
        raise DefinitionError(f"{path}: nested too deeply; not a scheme definition") from None
    return scheme_from_dict(data, source=str(path))


def load_dir(directory: str | Path, base: dict[str, Scheme] | None = None,
             errors: list | None = None) -> dict[str, Scheme]:
    """Schemes from every .toml/.json file in a folder, added to `base` (names must be new).

    Without `errors` the first bad file raises its DefinitionError; with a list, each
    bad file's error is appended to it and the other schemes are loaded."""
    out = dict(base or {})
    try:
        paths = sorted(p for p in Path(directory).iterdir() if p.suffix in (".toml", ".json"))
    except OSError as exc:
        paths = []
        _refuse(DefinitionError(f"{directory}: cannot list scheme definitions: {exc.strerror}"),
                errors)
    for path in paths:
        try:
            scheme = load_scheme(path)
            if scheme.name in out:
                raise DefinitionError(f"{path}: scheme {scheme.name!r} is already defined"
                                      f" by {out[scheme.name].source}")
            if len(out) >= MAX_SCHEMES:
                raise DefinitionError(f"{path}: at most {MAX_SCHEMES} schemes, built-ins "
                                      f"included (the scan parser's limit)")
        except DefinitionError as exc:
            _refuse(exc, errors)
            continue
        out[scheme.name] = scheme
    return out


def _refuse(exc: DefinitionError, errors) -> None:
    if errors is None:
        raise exc
    errors.append(exc)
