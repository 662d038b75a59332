"""EPC URIs to tracecode codes and back.

Read (to_code): the EPC pure identity URIs of GS1's Tag Data Standard
(urn:epc:id:sgtin / sscc / sgln / grai / giai), the class-level ones (urn:epc:class:lgtin,
urn:epc:idpat:sgtin:...*), GS1 Digital Link URIs on any domain, and national codes.

National codes have one URI form, the platform's resolver address of the code:
``https://BASE/c/{code}`` (BASE the data directory's base URL, `tracecode settings DIR
--base-url`; the code percent-encoded as a path segment). EPCIS 2.0 allows any HTTP URI as
an EPC, and this one resolves to the code's public page. It is read on any domain (another
platform's base URL, a path prefix) when the path ends in /c/{code} and is not a Digital Link.

What to_code gives is what tracecode's scan parser reads: a national code as it is printed,
a GS1 element string in the human-readable form "(01)...(21)...", an SSCC as "(00)" and 18
digits.

>>> to_code("urn:epc:id:sgtin:0614141.107346.2017")
'(01)10614141073464(21)2017'
>>> to_code("https://id.gs1.org/00/106141412345678908")
'(00)106141412345678908'
>>> to_code("https://trace.example.gov.cn/c/81773220000000000001")
'81773220000000000001'
>>> to_epc("81773220000000000001", base_url="https://trace.example.gov.cn")
'https://trace.example.gov.cn/c/81773220000000000001'
>>> to_epc("(01)10614141073464(21)2017")
'https://id.gs1.org/01/10614141073464/21/2017'
"""
from __future__ import annotations

import functools
import re
from itertools import repeat
from urllib.parse import quote, unquote

from .. import digitallink
from ..digitallink import DigitalLinkError
from ..digitallink.syntax import AI_TABLE, SHORT_NAMES
from .errors import EpcisError, pointer as _ptr

GS1_DOMAIN = "https://id.gs1.org"    # GS1 keys become Digital Links here: every party reads them
MAX_EPC = 4096
MAX_CODE = 128
_AI_OPEN = re.compile(r"\(([0-9]{2,4})\)")
_NATIONAL = re.compile(r"^[!-~]+$")     # printable ASCII, no space: as tracecode's code alphabets
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*([^?#]*)(\?[^#]*)?(#.*)?$")


def _mod10(digits: str) -> str:
    """The GS1 check digit of digits (without it)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str(-total % 10)


def _parts(rest: str, n: int, epc: str, pointer: str) -> list[str]:
    parts = rest.split(".", n - 1)     # the last part (a serial) may hold dots
    if len(parts) != n:
        raise EpcisError(f"{epc[:80]!r} needs {n} dot-separated parts after the scheme", pointer=pointer)
    return parts


def _digits(value: str, what: str, epc: str, pointer: str) -> str:
    if not (value.isascii() and value.isdigit()):
        raise EpcisError(f"{epc[:80]!r}: the {what} must be digits, got {value[:30]!r}", pointer=pointer)
    return value


def _serial(value: str, what: str, epc: str, pointer: str) -> str:
    """A serial or asset reference: percent-escapes decoded (TDS escapes " % & / < > ?)."""
    try:
        out = unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise EpcisError(f"{epc[:80]!r}: the {what} has escapes that are not UTF-8", pointer=pointer) from None
    if not out or len(out) > 30 or not _NATIONAL.match(out):
        raise EpcisError(f"{epc[:80]!r}: the {what} must be 1 to 30 printable characters, got {out[:40]!r}",
                         pointer=pointer)
    return out


def _key(cp: str, ref: str, total: int, what: str, epc: str, pointer: str) -> str:
    _digits(cp, "company prefix", epc, pointer)
    _digits(ref, what, epc, pointer)
    if not 6 <= len(cp) <= 12 or len(cp) + len(ref) != total:
        raise EpcisError(f"{epc[:80]!r}: company prefix ({len(cp)} digits, 6 to 12) and {what} "
                         f"({len(ref)}) must have {total} digits together", pointer=pointer)
    return cp + ref


def _checked(pairs, epc: str, pointer: str) -> str:
    """The element string of (AI, value) pairs, checked as a Digital Link would be."""
    try:
        dl = digitallink.from_ais(pairs)
    except DigitalLinkError as exc:
        raise EpcisError(f"{epc[:80]!r}: {exc}", pointer=pointer) from None
    return _element_string(dl)


def _element_string(dl) -> str:
    # identity only: the key and its qualifiers; data attributes (?17=...) are not the EPC
    return "".join(f"({ai}){value}" for ai, value in (dl.primary, *dl.qualifiers))


def _urn(epc: str, pointer: str) -> str:
    head, _, rest = epc.partition(":epc:")
    kind, _, body = rest.partition(":")
    scheme, _, value = body.partition(":")
    if not value:
        raise EpcisError(f"{epc[:80]!r} is not an EPC URI (urn:epc:id:sgtin:..., urn:epc:class:lgtin:...)",
                         pointer=pointer)
    if kind == "id" and scheme == "sgtin":
        cp, item, serial = _parts(value, 3, epc, pointer)
        _key(cp, item, 13, "indicator and item reference", epc, pointer)
        gtin = item[:1] + cp + item[1:]     # the indicator digit leads the GTIN-14
        return _checked([("01", gtin + _mod10(gtin)), ("21", _serial(serial, "serial", epc, pointer))],
                        epc, pointer)
    if kind == "id" and scheme == "sscc":
        cp, ref = _parts(value, 2, epc, pointer)
        _key(cp, ref, 17, "extension and serial reference", epc, pointer)
        body17 = ref[:1] + cp + ref[1:]
        return _checked([("00", body17 + _mod10(body17))], epc, pointer)
    if kind == "id" and scheme == "sgln":
        cp, loc, ext = _parts(value, 3, epc, pointer)
        _key(cp, loc, 12, "location reference", epc, pointer)
        gln = cp + loc + _mod10(cp + loc)
        pairs = [("414", gln)]
        if ext != "0":
            pairs.append(("254", _serial(ext, "extension", epc, pointer)))
        return _checked(pairs, epc, pointer)
    if kind == "id" and scheme == "grai":
        cp, asset, serial = _parts(value, 3, epc, pointer)
        _key(cp, asset, 12, "asset type", epc, pointer)
        grai = "0" + cp + asset + _mod10("0" + cp + asset)
        if serial:
            grai += _serial(serial, "serial", epc, pointer)
        return _checked([("8003", grai)], epc, pointer)
    if kind == "id" and scheme == "giai":
        cp, ref = _parts(value, 2, epc, pointer)
        _digits(cp, "company prefix", epc, pointer)
        return _checked([("8004", cp + _serial(ref, "asset reference", epc, pointer))], epc, pointer)
    if kind == "id" and scheme in ("gsrn", "gsrnp"):
        cp, ref = _parts(value, 2, epc, pointer)
        _key(cp, ref, 17, "service reference", epc, pointer)
        return _checked([("8018" if scheme == "gsrn" else "8017", cp + ref + _mod10(cp + ref))], epc, pointer)
    if kind == "id" and scheme in ("gdti", "sgcn"):
        cp, doc, serial = _parts(value, 3, epc, pointer)
        _key(cp, doc, 12, "document type" if scheme == "gdti" else "coupon reference", epc, pointer)
        key = cp + doc + _mod10(cp + doc)
        if scheme == "gdti":
            return _checked([("253", key + (_serial(serial, "serial", epc, pointer) if serial else ""))], epc, pointer)
        _digits(serial, "serial", epc, pointer)
        return _checked([("255", key + serial)], epc, pointer)
    if (kind == "class" and scheme == "lgtin") or (kind == "idpat" and scheme == "sgtin"):
        cp, item, last = _parts(value, 3, epc, pointer)
        _key(cp, item, 13, "indicator and item reference", epc, pointer)
        gtin = item[:1] + cp + item[1:]
        pairs = [("01", gtin + _mod10(gtin))]
        if kind == "class":
            pairs.append(("10", _serial(last, "lot", epc, pointer)))
        elif last != "*":
            raise EpcisError(f"{epc[:80]!r}: an SGTIN pattern ends in .* (every serial of the GTIN)",
                             pointer=pointer)
        return _checked(pairs, epc, pointer)
    raise EpcisError(f"{epc[:80]!r}: urn:epc:{kind}:{scheme} is not an EPC scheme tracecode reads "
                     "(sgtin, sscc, sgln, grai, giai, gsrn, gsrnp, gdti, sgcn, class:lgtin, idpat:sgtin, "
                     "or a Digital Link)",
                     pointer=pointer)


# The common spellings of the two EPCs bulk events are made of (SGTINs and SSCCs, as URNs
# or canonical Digital Links), read without the general parser: a document of 10,000 events
# of 24 EPCs is 240,000 of them. Only plain serials (unreserved URI characters, a subset of
# GS1's set 82) take this path; anything else, and every fault, goes the general way, so the
# answers are the same (tests/test_epcis_epc.py checks it by hypothesis).
_PLAIN = r"[0-9A-Za-z._-]{1,20}"
_FAST_SGTIN = re.compile(rf"urn:epc:id:sgtin:(\d{{6,12}})\.(\d{{1,7}})\.({_PLAIN})\Z", re.ASCII)
_FAST_SSCC = re.compile(r"urn:epc:id:sscc:(\d{6,12})\.(\d{5,11})\Z", re.ASCII)
_FAST_DL = re.compile(rf"https?://[^/?#]+(?:/[^?#]*)?/01/(\d{{14}})/21/({_PLAIN})\Z", re.ASCII)
_FAST_DL_SSCC = re.compile(r"https?://[^/?#]+(?:/[^?#]*)?/00/(\d{18})\Z", re.ASCII)


@functools.lru_cache(maxsize=4096)
def _with_check(body: str) -> str:
    return body + _mod10(body)


def _fast(text: str) -> str | None:
    if text.startswith("urn:epc:id:sgtin:"):
        m = _FAST_SGTIN.match(text)
        if m and len(m.group(1)) + len(m.group(2)) == 13:
            cp, item = m.group(1), m.group(2)
            return f"(01){_with_check(item[:1] + cp + item[1:])}(21){m.group(3)}"
    elif text.startswith("urn:epc:id:sscc:"):
        m = _FAST_SSCC.match(text)
        if m and len(m.group(1)) + len(m.group(2)) == 17:
            cp, ref = m.group(1), m.group(2)
            return f"(00){_with_check(ref[:1] + cp + ref[1:])}"
    elif text.startswith(("https://", "http://")):
        m = _FAST_DL.match(text)
        if m and _with_check(m.group(1)[:13]) == m.group(1):
            return f"(01){m.group(1)}(21){m.group(2)}"
        m = _FAST_DL_SSCC.match(text)
        if m and _with_check(m.group(1)[:17]) == m.group(1):
            return f"(00){m.group(1)}"
    return None


def to_code(epc, pointer: str = "") -> str:
    """The code an EPC names, as tracecode's scan parser reads it; EpcisError (at `pointer`)
    for what is no EPC tracecode can read."""
    if isinstance(epc, str) and len(epc) <= MAX_EPC:
        fast = _fast(epc)
        if fast is not None:
            return fast
    return _to_code(epc, pointer)


# A list of EPCs is mostly one prefix and many tails (one company's GTIN and its serials, one
# resolver's /c/ and its codes): the prefix is read once (by _fast, or by the general way
# for a national code's URI), then every tail is checked by one regex over them all.
_UNRESERVED = r"[0-9A-Za-z._~-]"
_BULK_SERIALS = re.compile(rf"{_PLAIN}(?:\n{_PLAIN})*\Z", re.ASCII)
_BULK_NATIONAL = re.compile(rf"{_UNRESERVED}{{1,{MAX_CODE}}}(?:\n{_UNRESERVED}{{1,{MAX_CODE}}})*\Z", re.ASCII)
_DL_KEYS = frozenset(SHORT_NAMES)
_national_prefixes: set = set()   # prefixes the general way read a plain tail under as a national code


def _bulk_head(first: str):
    """(the prefix every EPC of the list must start with, the code's text before the tail,
    the regex all tails must match), or None when `first` has no such shape."""
    if first.startswith("urn:epc:id:sgtin:"):
        m = _FAST_SGTIN.match(first)
        code = _fast(first) if m else None
        return None if code is None else (first[:m.start(3)], code[:code.index("(21)") + 4], _BULK_SERIALS)
    if not first.startswith(("https://", "http://")):
        return None
    m = _FAST_DL.match(first)
    if m:
        code = _fast(first)
        return None if code is None else (first[:m.start(2)], code[:code.index("(21)") + 4], _BULK_SERIALS)
    at = first.rfind("/c/")
    prefix, tail = first[:at + 3], first[at + 3:]
    if at < 0 or len(prefix) + MAX_CODE > MAX_EPC or "?" in prefix or "#" in prefix:
        return None
    # no segment of the prefix can start a Digital Link (an AI's digits, a short name), so
    # no tail makes the URI one: the general way reads every tail as it reads this one
    segments = prefix.split("://", 1)[-1].split("/")[1:-2]
    if any(s.isdigit() or s in _DL_KEYS for s in segments):
        return None
    if prefix not in _national_prefixes:
        try:
            if _to_code(first) != tail:
                return None
        except EpcisError:
            return None
        if len(_national_prefixes) < 1024:   # a resolver's prefix read once, not once an event
            _national_prefixes.add(prefix)
    return prefix, "", _BULK_NATIONAL


def bulk_tails(epcs):
    """(prefix, the code's text before each tail, the tails) when every EPC of the list is
    the prefix and a plain tail of one shape (module comment above), else None."""
    if len(epcs) < 2 or not isinstance(epcs[0], str) or len(epcs[0]) > MAX_EPC:
        return None
    head = _bulk_head(epcs[0])
    if head is None:
        return None
    prefix, code_head, tails_re = head
    try:
        if not all(map(str.startswith, epcs, repeat(prefix))):
            return None
    except TypeError:    # an EPC that is not text: the general way says so
        return None
    k = len(prefix)
    tails = [e[k:] for e in epcs]
    joined = "\n".join(tails)
    if joined.count("\n") != len(tails) - 1 or not tails_re.match(joined):
        return None
    return prefix, code_head, tails


def to_codes(epcs) -> list[str]:
    """[to_code(e) for e in epcs], the same answers and the same EpcisError (without a
    pointer: the caller names the EPC at fault), read in one pass when they share a prefix.

    >>> to_codes(["urn:epc:id:sgtin:0614141.107346.1", "urn:epc:id:sgtin:0614141.107346.2"])
    ['(01)10614141073464(21)1', '(01)10614141073464(21)2']
    >>> to_codes(["https://trace.example.gov.cn/c/A1", "https://trace.example.gov.cn/c/A2"])
    ['A1', 'A2']
    """
    bulk = bulk_tails(epcs)
    if bulk is not None:
        _, code_head, tails = bulk
        return tails if not code_head else [code_head + t for t in tails]
    return [to_code(e) for e in epcs]


def list_codes(event: dict, role: str, at) -> list[str]:
    """The codes of an event's EPC list `role` (epcList, childEPCs, inputEPCList...), [] when
    absent; an EpcisError pointing at the list (not a list) or at the EPC at fault (`at`: the
    event's pointer parts)."""
    value = event.get(role)
    if value is None:
        return []
    if not isinstance(value, list):
        raise EpcisError(f"{role} must be a list of EPCs", pointer=_ptr(*at, role) if at else "/" + role)
    try:
        return to_codes(value)
    except EpcisError:      # the pointer is built for the one at fault, not for every EPC
        for i, v in enumerate(value):
            to_code(v, pointer=_ptr(*at, role, i))
        raise


def _to_code(epc, pointer: str = "") -> str:
    """to_code the general way: every form, every fault explained."""
    if not isinstance(epc, str):
        raise EpcisError(f"an EPC is a URI (text), got {type(epc).__name__}", pointer=pointer)
    if len(epc) > MAX_EPC:
        raise EpcisError(f"an EPC of {len(epc)} characters: at most {MAX_EPC}", pointer=pointer)
    text = epc.strip()
    if text.lower().startswith("urn:epc:"):
        return _urn("urn:epc:" + text[8:], pointer)
    m = _URI.match(text)
    if m is None:
        raise EpcisError(f"{text[:80]!r} is not an EPC: give an EPC URI (urn:epc:id:...), a GS1 Digital "
                         "Link or a national code's https://BASE/c/{code}", pointer=pointer)
    try:
        return _element_string(digitallink.parse(text))
    except DigitalLinkError as exc:
        fault = exc
    segs = m.group(1).rstrip("/").split("/")
    if len(segs) >= 3 and segs[-2] == "c" and segs[-1]:
        code = unquote(segs[-1])
        if len(code) <= MAX_CODE and _NATIONAL.match(code):
            return code
        raise EpcisError(f"{text[:80]!r}: {code[:40]!r} is not a code (1 to {MAX_CODE} printable "
                         "characters, no spaces)", pointer=pointer)
    raise EpcisError(f"{text[:80]!r} is neither a GS1 Digital Link ({fault}) nor a national code's "
                     "https://BASE/c/{code}", pointer=pointer)


def _fixed(ai: str) -> int | None:
    spec = AI_TABLE.get(ai)
    if spec is None or any(c.min != c.max or c.optional for c in spec.components):
        return None
    return sum(c.max for c in spec.components)


def _pairs_of(code: str) -> list[tuple[str, str]] | None:
    """(AI, value) pairs of a human-readable element string, None when it is not one. A
    fixed-length AI's value is taken by its length and a variable one runs to the next
    "(AI)" of a known AI, so a serial holding parentheses reads (as far as the form allows:
    "(10)" inside a value cannot be told from the next element)."""
    if not code.startswith("("):
        return None
    pairs, at = [], 0
    while at < len(code):
        m = _AI_OPEN.match(code, at)
        if m is None or m.group(1) not in AI_TABLE:
            return None
        ai, at = m.group(1), m.end()
        n = _fixed(ai)
        if n is not None:
            end = at + n
        else:
            nxt = next((k.start() for k in _AI_OPEN.finditer(code, at) if k.group(1) in AI_TABLE), None)
            end = len(code) if nxt is None else nxt
        pairs.append((ai, code[at:end]))
        at = end
    return pairs or None


def is_sscc(code: str) -> bool:
    """18 digits with a right GS1 check digit (how tracecode writes a bare SSCC)."""
    return len(code) == 18 and code.isascii() and code.isdigit() and _mod10(code[:17]) == code[17]


def to_epc(code, scheme: str | None = None, base_url: str | None = None) -> str:
    """The EPC of a code: GS1 codes (an element string "(01)...(21)...", "(00)" + SSCC, or a
    bare SSCC of 18 digits when `scheme` is None or "sscc") as Digital Links on id.gs1.org;
    any other code (a national code; `scheme` names its tracecode scheme) as
    ``{base_url}/c/{code}``, which needs base_url (`tracecode settings DIR --base-url`)."""
    if not isinstance(code, str) or not code or len(code) > MAX_EPC:
        raise EpcisError(f"a code is text of 1 to {MAX_EPC} characters, got {str(code)[:40]!r}")
    code = code.strip()
    pairs = _pairs_of(code)
    if pairs is None and scheme in (None, "sscc") and is_sscc(code):
        pairs = [("00", code)]
    if pairs is not None:
        try:
            return digitallink.from_ais(pairs).uri(GS1_DOMAIN).split("?")[0]
        except DigitalLinkError as exc:
            raise EpcisError(f"{code[:80]!r}: {exc}") from None
    if scheme is not None and scheme.startswith("gs1"):
        raise EpcisError(f"{code[:80]!r}: a {scheme} code becomes an EPC from its element string "
                         "((01)<GTIN>(21)<serial>)")
    if len(code) > MAX_CODE or not _NATIONAL.match(code):
        raise EpcisError(f"{code[:80]!r} is not a code (1 to {MAX_CODE} printable characters, no spaces)")
    if not base_url:
        raise EpcisError(f"national code {code!r} becomes the EPC https://BASE/c/{{code}}: set the data "
                         "directory's base URL (tracecode settings DIR --base-url https://...)")
    return f"{base_url.rstrip('/')}/c/{quote(code, safe='')}"
