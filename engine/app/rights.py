"""Rights: which roles may call which verb, and which products and containers a caller's
rights reach (an issuer its listed products, the SSCCs it holds and what they contain;
regulators and admins read everything, admins act on anything).

Refusals are permission_denied, naming the caller; the adapter writes them to the audit log.
"""
from __future__ import annotations

import numpy as np

from ..index.index import MAX_DEPTH
from ..store.lmdb import codekeys
from .caller import ROLES, Caller
from .refusal import denied

OVERSEERS = frozenset({"regulator", "admin"})
GS1_MIN_PREFIX = 6      # a product rule's GTIN prefix must give at least a company prefix's digits
EXACT_GTIN_PREFIX = 7   # an exact GTIN claims its first 7 (China's shortest company prefix)

ISSUING = frozenset({"issuer", "admin"})
VERIFYING = frozenset({"scanner", "issuer", "regulator", "admin"})
CHECKING = frozenset({"scanner", "regulator", "admin"})   # the registry's counterfeit check
EVENTS = frozenset({"issuer", "regulator", "admin"})
READING = frozenset({"issuer", "regulator", "admin"})
ANYONE = frozenset(ROLES)

# verb -> the roles that may call it (the products a role reaches are checked by the verb)
VERBS = {
    "issue": ISSUING, "download": ISSUING, "report_commissioned": ISSUING,
    "report_spoiled": ISSUING,
    "verify": VERIFYING, "verify_many": VERIFYING,
    "check": CHECKING, "check_many": CHECKING, "lookup_approval": ANYONE,
    "apply_events": EVENTS, "history": READING,
    "list_schemes": ANYONE, "list_batches": READING, "stats": OVERSEERS, "whoami": ANYONE,
    "links": ANYONE, "set_links": ISSUING,   # links are public; set by admins or the product's issuer
    # EPCIS: an issuer captures and reads its products' events, overseers all (app/epcis.py)
    "capture": EVENTS, "capture_job": EVENTS, "query_events": READING,
    # codes others assigned (special equipment): registered by their maker or authority,
    # steps by any known client (the authority's steps: tracecode.app.assets), scans by any
    "register": ISSUING, "asset_steps": VERIFYING, "asset": ANYONE,
    "define_query": READING, "named_queries": READING, "delete_query": READING,   # the caller's own
    # subscriptions deliver what query_events would answer the subscriber (app/subscriptions.py)
    "subscribe": READING, "subscriptions": READING, "unsubscribe": READING,
    # rare-earth production quotas (app/quotas.py): set by overseers, read by the enterprise too
    "set_quota": OVERSEERS, "quotas": READING,
    # the analytics' alerts (app/alertsapp.py): read and closed by overseers
    "alerts": OVERSEERS, "close_alert": OVERSEERS, "store_alerts": OVERSEERS,
}


def is_sscc(code: str) -> bool:
    return codekeys.sscc(code) is not None


def admit(caller: Caller, verb: str, method: str | None = None) -> None:
    """Refuse a caller none of whose roles may call the verb (`method`: the name shown)."""
    allowed = VERBS[verb]
    if caller.roles.isdisjoint(allowed):
        raise denied(f"{caller.name} ({', '.join(sorted(caller.roles))}) may not call "
                     f"{method or verb}; it needs one of: {', '.join(sorted(allowed))}",
                     client=caller.name)


def oversees(caller: Caller) -> bool:
    return not caller.roles.isdisjoint(OVERSEERS)


class Rights:
    """The product-level checks, over one data directory and its clients."""

    def __init__(self, datadir, clients):
        self.dd = datadir
        self.index = datadir.index
        self.clients = clients

    def may_skip_recording(self, caller: Caller, no_record: bool) -> bool:
        """Whether the scan is recorded: only overseers may verify without recording."""
        if no_record and not oversees(caller):
            raise denied(f"{caller.name} may not verify without recording the scan "
                         "(regulators and admins only)", client=caller.name)
        return not no_record

    def sees_whole(self, caller: Caller, scheme: str, product: dict) -> bool:
        """A batch is shown whole to its issuer and to overseers; to others only what a
        label shows (product, lot, expiry)."""
        return caller.admin or oversees(caller) or caller.owns(scheme, product)

    def require_owner(self, caller: Caller, scheme: str, product: dict, what: str) -> None:
        if not caller.owns(scheme, product):
            shown = ",".join(f"{k}={v}" for k, v in product.items())
            raise denied(f"{caller.name} may not {what} {scheme}:{shown}", client=caller.name,
                         scheme=scheme, product=shown)

    def require_codes(self, caller: Caller, codes, what: str, *, read: bool = False,
                      owned: np.ndarray | None = None) -> None:
        """Every code is of a product the caller owns, or an SSCC that is the caller's
        (sscc_holders) and whose contents (at any depth) all are. Regulators and admins
        may read any code; admins may act on any. owned: _owned of these codes when the
        caller has it already (an EPCIS capture reads all its events' codes at once)."""
        if caller.admin or (read and oversees(caller)) or not len(codes):
            return
        texts = [c if isinstance(c, str) else c.decode("utf-8", "replace") for c in codes]
        for i in np.flatnonzero(~(self._owned(caller, texts) if owned is None else owned)).tolist():
            if not is_sscc(texts[i]):
                raise denied(f"{caller.name} may not {what} {texts[i]}: not a code of its "
                             "products", client=caller.name, code=texts[i])
            holders = self.sscc_holders(texts[i])
            if holders and caller.name not in holders:
                raise denied(f"{caller.name} may not {what} {texts[i]}: that SSCC is "
                             f"{' or '.join(sorted(holders))}'s", client=caller.name, code=texts[i])
            if not self._container_owned(caller, texts[i]):
                raise denied(f"{caller.name} may not {what} {texts[i]}: it holds codes of "
                             "other products", client=caller.name, code=texts[i])

    # -- who an SSCC belongs to ----------------------------------------------------------------
    def sscc_holders(self, sscc: str) -> set:
        """The clients an SSCC belongs to: those whose GS1 company prefix it carries
        (extension digit, then the prefix: the GTIN's digits after its indicator), or
        else the first client that packed into it (recorded by the index); an empty set
        while neither names anybody."""
        digits = codekeys.sscc(sscc)[-18:].decode()
        claimed = {name for name, prefixes in self._gs1_prefixes().items()
                   if any(digits[1:].startswith(p) for p in prefixes)}
        if claimed:
            return claimed
        first = self.index.sscc_user(sscc)
        return {first} if first else set()

    def _gs1_prefixes(self) -> dict:
        """Client name -> the GS1 company prefixes of its products: a GTIN rule with a
        wildcard (gtin=0952123*) gives its digits after the indicator; an exact GTIN its
        first EXACT_GTIN_PREFIX digits after the indicator (clients are few: read each time)."""
        out: dict = {}
        for who in self.clients.identities():
            for rule in who.products if "issuer" in who.roles else ():
                scheme = self.dd.schemes.get(rule.scheme)
                if scheme is None or not scheme.is_gs1:
                    continue
                gtin = dict(rule.fields).get(scheme.product_fields[0].name) or ""
                prefix = gtin[1:-1] if gtin.endswith("*") else gtin[1:1 + EXACT_GTIN_PREFIX]
                if len(prefix) >= GS1_MIN_PREFIX and prefix.isascii() and prefix.isdigit():
                    out.setdefault(who.name, set()).add(prefix)
        return out

    def _owned(self, caller: Caller, texts: list) -> np.ndarray:
        """Which codes are of the caller's products (SSCCs are not); a registered code of a
        scheme others assign (an ear tag...) is also the caller's when the caller registered
        it (one lookup each of those its product rules do not name)."""
        owned = np.zeros(len(texts), bool)
        if texts:
            for scheme, iss, rows in self.index.parser.parse_many(texts).groups:
                if caller.owns(scheme.name, iss.product):
                    owned[rows] = True
            if "issuer" in caller.roles:
                for r in np.flatnonzero(~owned).tolist():
                    reg = self.dd.assets.registration(texts[r])
                    owned[r] = reg is not None and reg["owner"] == caller.name
        return owned

    def _container_owned(self, caller: Caller, sscc: str) -> bool:
        inside, level = [], [sscc]
        for _ in range(MAX_DEPTH):
            level = [c for parent in level for c in self.index.contents(parent)]
            if not level:
                break
            inside += [c for c in level if not is_sscc(c)]
        return bool(self._owned(caller, inside).all())
