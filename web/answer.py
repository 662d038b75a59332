"""The public answer to a code or an approval number: what the window says, as a JSON-able
dict the page renders and the JSON API returns (the same words for both).

It is built from the application layer only (Service.verify, Service.check when the data
directory has a registry, Service.lookup_approval, tracecode.app.trail), and shows what
the code's category declares public (``Category.public``); a signed-in caller who sees the
product whole (``svc.rights.sees_whole``: its issuer, regulators, admins) also gets the
batch record and the code's history. A public query is recorded as a scan: scanner
"public" (the caller's name), place the coarse region the client gave, else "public".
"""
from __future__ import annotations

import datetime as _dt

from tracecode import categories, regions
from tracecode.app.refusal import Refusal
from tracecode.app.rights import CHECKING
from tracecode.app.trail import trail
from tracecode.dates import expiry_date
from tracecode.digitallink.links import choose
from tracecode.index import Verdict
from tracecode.categories.hazardous import CONTROLLED
from tracecode.scan.parser import ScanError
from tracecode.store.port import PUBLIC_SCANNER

from .i18n import CATALOGS, DEFAULT, text

CHINA = _dt.timezone(_dt.timedelta(hours=8))   # the platform's dates are Beijing time
PUBLIC_PLACE = "public"          # the place of a public query that names no region
QUERY_BOUND = 20                 # the public queries counted: past it, "more than 20 times"
SALE_ACTIONS = ("sell", "dispense")
# what a copy-paste brings along: zero-width and direction marks, soft hyphens, BOMs
INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c"
                                  "\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068"
                                  "\u2069\ufeff"))
HISTORY_ITEMS = 50               # of a signed-in caller's history: the page's, not an export

VERDICT_KEY = {Verdict.GENUINE: "genuine", Verdict.UNKNOWN: "not_found",
               Verdict.NOT_COMMISSIONED: "not_in_circulation", Verdict.RECALLED: "recalled",
               Verdict.EXPIRED: "expired", Verdict.DESTROYED: "destroyed",
               Verdict.ALREADY_SOLD: "sold", Verdict.SUSPICIOUS: "suspicious"}
# how the page colours a verdict (with its words: never colour alone)
TONE = {"genuine": "ok", "not_found": "bad", "recalled": "bad", "expired": "bad",
        "destroyed": "bad", "sold": "warn", "suspicious": "bad", "not_in_circulation": "bad",
        "not_one_pack": "warn", "controlled_item": "warn"}
# a registry check that failed on a code the index finds genuine: the verdict it gives
FAILED_CHECK_VERDICT = (("code_exists", "not_found"), ("not_recalled", "recalled"),
                        ("not_expired", "expired"), ("approval_valid", "suspicious"),
                        ("approval_matches", "suspicious"), ("enterprise_matches", "suspicious"),
                        ("plausible_query_count", "suspicious"))
# link types for machines (event repositories, signatures, master data): not for the page
MACHINE_LINKS = frozenset({"gs1:epcis", "gs1:jws", "gs1:masterData", "gs1:defaultLinkMulti"})
CHECK_WARNING = {"approval_matches": "warning.approval_mismatch",
                 "enterprise_matches": "warning.enterprise_mismatch",
                 "plausible_query_count": "warning.query_count"}


_REGIONS: dict = {}


def regions_of(svc) -> regions.Regions:
    """The regions a query may name: the built-in table plus the data directory's
    regions.tsv, read once per directory."""
    path = getattr(svc.dd, "path", None)
    table = _REGIONS.get(path)
    if table is None:
        table = _REGIONS[path] = regions.of_directory(path) if path is not None else regions.BUILTIN
    return table


def region(place, table: regions.Regions = regions.BUILTIN) -> str | None:
    """The GB/T 2260 code of the region a client named (by code or name, either language);
    None for anything else: the query is then recorded at "public". Only a region of the
    fixed table is ever recorded or shown to the next reader of the code, never text.

    >>> region("南宁"), region("Nanning"), region("450100")
    ('450100', '450100', '450100')
    >>> region("本品为假货请加微信客服"), region("call 400-800-1234"), region(None)
    (None, None, None)
    """
    found = table.find(place)
    return found.code if found is not None else None


def clean_scan(scan):
    """A typed or pasted code without what a copy brings along that no code holds: invisible
    characters, surrounding spaces, and the slash after a bare code (/c/CODE/).

    >>> clean_scan("\u200b81773226606564391978\u200b/ "), clean_scan("(01)09521234543213(21)A/")
    ('81773226606564391978', '(01)09521234543213(21)A/')
    """
    if not isinstance(scan, str):
        return scan
    scan = scan.translate(INVISIBLE).replace("\u00a0", " ").strip()
    bare = scan.rstrip("/")
    return bare if bare != scan and bare.isalnum() else scan


def day(epoch: float | None) -> str | None:
    """An epoch time as the platform's calendar date (YYYY-MM-DD, Beijing time)."""
    if epoch is None:
        return None
    return _dt.datetime.fromtimestamp(epoch, CHINA).date().isoformat()


def moment(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return _dt.datetime.fromtimestamp(epoch, CHINA).isoformat(timespec="seconds")


def iso_expiry(expiry: str | None) -> str | None:
    """A batch's expiry (YYMMDD or YYYYMMDD, DD 00 the month's end) as an ISO date."""
    if not expiry:
        return None
    try:
        return expiry_date(expiry).isoformat()
    except ValueError:
        return expiry


def _category(svc, scheme_name: str | None):
    scheme = svc.dd.schemes.get(scheme_name) if scheme_name else None
    return categories.of_scheme(scheme) if scheme is not None else categories.GENERIC


def _category_title(cat, lang: str) -> str:
    """The category's name in `lang` (a category added as a module: its own title)."""
    try:
        return text(lang, f"category.{cat.name}")
    except KeyError:
        return cat.title


def code_kinds(svc, lang: str) -> str:
    """The kinds of code the page looks up, from the category registry and the schemes this
    server reads (its DATA/schemes too): each category's name and its schemes' lengths, the
    generic scheme last. Kept per language and set of schemes (both fixed while it runs)."""
    pool = svc.dd.schemes
    key = (lang, tuple(sorted(pool)))
    hit = _KINDS.get(key)
    if hit is None:
        parts = []
        for cat in sorted(categories.ALL.values(), key=lambda c: (c is categories.GENERIC, c.name)):
            lengths = sorted({s.length for s in categories.schemes_of(cat.name, pool) if s.length})
            sized = cat.name not in ("generic", "gs1_trade") and lengths
            parts.append(_category_title(cat, lang)
                         + (text(lang, "home.code_kinds_len", n="/".join(map(str, lengths))) if sized else ""))
        hit = _KINDS[key] = text(lang, "home.code_kinds_sep").join(parts)
    return hit


_KINDS: dict = {}


def _validity(rec, on: _dt.date, lang: str) -> tuple[bool, str]:
    """(valid on `on`, the words for it) of an ApprovalRecord."""
    valid, _ = rec.validity(on)
    if valid:
        return True, text(lang, "validity.valid", date=rec.valid_until)
    since = _dt.date.fromisoformat(rec.status_since) if rec.status_since else None
    if rec.status != "valid" and (since is None or since <= on):
        if since is None:
            return False, text(lang, f"validity.{rec.status}_nodate")
        return False, text(lang, f"validity.{rec.status}", date=rec.status_since)
    return False, text(lang, "validity.expired", date=rec.valid_until)


def _approval(rec, on: _dt.date, lang: str) -> dict:
    valid, words = _validity(rec, on, lang)
    return {"number": rec.number, "kind": rec.kind, "company": rec.company,
            "valid": valid, "validity": words, "valid_until": rec.valid_until or None,
            "status": rec.status, "status_since": rec.status_since,
            "products": [{"name": p.name, "dosage_form": p.dosage_form,
                          "specification": p.specification} for p in rec.products]}


def _location(svc, where: str, lat, lon) -> dict:
    """The query's region (the code of the region named, recorded as the scan's region too)
    and coordinates, checked by the Service: a bad lat/lon is refused. A region of the data
    directory's own table that the GB/T 2260 rule does not take is recorded as place only."""
    code = where if where != PUBLIC_PLACE else None
    try:
        return svc.location(code, lat, lon)
    except Refusal as exc:
        if exc.field != "region":
            raise
        return svc.location(None, lat, lon)


def _verify(svc, caller, scan, place):
    """(index Answer, RegistryAnswer or None), not recorded (code_answer records the query
    once its limits let it through): the counterfeit check when the directory has a
    registry and the caller may run it (the check's NOT_COVERED: no registry kind)."""
    if caller.has(CHECKING) and svc.dd.registry:
        ra = svc.check(caller, scan, place=place, requery=True)[0]
        ia = ra.index
        if ia is None or ia.fault:
            raise svc.unreadable(svc.one_scan(scan))
        return ia, (ra if ra.verdict != "NOT_COVERED" else None)
    return svc.verify(caller, scan, place=place, requery=True), None


def _label(svc, scan):
    """What the scanned label itself says (a parsed Scan), None when it cannot be read."""
    try:
        return svc.index.parser.parse(svc.one_scan(scan))
    except (ScanError, Refusal, ValueError):
        return None


def _label_differences(ia, label) -> list:
    """[(field, the label's, the record's)] where the scan's lot or expiry is not the
    batch record's: a label printed for another batch, or altered."""
    if label is None or not ia.code or label.code != ia.code:
        return []
    out = []
    lot = label.ais.get("10")
    if lot is not None and ia.lot and lot != ia.lot:
        out.append(("lot", lot, ia.lot))
    expiry = label.ais.get("17")
    if expiry is not None and ia.expiry and iso_expiry(expiry) != iso_expiry(ia.expiry):
        out.append(("expiry", iso_expiry(expiry), iso_expiry(ia.expiry)))
    return out


def _product_level(ia, label) -> bool:
    """A scan of a product (a GTIN, with a lot perhaps) and no pack's serial: nothing one
    pack's record could verify."""
    return (ia.verdict == Verdict.UNKNOWN and label is not None and label.code is None
            and "21" not in label.ais and any(ai in label.ais for ai in ("01", "8006", "02")))


def _verdict(ia, ra) -> str:
    key = VERDICT_KEY[ia.verdict]
    if ra is None or ra.genuine or key != "genuine" or not ra.failed:
        return key     # no check failed (some could not run): the index's verdict, noted
    failed = set(ra.failed)
    return next((v for name, v in FAILED_CHECK_VERDICT if name in failed), "suspicious")


def code_answer(svc, caller, scan, *, place=None, lang: str = "zh", record: bool = True,
                repeat: bool = False, charge=None, lat=None, lon=None) -> dict:
    """The answer to one scan or typed code (see the module doc). Raises Refusal: an
    unreadable scan (unreadable_scan), a scan over the size limits, a caller's rights.

    The query is recorded (scanner: the caller, place: the region's code) after the answer
    is built and `charge(answer)` (the adapter's per-product limit) let it through, so a
    refused query is never counted. repeat: the same reader's query again (a reload, a
    HEAD, a link preview): answered, never recorded. A scan of a product with no pack's
    serial is not recorded either (verdict "not_one_pack")."""
    lang = lang if lang in CATALOGS else DEFAULT
    scan = clean_scan(scan)
    table = regions_of(svc)
    where = region(place, table) or PUBLIC_PLACE
    loc = _location(svc, where, lat, lon)   # refused (400) before anything is verified
    if not record and not repeat:
        svc.rights.may_skip_recording(caller, True)    # overseers only, as Verify says
    ia, ra = _verify(svc, caller, scan, where)
    key = _verdict(ia, ra)
    # a scan that is the bare code itself carries no lot, expiry or GTIN to compare: not parsed again
    bare = isinstance(scan, str) and scan == ia.code and scan.isalnum()
    label = _label(svc, scan) if not bare and (ia.verdict == Verdict.UNKNOWN or ia.lot or ia.expiry) else None
    differences = _label_differences(ia, label) if ia.verdict != Verdict.UNKNOWN else []
    if key == "genuine" and differences:
        key = "suspicious"
    one_pack = not _product_level(ia, label)
    if not one_pack:
        key = "not_one_pack"
    found = ia.verdict != Verdict.UNKNOWN
    counted = record and not repeat and one_pack
    public = counted and not caller.authenticated and caller.name == PUBLIC_SCANNER
    cat = _category(svc, ia.scheme)
    out = {"code": ia.code, "scheme": ia.scheme, "category": cat.name,
           "category_title": _category_title(cat, lang),
           "lang": lang, "verdict": key, "verdict_text": text(lang, f"verdict.{key}"),
           "verdict_note": text(lang, f"verdict_note.{key}"), "tone": TONE[key],
           "genuine": key == "genuine", "found": found}
    batch = svc.batch_seen_by(caller, ia.batch) if ia.batch else None
    whole = bool(ia.scheme and ia.verdict != Verdict.UNKNOWN
                 and svc.rights.sees_whole(caller, ia.scheme, ia.product))
    shown = set(categories.PUBLIC_FIELDS if whole else cat.public) if found else {"verdict"}
    today = _dt.datetime.now(CHINA).date()
    approval = ra.approval if ra is not None else None
    queries = _public_queries(svc, caller, ia, public, where, table, lang) if found else {}
    fields = {
        "product": _product(ia, approval),
        "company": approval.company if approval else None,
        "approval_number": _approval(approval, today, lang) if approval else None,
        "lot": ia.lot,
        "production_date": _production(batch),
        "expiry": iso_expiry(ia.expiry),
        "status": ia.status,
        "scan_count": queries.get("count"),
        "first_scan_time": queries.get("first_time"),
        "first_scan_place": queries.get("first_place"),
    }
    for name, value in fields.items():
        out[name] = value if name in shown else None
    out["scan_count_more"] = bool(queries.get("more")) if out["scan_count"] else False
    out["first_scan_region"] = queries.get("first_region") if out["first_scan_place"] else None
    out["approval"] = out.pop("approval_number")
    out["status_text"] = text(lang, f"status.{ia.status}") if out["status"] else None
    scheme = svc.dd.schemes.get(ia.scheme) if ia.scheme else None
    if scheme is not None and scheme.external and found:
        # a code its maker assigned was registered here, not issued: say so, and leave what it
        # may be used for to the category's section below (in service, overdue, scrapped...)
        if key == "genuine":
            out["verdict_note"] = text(lang, "verdict_note.registered")
        if ia.status == "issued":
            out["status_text"] = text(lang, "status.registered")
    notice = key in ("recalled", "destroyed", "sold")
    steps = trail(svc, caller, ia.code) if ia.code and found and (
        "path" in shown or notice) else []
    out["path"] = [_step(s, lang) for s in steps] if "path" in shown else None
    out["label_differences"] = [{"field": f, "label": got, "record": want} for f, got, want in differences]
    out["warnings"] = _warnings(key, ia, ra, approval, out, steps, today, lang, table)
    out["checks"] = _checks(ra, whole, lang) if ra is not None and found else None
    out["links"] = _links(svc, caller, ia, lang) if found else []
    # the category's own section (special equipment: may it be used, its inspections)
    out["section"] = cat.section(svc, ia.code, lang) if cat.section is not None and ia.code else None
    if not whole and (out["section"] or {}).get("verdict") == CONTROLLED:
        # a controlled item (hazardous goods): the public learns that and nothing else, no
        # "genuine · registered" banner, status, checks or links above the section
        out.update(verdict=CONTROLLED, verdict_text=text(lang, f"verdict.{CONTROLLED}"),
                   verdict_note=text(lang, f"verdict_note.{CONTROLLED}"), tone=TONE[CONTROLLED],
                   genuine=False, status=None, status_text=None, path=None, warnings=[], checks=None,
                   links=[], label_differences=[])
    out["audience"] = "whole" if whole else "public"
    out["shown"] = sorted(shown)
    out["caller"] = caller.name if caller.authenticated else None
    if whole:
        out["scans_total"] = ia.scan_count     # every scanner's, the public's among them
        out["batch"] = _batch(batch)
        out["history"] = _history(svc, caller, ia.code, lang)
    if charge is not None:
        charge(out)        # the adapter's limit: raises before anything is recorded
    if counted:
        svc.record(caller, scan, ia, place=where, **loc)   # the verdict shown, not a second verify
    return out


def _public_queries(svc, caller, ia, this_one: bool, where: str, table, lang: str) -> dict:
    """The code's public queries (scanner "public"), this one included when it is one: how
    many (up to QUERY_BOUND, "more"), the first one's time and region. Other scanners'
    scans (an enterprise's, a pharmacy's) are not queries and their places are not shown."""
    if not ia.code:
        return {}
    before, first, first_region = svc.public_queries(caller, ia.code, QUERY_BOUND)
    if first is None and this_one:
        first, first_region = _dt.datetime.now(CHINA).timestamp(), where
    more = before > QUERY_BOUND
    count = min(before, QUERY_BOUND) + (1 if this_one and not more else 0)
    return {"count": count or None, "more": more, "first_time": moment(first),
            "first_region": first_region if table.label(first_region, lang) else None,
            "first_place": table.label(first_region, lang)}


def _product(ia, approval) -> dict:
    """The product's name (the registry's, when the code is an approval's) and its fields."""
    first = approval.products[0] if approval and approval.products else None
    return {"name": first.name if first else None,
            "dosage_form": first.dosage_form if first else None,
            "specification": first.specification if first else None,
            "fields": dict(ia.product)}


def _production(batch) -> str | None:
    attrs = batch.attributes if batch is not None else {}
    value = attrs.get("production_date") or attrs.get("prod_date")
    return iso_expiry(str(value)) if value else None


def _step(step: dict, lang: str) -> dict:
    out = {"action": step["action"], "action_text": text(lang, f"action.{step['action']}"),
           "date": day(step["time"]), "place": step["place"]}
    if "reason" in step:
        out["reason"] = step["reason"]
    return out


def _warnings(key, ia, ra, approval, out, steps, today, lang, table) -> list:
    """The explicit warnings, most serious first: [{"key", "text"}]."""
    warn = []

    def add(k, **fields):
        warn.append({"key": k.split(".", 1)[1], "text": text(lang, k, **fields)})
    if key in ("recalled", "destroyed"):
        last = next((s for s in reversed(steps) if s["action"] == ("recall" if key == "recalled"
                                                                   else "destroy")), None)
        reason = text(lang, "warning.reason", reason=last["reason"]) if last and last.get("reason") else ""
        if key == "destroyed":
            add("warning.destroyed", reason=reason)
        elif last and last["time"] is not None:
            add("warning.recalled", date=day(last["time"]), reason=reason)
        else:
            add("warning.recalled_nodate", reason=reason)
    elif key == "expired":
        add("warning.expired", date=iso_expiry(ia.expiry) or text(lang, "value.unknown"))
    elif key == "sold":
        sale = next((s for s in reversed(steps) if s["action"] in SALE_ACTIONS), None)
        found = table.find(sale["place"]) if sale else None   # a region, never a shop's text
        if sale and sale["time"] is not None and found is not None:
            add("warning.sold_at", date=day(sale["time"]), place=found.label(lang, table))
        elif sale and sale["time"] is not None:
            add("warning.sold_on", date=day(sale["time"]))
        else:
            add("warning.sold")
    elif key in ("not_found", "not_in_circulation", "not_one_pack"):
        add(f"warning.{key}")
    for diff in out.get("label_differences") or ():
        add(f"warning.label_{diff['field']}", label=diff["label"], record=diff["record"])
    if approval is not None and not _validity(approval, today, lang)[0]:
        add("warning.approval_invalid", number=approval.number,
            why=_validity(approval, today, lang)[1])
    if ra is not None:
        for name in ra.failed:
            if name in CHECK_WARNING:
                add(CHECK_WARNING[name])
    if key == "suspicious" and ia.verdict == Verdict.SUSPICIOUS:
        add("warning.suspicious")
    elif ra is not None and not ra.genuine and not ra.failed and ra.unchecked:
        # nothing failed, some checks could not run: the index's verdict, and what to check
        for name in ra.unchecked:
            add("warning.no_expiry_on_record" if name == "not_expired" else "warning.registry_unconfirmed")
    count = out.get("scan_count")
    if count and (count > 1 or out.get("scan_count_more")) and out.get("first_scan_time"):
        shown = text(lang, "value.more_than", count=count) if out.get("scan_count_more") else count
        date = out["first_scan_time"][:10]
        if out.get("first_scan_place"):
            add("warning.repeat_query", count=shown, date=date, place=out["first_scan_place"])
        else:
            add("warning.repeat_query_noplace", count=shown, date=date)
    return warn


def _links(svc, caller, ia, lang: str) -> list:
    """The product's registered links a person may follow (tracecode links: the
    resolver's), one per link type in the reader's language: [{"type", "href", "title"}]."""
    key = svc.link_key_of(ia, lot=True)
    if key is None:
        return []
    try:
        links = svc.links_for(caller, key)
    except Refusal:
        return []
    out = []
    for link_type in dict.fromkeys(link.link_type for link in links):
        if link_type in MACHINE_LINKS:
            continue
        chosen = choose(links, link_type, [lang])
        if chosen is None:
            continue
        name = link_type.partition(":")[2]
        named = f"link.{name}"
        out.append({"type": link_type, "href": chosen.href,
                    "title": chosen.title or (text(lang, named) if named in CATALOGS[lang] else name)})
    return out


def _checks(ra, whole: bool, lang: str) -> list:
    """The registry's checks by name and outcome; their engine sentences (which name
    batches) only for a caller who sees the product whole."""
    out = []
    for c in ra.checks:
        state = "unchecked" if c.ok is None else "ok" if c.ok else "failed"
        item = {"name": c.name, "ok": c.ok, "text": text(lang, f"check.{c.name}"),
                "state": state, "state_text": text(lang, f"check.{state}")}
        if whole:
            item["detail"] = c.detail
        out.append(item)
    return out


def _batch(batch) -> dict | None:
    if batch is None:
        return None
    return {"id": batch.id, "scheme": batch.scheme, "product": dict(batch.product),
            "lot": batch.lot, "expiry": batch.expiry, "line": batch.line,
            "requester": batch.requester, "count": batch.count, "issued": moment(batch.time or None),
            "attributes": dict(batch.attributes)}


def _history(svc, caller, code, lang: str) -> list:
    try:
        items, _ = svc.history(caller, code, limit=HISTORY_ITEMS)
    except Refusal:
        return []
    out = []
    for item in items:
        if item.get("kind") not in ("event", "scan"):   # a transformation's inputs: not on this page
            continue
        entry = {"kind": item.get("kind"), "date": moment(item.get("time")),
                 "place": item.get("place"), "via": item.get("via")}
        if item.get("kind") == "event":
            action = item.get("action")
            named = f"action.{action}"
            entry.update(action=action, client=item.get("client"), id=item.get("id"),
                         reason=item.get("reason"),
                         action_text=text(lang, named) if named in CATALOGS[lang] else action)
        else:
            entry.update(scanner=item.get("scanner"), verdict=item.get("verdict"))
        out.append(entry)
    return out


def approval_answer(svc, caller, number, *, lang: str = "zh") -> dict:
    """The answer to a typed approval or registration number (the veterinary check's
    manual entry): its holder, products and validity today. Raises Refusal: a malformed
    number (invalid_argument), one not in the registry (unknown_approval), no registry."""
    lang = lang if lang in CATALOGS else DEFAULT
    info = svc.lookup_approval(caller, number)
    rec = info.record
    out = _approval(rec, info.on, lang)
    out.update(lang=lang, on=info.on.isoformat(), kind_text=_kind_text(rec.kind, lang),
               verdict="approval_valid" if out["valid"] else "approval_invalid",
               verdict_text=text(lang, "approval.valid" if out["valid"] else "approval.invalid"),
               tone="ok" if out["valid"] else "bad", warnings=[])
    if not out["valid"]:
        out["warnings"].append({"key": "approval_invalid", "text": text(
            lang, "warning.approval_invalid", number=rec.number, why=out["validity"])})
    return out


def _kind_text(kind: str, lang: str) -> str:
    try:
        return text(lang, f"approval.kind.{kind}")
    except KeyError:   # a registry category added as a module: its own title
        return categories.of_registry(kind).registry.title or kind
