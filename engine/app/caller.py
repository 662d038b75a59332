"""Who is calling: a Caller, built by each adapter from its transport's identity (the gRPC
adapter from a bearer token or a client certificate's CN; local callers are LOCAL).

Roles: issuer (request codes and send events for its listed products only), scanner
(verify only), regulator (read everything, recall), admin (everything). A product
rule is a scheme, or a scheme and field values; a value ending in * matches by prefix
(a GS1 company prefix, say).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import TracecodeError

ROLES = ("issuer", "scanner", "regulator", "admin")


class ClientsFileError(TracecodeError):
    """The clients (tokens) file, or a product rule in it, is malformed or unsafe."""


@dataclass(frozen=True)
class ProductRule:
    scheme: str
    fields: tuple = ()          # ((name, value or prefix*), ...)

    @classmethod
    def parse(cls, text: str) -> ProductRule:
        """"scheme" or "scheme:field=value,field=value"."""
        scheme, _, rest = text.strip().partition(":")
        pairs = []
        for item in filter(None, (p.strip() for p in rest.split(","))):
            name, sep, value = item.partition("=")
            if not sep or not name.strip() or not value.strip():
                raise ClientsFileError(f"product rule {text!r}: {item!r} is not FIELD=VALUE")
            pairs.append((name.strip(), value.strip()))
        if not scheme:
            raise ClientsFileError(f"product rule {text!r} names no scheme")
        return cls(scheme, tuple(pairs))

    def __str__(self):
        return self.scheme + (":" + ",".join(f"{k}={v}" for k, v in self.fields) if self.fields else "")

    def matches(self, scheme: str, product: dict) -> bool:
        if scheme != self.scheme:
            return False
        for name, want in self.fields:
            have = str(product.get(name, ""))
            if not (have.startswith(want[:-1]) if want.endswith("*") else have == want):
                return False
        return True


@dataclass(frozen=True)
class Caller:
    name: str
    roles: frozenset
    products: tuple = ()        # ProductRules, for issuers
    via: str = "token"          # "token", "certificate", "none" (an open server), "operator"
                                # or "public" (the HTTP window, no credentials)

    @property
    def authenticated(self) -> bool:
        return self.via in ("token", "certificate")

    @property
    def operator(self) -> bool:
        """The data directory's own operator (the command line on DIR): events and scans
        are recorded under the names it gives, as the engine's own API records them."""
        return self.via == "operator"

    def has(self, roles) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def admin(self) -> bool:
        return "admin" in self.roles

    def owns(self, scheme: str, product: dict) -> bool:
        """May issue for and send events about this product."""
        return self.admin or ("issuer" in self.roles
                              and any(r.matches(scheme, product) for r in self.products))


LOCAL = Caller("local", frozenset({"admin"}), via="none")      # every caller of an open server
OPERATOR = Caller("local", frozenset({"admin"}), via="operator")  # the command line on DIR
# Anyone on the public HTTP window without credentials: may verify (recorded, never skipped),
# run the counterfeit check, read links and look up approvals; sees a batch only as its
# label shows it (Service.batch_seen_by), never as its issuer does.
PUBLIC = Caller("public", frozenset({"scanner"}), via="public")


