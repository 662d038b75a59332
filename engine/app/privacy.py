"""Personal information (PIPL): what tracecode keeps about people, and an operator's purge.

Kept: the scan log names each scan's scanner (the identity a client or the command line
gave) and place (a coarse region: a GB/T 2260 code or a place name the caller chose);
the public window's queries are recorded under the scanner "public" with a region, never
an address. Not kept: a caller's IP address, except in memory for the rate limiter; the
audit log keeps an anonymous caller's address only as a keyed pseudonym (audit.py).

`purge_scanner` removes one scanner's scans through the storage port and audits it: the
intent before, the outcome after; the audit records name the scanner by a keyed
pseudonym (`tracecode audit show` cannot print the identity that was purged, the audit
key's holder can match it).
"""
from __future__ import annotations

from ..store import purges
from .audit import AuditError
from .refusal import Refusal

METHOD = "tracecode privacy purge"


def purge_scanner(svc, scanner: str, *, dry_run: bool = False) -> dict:
    """Remove a scanner's scans from the scan log and mend the per-code summaries they
    were in: {"scans": removed, "codes": summaries changed}; dry_run counts only."""
    store = svc.dd.index.store
    if dry_run:
        return store.purge_scanner(scanner, dry_run=True)
    if not scanner:
        raise ValueError("name a scanner (--scanner ID)")
    who = "scanner-" + svc.audit.keyed_name("scanner", scanner)
    done = _audited(svc, "purge_scanner", lambda: store.purge_scanner(scanner), scanner=who)
    purges.record(svc.dd.path, scanner=scanner)   # the analytics export follows it at its next run
    return done


def purge_before(svc, when: float, *, dry_run: bool = False) -> dict:
    """Remove every scan recorded before `when` (Unix time): a retention period applied."""
    store = svc.dd.index.store
    if dry_run:
        return store.purge_before(when, dry_run=True)
    done = _audited(svc, "purge_scans_before", lambda: store.purge_before(when), before=when)
    purges.record(svc.dd.path, before=when)
    return done


def _audited(svc, event: str, purge, **about) -> dict:
    """The purge audited: its intent before (nothing done if that cannot be written), its
    outcome after."""
    try:
        svc.audit_operation(f"{event}_intent", METHOD, **about)
    except AuditError as exc:
        raise Refusal("audit_log_full", "", f"nothing purged: {exc}") from None
    try:
        done = purge()
    except Exception as exc:
        try:
            svc.audit_operation(f"{event}_refused", METHOD, error=str(exc)[:500], **about)
        except AuditError:
            pass  # the intent is there; the error goes to the operator either way
        raise
    try:
        svc.audit_operation(event, METHOD, **about, **done)
    except AuditError as exc:
        raise Refusal("audit_incomplete", "", f"{done['scans']:,} scans purged, audit line not written "
                      f"({exc}); its intent is in the audit log") from None
    return done
