"""Where a webhook may be sent: never to this machine or the operator's own network (SSRF),
unless the operator allows it in DIR/settings.toml:

    [epcis]
    webhook_allow = ["127.0.0.0/8", "10.1.2.0/24"]

A dest's host is resolved and EVERY address it resolves to is judged (a name with one
public and one private address is refused), when subscribing and again at each connect
(serve/delivery.py pins the connection to the addresses judged here, so a name that
re-resolves to 127.0.0.1 after the check, DNS rebinding, reaches nothing).

>>> forbidden(ipaddress.ip_address("169.254.169.254"), ())
True
>>> forbidden(ipaddress.ip_address("::ffff:127.0.0.1"), ())
True
>>> forbidden(ipaddress.ip_address("127.0.0.1"), (ipaddress.ip_network("127.0.0.0/8"),))
False
>>> forbidden(ipaddress.ip_address("93.184.216.34"), ())
False
"""
from __future__ import annotations

import ipaddress
import socket
import urllib.parse

from ..errors import TracecodeError


class DestRefused(TracecodeError, ValueError):
    """A webhook dest that resolves to an address no webhook may reach."""


class Unresolved(DestRefused):
    """A webhook dest whose host does not resolve (now)."""


def forbidden(ip, allow) -> bool:
    """Loopback, private, link-local, multicast, unspecified or reserved, and not allowed."""
    if any(ip in net for net in allow if net.version == ip.version):
        return False
    mapped = getattr(ip, "ipv4_mapped", None) or getattr(ip, "sixtofour", None)
    if mapped is not None and forbidden(mapped, allow):
        return True
    return (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_unspecified
            or ip.is_reserved or not ip.is_global)


def resolve(host: str, port: int, allow) -> list[str]:
    """The addresses host resolves to, all of them permitted (DestRefused otherwise)."""
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolved(f"host {host[:80]!r} does not resolve ({exc})") from None
    addrs = list(dict.fromkeys(info[4][0] for info in infos))
    for a in addrs:
        ip = ipaddress.ip_address(a.split("%")[0])
        if forbidden(ip, allow):
            raise DestRefused(f"host {host[:80]!r} is {ip} (loopback, private, link-local, multicast or "
                              "reserved): webhooks do not go there unless [epcis] webhook_allow in "
                              "settings.toml permits it")
    if not addrs:
        raise Unresolved(f"host {host[:80]!r} does not resolve")
    return addrs


def allow_list(datadir_path) -> tuple:
    """[epcis] webhook_allow of DIR/settings.toml as networks (() when unset)."""
    from .. import settings
    return tuple(ipaddress.ip_network(n, strict=False)
                 for n in settings.load(datadir_path).epcis.get("webhook_allow", ()))


def redacted(url: str) -> str:
    """A dest as logs and lastError show it: no user, password or query (they may hold secrets).

    >>> redacted("https://u:pw@hook.example/in?key=s3cret#x")
    'https://hook.example/in'
    """
    u = urllib.parse.urlsplit(url)
    host = u.hostname or ""
    host = f"[{host}]" if ":" in host else host
    try:
        port = f":{u.port}" if u.port else ""
    except ValueError:
        port = ""
    return urllib.parse.urlunsplit((u.scheme, host + port, u.path, "", ""))
