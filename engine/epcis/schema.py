"""Validation of EPCIS documents against GS1's EPCIS 2.0 JSON schema (jsonschema, draft 7).

A valid document is said valid by the schema compiled to Python (fastjsonschema, with
jsonschema's own format checks): one pass, about 30 times faster than jsonschema's walk.
Anything it refuses is validated by jsonschema, whose problems (every one, with its JSON
pointer) are the answer; so the fast path only ever says yes, and only where jsonschema
would (tests/test_epcis_fast_schema.py checks it on GS1's examples and mutations of them).

GS1's schema is a GS1 artefact with no open-source licence, so tracecode does not ship it:
the operator gives its path (`schema_path=`, or the TRACECODE_EPCIS_SCHEMA environment
variable); by default the copy in the shared reference folder beside the repository
(`../shared/reference/epcis/schema/EPCIS-JSON-Schema.json`, beside the checkout this package
is in, else beside the working directory) is used when present. Without one, validate()
raises EpcisError saying how to configure it.
"""
from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path

from .errors import EpcisError, Problem, pointer

ENV = "TRACECODE_EPCIS_SCHEMA"
SCHEMA_NAME = "EPCIS-JSON-Schema.json"
IN_SHARED = Path("shared", "reference", "epcis", "schema", SCHEMA_NAME)
# beside the checkout this module is in (an editable install), else beside the working
# directory's checkout (an installed copy run from the repository, as CI runs the tests)
DEFAULT_SCHEMA = Path(__file__).resolve().parents[3] / IN_SHARED
MAX_PROBLEMS = 200              # a document of 10,000 bad events still answers in one screenful per event
_validators: dict = {}
_fast: dict = {}                # the same schemas compiled by fastjsonschema (None: not available)
_lock = threading.Lock()


def schema_path(path=None) -> Path:
    """The schema file to use: the one given, else $TRACECODE_EPCIS_SCHEMA, else the shared
    reference copy; EpcisError when none is there."""
    chosen = path or os.environ.get(ENV) or None
    p = Path(chosen) if chosen else DEFAULT_SCHEMA
    if not chosen and not p.is_file() and (Path.cwd().parent / IN_SHARED).is_file():
        p = Path.cwd().parent / IN_SHARED
    if not p.is_file():
        how = (f"the file {p} does not exist" if chosen else
               f"no schema path was given and the default {p} is not there")
        raise EpcisError(f"GS1's EPCIS 2.0 JSON schema is needed to validate ({how}): download "
                         f"{SCHEMA_NAME} from GS1 (github.com/gs1/EPCIS) and give its path "
                         f"(schema_path=..., or the {ENV} environment variable)")
    return p


def validator(path=None):
    """The compiled validator of a schema file (compiled once per path and change time)."""
    import jsonschema

    p = schema_path(path)
    key = (str(p), p.stat().st_mtime_ns)
    with _lock:
        v = _validators.get(key)
        if v is None:
            try:
                schema = json.loads(p.read_text(encoding="utf-8"))
                cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
                cls.check_schema(schema)
            except (OSError, ValueError, jsonschema.SchemaError) as exc:
                raise EpcisError(f"{p} is not a JSON schema: {str(exc)[:200]}") from None
            v = cls(schema, format_checker=cls.FORMAT_CHECKER)
            _validators[key] = v
    return v


def _format_checks(v) -> dict:
    """fastjsonschema's format functions as jsonschema checks them: the formats jsonschema
    knows (date-time by rfc3339-validator) by its own checker, the others (uri, without
    rfc3987) accepted, as jsonschema accepts them; so the fast path never accepts what
    jsonschema refuses (fastjsonschema's own regexes take "+0800" and 2026-02-30)."""
    checker = v.format_checker
    names = set(checker.checkers) | {"uri", "uri-reference", "iri", "iri-reference"}
    return {name: (lambda x, f=name: checker.conforms(x, f)) if name in checker.checkers else (lambda x: True)
            for name in names}


def fast_validator(path=None):
    """The schema compiled to Python by fastjsonschema (once per path and change time), or
    None when it cannot be had: a fast yes. It stops at the first fault and its messages
    name no JSON pointer, so a document it refuses is validated again by jsonschema, whose
    answer (every problem, with its pointer) is the one given."""
    v = validator(path)
    p = schema_path(path)
    key = (str(p), p.stat().st_mtime_ns)
    with _lock:
        if key not in _fast:
            try:
                import fastjsonschema
                # a copy: fastjsonschema changes the schema it compiles (jsonschema's, else)
                _fast[key] = fastjsonschema.compile(copy.deepcopy(v.schema), formats=_format_checks(v))
                _safe_cut[_fast[key]] = _lists_cut_safely(v.schema)
            except Exception:  # noqa: BLE001 - not installed, or a schema it cannot compile: jsonschema alone
                _fast[key] = None
    return _fast[key]


# EPC lists: what GS1's schema asks of them (epcList, childEPCs, input/outputEPCList) is an
# array of unique text (format uri, which jsonschema does not check), at least one item where
# it is required. A list of distinct texts therefore validates as its first item alone does:
# the fast check reads a document whose long lists are cut to one item (100,000 EPCs: one
# pass of set() instead of 100,000 calls), once _lists_cut_safely has found the schema so.
EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_SAFE_ITEMS = ({"$ref": "#/definitions/uri"}, {"$ref": "#/definitions/id"}, {"type": "string"})
_TEXT_URI = {"type": "string", "format": "uri"}
_safe_cut: dict = {}


def _safe_list_schema(sub) -> bool:
    if sub == {"$ref": "#/definitions/epcList"}:
        return True
    return (isinstance(sub, dict) and set(sub) <= {"type", "items", "uniqueItems", "minItems"}
            and sub.get("type") == "array" and sub.get("items") in _SAFE_ITEMS
            and sub.get("minItems", 0) in (0, 1) and sub.get("uniqueItems", False) in (True, False))


def _lists_cut_safely(schema: dict) -> bool:
    """True when every constraint GS1's schema puts on the EPC lists is one _safe_list_schema
    knows (an array of text, unique, minItems 0 or 1) and nothing else can see their items
    (no patternProperties, no schema-valued additionalProperties)."""
    defs = schema.get("definitions", {})
    if not (defs.get("uri") == _TEXT_URI and defs.get("id") == _TEXT_URI
            and _safe_list_schema(defs.get("epcList"))):
        return False
    stack = [schema]
    while stack:
        x = stack.pop()
        if isinstance(x, list):
            stack.extend(x)
        elif isinstance(x, dict):
            if "patternProperties" in x or isinstance(x.get("additionalProperties"), dict):
                return False
            props = x.get("properties")
            if isinstance(props, dict):
                if any(name in props and not _safe_list_schema(props[name]) for name in EPC_LISTS):
                    return False
            stack.extend(x.values())
    return True


def _cut_lists(document):
    """The document with each event's long list of distinct texts cut to its first item (the
    events are shallow copies; the document is not changed)."""
    body = document.get("epcisBody") if isinstance(document, dict) else None
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(events, list):
        return document
    out, cut = [], False
    for ev in events:
        if isinstance(ev, dict):
            copied = None
            for name in EPC_LISTS:
                v = ev.get(name)
                if type(v) is list and len(v) > 1 and set(map(type, v)) == {str} and len(set(v)) == len(v):
                    copied = copied if copied is not None else dict(ev)
                    copied[name] = v[:1]
            if copied is not None:
                ev, cut = copied, True
        out.append(ev)
    return {**document, "epcisBody": {**body, "eventList": out}} if cut else document


def _fast_yes(document, path) -> bool:
    check = fast_validator(path)
    if check is None:
        return False
    try:
        if _safe_cut.get(check):
            document = _cut_lists(document)
        check(document)
    except Exception:  # noqa: BLE001 - JsonSchemaException, or anything it trips on: jsonschema decides
        return False
    return True


def _deepest(error):
    """The most telling error under an anyOf/oneOf: GS1's schema says "Event" is one of five
    types, and "is not valid under any of the given schemas" names nothing."""
    import jsonschema

    while error.context:
        best = jsonschema.exceptions.best_match(error.context)
        if best is None or best is error:
            break
        error = best
    return error


def _message(error) -> str:
    msg = error.message
    return msg if len(msg) <= 300 else msg[:297] + "..."


def validate(document: dict, schema_path=None) -> list[Problem]:
    """Every way a parsed document breaks GS1's schema, each with its JSON pointer (sorted
    by pointer, one problem per place, at most MAX_PROBLEMS); [] when it is valid."""
    if _fast_yes(document, schema_path):
        return []
    return jsonschema_problems(document, schema_path)


def jsonschema_problems(document: dict, schema_path=None) -> list[Problem]:
    """validate() by jsonschema alone: what the fast path is checked against."""
    v = validator(schema_path)
    seen, out = set(), []
    for error in v.iter_errors(document):
        e = _deepest(error)
        where = pointer(*e.absolute_path)
        if where in seen:
            continue
        seen.add(where)
        out.append(Problem(where, _message(e)))
        if len(out) >= MAX_PROBLEMS:
            break
    return sorted(out, key=lambda p: p.pointer)


def validate_event(event, context=None, schema_path=None, at: str = "/epcisBody/eventList/0") -> list[Problem]:
    """The schema's problems of one event (wrapped in a minimal document), pointers under `at`."""
    doc = {"@context": context if context is not None else [GS1_CONTEXT_URL], "type": "EPCISDocument",
           "schemaVersion": "2.0", "creationDate": "2000-01-01T00:00:00Z", "epcisBody": {"eventList": [event]}}
    base = "/epcisBody/eventList/0"
    return [Problem(at + p.pointer[len(base):], p.message) if p.pointer.startswith(base) else p
            for p in validate(doc, schema_path)]


GS1_CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
