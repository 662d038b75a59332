"""tracecode.v1: the gRPC contract's stubs (generated from proto/tracecode/v1 at build
time) and what is built on them: the Python client (sync and asyncio) and the server
behind `tracecode serve`.

    from tracecode.v1 import Client, AsyncClient, TLS, ServiceError

The names load on first use, so the `tracecode` command imports gRPC only for the
verbs that need it.
"""
import importlib

_EXPORTS = {"AsyncClient": "aio", "Checks": "client", "Client": "client", "Download": "client",
            "Stalled": "client", "TLS": "client", "Unreachable": "client", "Verdicts": "client",
            "ServiceError": "status"}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
