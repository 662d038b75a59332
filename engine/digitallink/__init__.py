"""GS1 Digital Link: the URI syntax (primary keys, qualifiers, data attributes, legacy short
names), the GS1 Web Vocabulary link types and RFC 9264 linksets. Pure logic, no HTTP."""
from .links import Link, choose, validate
from .uri import DigitalLink, DigitalLinkError, from_ais, parse

__all__ = ["DigitalLink", "DigitalLinkError", "Link", "choose", "from_ais", "parse", "validate"]
