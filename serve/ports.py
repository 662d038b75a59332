"""The listening ports: reserved by the supervisor, shared by the workers (SO_REUSEPORT).

The supervisor holds a bound, not listening socket on each port while workers come and go,
so the port stays ours (port 0 becomes a fixed port once, for every worker and restart) and
gets no connections itself. Each worker binds its own listening socket on the same address;
the kernel spreads new connections over the listening ones.
"""
from __future__ import annotations

import socket

from .config import ServeError


def _addrinfo(host: str, port: int):
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def shared_socket(host: str, port: int) -> socket.socket:
    """A bound SO_REUSEPORT socket on host:port (not listening yet)."""
    family, kind, proto, _, addr = _addrinfo(host, port)
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def reserve(host: str, port: int) -> tuple[socket.socket, int]:
    """A bound (not listening) SO_REUSEPORT socket holding the port while workers start;
    refuses a port another server already listens on, even one with SO_REUSEPORT."""
    if port:
        family, kind, proto, _, addr = _addrinfo(host, port)
        probe = socket.socket(family, kind, proto)
        # SO_REUSEADDR: the connections of a crashed server linger in TIME_WAIT and must not
        # stop its restart; a socket listening there still refuses the probe (Linux)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        finally:
            probe.close()
    sock = shared_socket(host, port)
    return sock, sock.getsockname()[1]
