"""What the servicers share in one server process: the data directory, the clients,
the audit log, idempotent issuance, and the checks every servicer needs (lookups
that answer NOT_FOUND, request fields that answer INVALID_ARGUMENT, rights that
answer PERMISSION_DENIED)."""
from __future__ import annotations

import logging

import numpy as np

from .. import __version__
from ..cache import BoundedCache
from .. import limits as bounds
from ..errors import ValidationError
from ..index import BatchRecord
from ..index import codekeys
from ..index.index import MAX_DEPTH
from ..scan import ScanError
from . import limits, status
from .audit import AuditError, AuditLog
from .convert import batch_pb
from .auth import Identity
from .idempotency import IdempotentIssuer

log = logging.getLogger("tracecode.serve")
OVERSEERS = frozenset({"regulator", "admin"})
BATCH_CACHE = 16384     # batch records kept per server process
GS1_MIN_PREFIX = 6      # a product rule's GTIN prefix must give at least a company prefix's digits
EXACT_GTIN_PREFIX = 7   # an exact GTIN claims its first 7 (China's shortest company prefix)
FUTURE_SLACK_S = bounds.FUTURE_SLACK_S   # a scan or event time may run this far ahead of the clock


def is_sscc(code: str) -> bool:
    return codekeys.sscc(code) is not None


class Service:
    def __init__(self, datadir, clients):
        self.dd = datadir
        self.index = datadir.index
        self.clients = clients
        self.audit = AuditLog(datadir.path / "audit.log")
        self.issuing = IdempotentIssuer(datadir)
        self.version = __version__
        # batch records never change: cached per process, the most recently used
        self._batches = BoundedCache(BATCH_CACHE)

    def close(self) -> None:
        self.audit.close()

    # -- lookups ---------------------------------------------------------------------------
    def scheme(self, name: str, field: str = "product.scheme"):
        if not name:
            raise status.invalid(field, "a scheme name is required")
        found = self.dd.schemes.get(name)
        if found is None:
            raise status.not_found("scheme", name, f"unknown scheme {name!r}; known: "
                                   f"{', '.join(sorted(self.dd.schemes))}")
        return found

    def batch(self, batch_id: int, field: str = "batch_id") -> BatchRecord:
        if not batch_id:
            raise status.invalid(field, "a batch id is required")
        hit = self._batches.get(batch_id)
        if hit is None:
            hit = self.index.batches.get(batch_id)
            if hit is None:
                raise status.not_found("batch", batch_id, f"no batch {batch_id}")
            self._batches[batch_id] = hit
        return hit

    def batch_seen_by(self, who: Identity, batch_id: int):
        """A batch as a verification reply shows it: whole to its issuer and to
        overseers; to others only what a label shows (product, lot, expiry), not
        the production line, the requester or the volumes."""
        b = self.batch(batch_id)
        if who.admin or not who.roles.isdisjoint(OVERSEERS) or who.owns(b.scheme, b.product):
            return batch_pb(b)
        return batch_pb(BatchRecord(id=b.id, scheme=b.scheme, product=b.product, start=0, count=0,
                                    lot=b.lot, expiry=b.expiry, attributes=b.attributes))

    @staticmethod
    def values(fn, values: dict, field: str) -> dict:
        """A scheme's validation of product or attribute fields, refusals naming the field."""
        try:
            return fn(values)
        except ValidationError as exc:
            raise status.invalid(f"{field}.{exc.field}" if exc.field else field, str(exc)) from None

    # -- request fields ------------------------------------------------------------------------
    @staticmethod
    def key(field: str, value: str) -> str:
        if not value:
            raise status.invalid(field, "required")
        if len(value) > limits.MAX_KEY_LENGTH or not value.isascii() or not value.isprintable():
            raise status.invalid(field, f"must be 1 to {limits.MAX_KEY_LENGTH} printable ASCII "
                                        "characters")
        return value

    @staticmethod
    def when(t: float, field: str = "time") -> float | None:
        if not t:
            return None
        try:  # NaN and infinities too: they would break every history that holds them
            return bounds.epoch(field, t)
        except ValidationError as exc:
            raise status.invalid(field, str(exc)) from None

    @staticmethod
    def scanner(who: Identity, scanner: str) -> str:
        """Scans are recorded under the authenticated client's name: a scanner id
        cannot be borrowed."""
        try:
            bounds.text("scanner", scanner, bounds.SCANNER_ID_BYTES)
        except ValidationError as exc:
            raise status.invalid("scanner", str(exc)) from None
        return f"{who.name}/{scanner}" if scanner else who.name

    @staticmethod
    def record(who: Identity, no_record: bool) -> bool:
        if no_record and who.roles.isdisjoint(OVERSEERS):
            raise status.denied(f"{who.name} may not verify without recording the scan "
                                "(regulators and admins only)", client=who.name)
        return not no_record

    # -- rights over products ------------------------------------------------------------------
    def require_owner(self, who: Identity, scheme: str, product: dict, what: str) -> None:
        if not who.owns(scheme, product):
            shown = ",".join(f"{k}={v}" for k, v in product.items())
            raise status.denied(f"{who.name} may not {what} {scheme}:{shown}", client=who.name,
                                scheme=scheme, product=shown)

    def require_codes(self, who: Identity, codes, what: str, *, read: bool = False) -> None:
        """Every code is of a product the client owns, or an SSCC that is the client's
        (sscc_holder) and whose contents (at any depth) all are. Regulators and admins
        may read any code; admins may act on any."""
        if who.admin or (read and not who.roles.isdisjoint(OVERSEERS)) or not len(codes):
            return
        texts = [c if isinstance(c, str) else c.decode("utf-8", "replace") for c in codes]
        for i in np.flatnonzero(~self._owned(who, texts)).tolist():
            if not is_sscc(texts[i]):
                raise status.denied(f"{who.name} may not {what} {texts[i]}: not a code of its "
                                    "products", client=who.name, code=texts[i])
            holders = self.sscc_holders(texts[i])
            if holders and who.name not in holders:
                raise status.denied(f"{who.name} may not {what} {texts[i]}: that SSCC is "
                                    f"{' or '.join(sorted(holders))}'s", client=who.name,
                                    code=texts[i])
            if not self._container_owned(who, texts[i]):
                raise status.denied(f"{who.name} may not {what} {texts[i]}: it holds codes of "
                                    "other products", client=who.name, code=texts[i])

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
                if len(prefix) >= GS1_MIN_PREFIX and prefix.isdigit():
                    out.setdefault(who.name, set()).add(prefix)
        return out

    def _owned(self, who: Identity, texts: list) -> np.ndarray:
        """Which codes are of the client's products (SSCCs are not)."""
        owned = np.zeros(len(texts), bool)
        if texts:
            for scheme, iss, rows in self.index.parser.parse_many(texts).groups:
                if who.owns(scheme.name, iss.product):
                    owned[rows] = True
        return owned

    def _container_owned(self, who: Identity, sscc: str) -> bool:
        inside, level = [], [sscc]
        for _ in range(MAX_DEPTH):
            level = [c for parent in level for c in self.index.contents(parent)]
            if not level:
                break
            inside += [c for c in level if not is_sscc(c)]
        return bool(self._owned(who, inside).all())

    # -- scans ---------------------------------------------------------------------------------
    def unreadable(self, scan: bytes) -> status.Refusal:
        """INVALID_ARGUMENT for a scan verification could not read, saying why."""
        try:
            self.index.parser.parse(scan)
        except ScanError as exc:
            where = f" at position {exc.position}" if exc.position is not None else ""
            return status.invalid("scan", f"{exc} [{exc.fault.name}{where}]",
                                  reason=f"SCAN_{exc.fault.name}", fault=exc.fault.name,
                                  scheme=exc.scheme, scan_field=exc.field, position=exc.position)
        return status.invalid("scan", "the scan names no code of a known product",
                              reason="SCAN_INVALID_FIELD", fault="INVALID_FIELD")

    def denied_audit(self, who: Identity | None, method: str, peer: str, refusal) -> None:
        """Record a refusal; the call is refused either way, so an audit log that cannot
        take the record is said in the server's log, not in the reply. Unauthenticated
        refusals (anyone can cause them) are rate-limited and not fsynced."""
        event = "unauthenticated" if refusal.code is status.Code.UNAUTHENTICATED else "denied"
        try:
            if who is None:
                self.audit.write_unauthenticated(method, peer, refusal.message)
            else:
                self.audit.write(event, who.name if who else None, method, peer,
                                 reason=refusal.message)
        except AuditError as exc:
            log.error("%s refusal of %s by %s not audited: %s", event, method,
                      who.name if who else peer, exc)
