"""The links of products (the resolver's targets): what a link key is, who may set a
product's links, and the work behind Service.links, Service.set_links and
Service.link_key_of.

A link key names one product, or one lot of a GS1 trade item, canonically: however it
was typed, a product has one key, so the resolver finds what `tracecode links` set.

    01/<GTIN-14>             a GS1 trade item: GTIN-8, -12 and -13 are padded to 14 digits,
                             the check digit is checked; the product of every GS1 scheme
                             whose product is a GTIN (gs1-sgtin), so `gs1-sgtin/<GTIN>`
                             is the same key
    01/<GTIN-14>/10/<lot>    one lot of it (AI 10: 1 to 20 characters of GS1 set 82, "/"
                             included: the rest of the key is the lot)
    <scheme>/<product>       a product of any other scheme: its product fields' values in
                             field order, joined without a separator (product fields are
                             fixed-width, so the split is unambiguous), e.g.
                             cn-drug-20/8177322 (drug_id), cn-vet-24/2015010100002 (date,
                             enterprise), cn-pesticide-32/10929271001 (class, number,
                             production type, spec)

>>> from tracecode import schemes
>>> known = schemes.builtin()
>>> parse_key("01/9506000134352", known).text
'01/09506000134352'
>>> parse_key("cn-pesticide-32/10929271001", known).product
{'reg_class': '1', 'reg_number': '092927', 'production_type': '1', 'spec': '001'}
>>> key_of(known["gs1-sgtin"], {"gtin": "09506000134352"}, lot="AB-1")
'01/09506000134352/10/AB-1'
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import checks
from .. import limits as bounds
from ..errors import TracecodeError, ValidationError
from .refusal import Refusal, denied, invalid, quote

GTIN_AI, LOT_AI = "01", "10"
GTIN_LENGTHS = (8, 12, 13, 14)
MAX_KEY_CHARS = 128     # the longest real key is a scheme name, a slash and its product fields
_GS1 = checks.get("gs1")
_LINK_N = re.compile(r"link (\d+)\b")   # how digitallink.links.validate names the link at fault


@dataclass(frozen=True)
class LinkKey:
    """A parsed link key: `text` canonical; `scheme` None for a GTIN key (any GS1 scheme
    whose product is a GTIN owns it); `product` the scheme's product fields."""
    text: str
    scheme: str | None
    product: dict = field(default_factory=dict, compare=False)
    gtin: str | None = None
    lot: str | None = None


def gtin_field(scheme) -> str | None:
    """The name of a scheme's product field if its product is exactly one GTIN (AI 01)."""
    fields = scheme.product_fields
    return fields[0].name if len(fields) == 1 and fields[0].ai == GTIN_AI else None


def key_of(scheme, product: dict, lot: str | None = None) -> str:
    """The link key of a scheme's product (validated values), with the lot for a GTIN."""
    name = gtin_field(scheme)
    if name is not None:
        key = f"{GTIN_AI}/{product[name]}"
        return f"{key}/{LOT_AI}/{lot}" if lot else key
    return scheme.name + "/" + "".join(str(product[f.name]) for f in scheme.product_fields)


def _gtin(text: str) -> str:
    if not (text.isascii() and text.isdigit()) or len(text) not in GTIN_LENGTHS:
        raise invalid("key", f"{quote(text)} is not a GTIN: 8, 12, 13 or 14 digits "
                             f"(\"01/<GTIN>\")")
    gtin = text.zfill(14)
    if not _GS1.is_valid(gtin):
        want = _GS1.calc(gtin[:-1])
        raise invalid("key", f"GTIN {text}: its check digit is {gtin[-1]}, it should be {want}")
    return gtin


def parse_key(text, schemes: dict) -> LinkKey:
    """The LinkKey a text names; Refusal invalid_argument (field "key") saying what is wrong,
    unknown_scheme for a scheme the data directory does not have."""
    if not isinstance(text, str) or not text.strip():
        raise invalid("key", "a link key is required: \"01/<GTIN>\", \"01/<GTIN>/10/<lot>\" "
                             "or \"<scheme>/<product fields>\"")
    text = text.strip()
    if len(text) > MAX_KEY_CHARS:
        raise invalid("key", f"{len(text):,} characters; a link key is at most {MAX_KEY_CHARS}")
    head, sep, rest = text.partition("/")
    if not sep or not rest:
        raise invalid("key", f"{quote(text)} is not a link key: \"01/<GTIN>\", "
                             "\"01/<GTIN>/10/<lot>\" or \"<scheme>/<product fields>\"")
    if head == GTIN_AI:
        return _gtin_key(rest)
    scheme = schemes.get(head)
    if scheme is None:
        raise Refusal("unknown_scheme", "key", f"unknown scheme {quote(head)} in link key "
                      f"{quote(text)}; known: {', '.join(sorted(schemes))} (or 01 for a GTIN)",
                      name=head)
    if gtin_field(scheme) is not None:   # one key per product: the GTIN's
        return _gtin_key(rest)
    fields = scheme.product_fields
    want = sum(f.length for f in fields)
    shape = " + ".join(f"{f.name} ({f.length})" for f in fields)
    if len(rest) != want:
        raise invalid("key", f"the product part of a {scheme.name} link key is {want} "
                             f"characters, {shape}; {quote(rest)} has {len(rest)}")
    values, at = {}, 0
    for f in fields:
        values[f.name], at = rest[at:at + f.length], at + f.length
    try:
        product = scheme.product_values(values)
    except ValidationError as exc:
        raise invalid("key", f"{scheme.name} link key {quote(text)}: {exc}") from None
    return LinkKey(key_of(scheme, product), scheme.name, product)


def _gtin_key(rest: str) -> LinkKey:
    parts = rest.split("/", 2)   # a lot may hold "/" (GS1 set 82): the key's tail is the lot
    gtin = _gtin(parts[0])
    if len(parts) == 1:
        return LinkKey(f"{GTIN_AI}/{gtin}", None, {"gtin": gtin}, gtin)
    if len(parts) != 3 or parts[1] != LOT_AI:
        raise invalid("key", f"after the GTIN a link key has only \"/10/<lot>\" (a lot); "
                             f"{quote('/'.join(parts[1:]))} is not that")
    try:
        lot = bounds.lot(parts[2], gs1=True, field="lot")
    except ValidationError as exc:
        raise invalid("key", f"link key lot: {exc}") from None
    if lot is None:
        raise invalid("key", "the lot after \"/10/\" is empty")
    return LinkKey(f"{GTIN_AI}/{gtin}/{LOT_AI}/{lot}", None, {"gtin": gtin}, gtin, lot)


def may_set(caller, key: LinkKey, schemes: dict) -> bool:
    """An admin, or an issuer owning the key's product (a GTIN key: owning that GTIN under
    a GS1 scheme whose product is a GTIN; a company-prefix rule, gtin=0952123*, does)."""
    if caller.admin:
        return True
    if key.gtin is None:
        return caller.owns(key.scheme, key.product)
    return any(caller.owns(s.name, {name: key.gtin}) for s in schemes.values()
               if (name := gtin_field(s)) is not None)


def require_setter(caller, key: LinkKey, schemes: dict) -> None:
    if not may_set(caller, key, schemes):
        raise denied(f"{caller.name} may not set the links of {key.text}: only an admin or "
                     "the issuer of that product may", client=caller.name, key=key.text)


def link_key_of(answer, schemes: dict, *, lot: bool = False) -> str | None:
    """The link key of the product a verified code belongs to (an Answer, or a registry
    check's answer through its index answer); with lot=True a GTIN's lot-level key when
    the code has a lot. None for a code of no known product."""
    if getattr(answer, "scheme", None) is None and getattr(answer, "index", None) is not None:
        answer = answer.index
    scheme = schemes.get(getattr(answer, "scheme", None) or "")
    product = getattr(answer, "product", None) or {}
    if scheme is None or any(f.name not in product for f in scheme.product_fields):
        return None
    code_lot = getattr(answer, "lot", None) if lot and gtin_field(scheme) else None
    return key_of(scheme, product, code_lot or None)


def link_objects(links, link_type) -> list:
    """Links given as Link objects or dicts, as Link objects (not yet validated); one that
    is no link is invalid_argument naming it (links[i])."""
    if not isinstance(links, (list, tuple)):
        raise invalid("links", f"must be a list of links, not {type(links).__name__}")
    items = []
    for i, item in enumerate(links):
        try:
            items.append(item if isinstance(item, link_type) else link_type.from_dict(item))
        except (TracecodeError, ValueError, TypeError) as exc:
            raise invalid(f"links[{i}]", f"link {i + 1}: {exc}") from None
    return items


def validated(links, validate) -> list:
    """validate(links), its refusal naming the link at fault (links[i]) when it names one."""
    try:
        return list(validate(links))
    except (TracecodeError, ValueError) as exc:
        at = _LINK_N.match(str(exc))
        raise invalid(f"links[{int(at.group(1)) - 1}]" if at else "links", str(exc)) from None
