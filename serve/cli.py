"""`tracecode serve DIR`: the command line of the supervisor (config.py says what is refused)."""
from __future__ import annotations

from pathlib import Path

DEFAULT_GRPC = "localhost:50051"

HELP = """\
What is served:
  (default)              gRPC on --listen (default localhost:50051)
  --http HOST:PORT       HTTP too: the public query window, the Digital Link resolver and the
                         JSON API, from the same worker processes
  --http HOST:PORT --http-only
                         HTTP alone (no gRPC port is opened)

Who may connect:
  An address beyond loopback needs TLS (--tls-cert, --tls-key; both gRPC and HTTP use them)
  or --allow-insecure. gRPC beyond loopback also needs a clients file (--tokens): without one
  every gRPC caller is an admin. HTTP does not: an HTTP request without a valid bearer token
  is the anonymous public, which only reads the public window; the tokens of --tokens are
  what open enterprise and regulator views and writes (links) over HTTP. --client-ca (mutual
  TLS) applies to gRPC only.

The pages and the resolver answer on the data directory's public base URL
(`tracecode settings DIR --base-url URL`), else on this server's HTTP address; Digital Link
URIs issued from the directory point at that base URL when it is set (else at id.gs1.org).
Rate limits, CORS origins and request sizes: the [web] table of DIR/settings.toml.
"""


def add_serve_parser(sub) -> None:
    import argparse
    s = sub.add_parser("serve", help="serve the data directory over gRPC and/or HTTP (every core)",
                       description="Serve a data directory from one worker process per core.",
                       epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("dir", help="data directory (see init)")
    from ..cli import store_url   # late: tracecode.cli imports this module
    s.add_argument("--store", metavar="URL", type=store_url, default=argparse.SUPPRESS,
                   help="the index's PostgreSQL URL (postgresql://HOST1,HOST2/DB?target_session_attrs="
                        "read-write: the workers find the primary, also after a failover), "
                        "overriding DIR/settings.toml's store")
    s.add_argument("--listen", "--address", dest="address", metavar="HOST:PORT", default=None,
                   help=f"gRPC address (default {DEFAULT_GRPC}; port 0: any free port)")
    s.add_argument("--http", metavar="HOST:PORT",
                   help="serve HTTP on this address too (e.g. 127.0.0.1:8080; port 0: any free port)")
    s.add_argument("--http-only", action="store_true",
                   help="serve HTTP alone (needs --http; no gRPC)")
    s.add_argument("--workers", type=int, default=0,
                   help="server processes sharing the ports (default: one per core)")
    s.add_argument("--tls-cert", type=Path, help="server certificate chain (PEM), gRPC and HTTP")
    s.add_argument("--tls-key", type=Path, help="server private key (PEM), gRPC and HTTP")
    s.add_argument("--client-ca", type=Path,
                   help="mutual TLS on gRPC: require client certificates signed by this CA (PEM)")
    s.add_argument("--tokens", type=Path,
                   help="clients file: token hashes, roles, products (see `tracecode token`)")
    s.add_argument("--allow-insecure", action="store_true",
                   help="allow plain text on an address beyond loopback")
    s.add_argument("--grace", type=float, default=10.0,
                   help="seconds in-flight calls and requests get to finish on SIGTERM (default 10)")
    s.add_argument("--keepalive", type=float, default=60.0, metavar="SECONDS",
                   help="gRPC: ping a quiet connection after this long and drop it if the ping goes "
                        "unanswered (a vanished client frees its streams; default 60)")
    s.add_argument("--access-log", action="store_true",
                   help="HTTP: log one line per request (default off: it costs throughput)")
    s.add_argument("--http-app", metavar="MODULE:FACTORY",
                   help="HTTP: serve FACTORY(service, base_url=URL) (an ASGI app) instead of the "
                        "public window (tracecode.web.app:create_app)")
    s.add_argument("--audit-log", type=Path, metavar="PATH",
                   help="the audit log (default DIR/audit.log); on a read-only DIR, which serves "
                        "verification without recording, a path on a writable disk (else what "
                        "is audited, issuance and refusals of rights, is refused or not logged)")
    s.set_defaults(func=cmd_serve)


def config_of(args):
    """The Config of parsed `serve` arguments (usage errors as ServeError)."""
    from .config import Config, ServeError
    if args.http_only and not args.http:
        raise ServeError("--http-only needs --http HOST:PORT")
    if args.http_only and args.address:
        raise ServeError("--http-only serves no gRPC: leave out --listen")
    address = None if args.http_only else (args.address or DEFAULT_GRPC)
    return Config(datadir=Path(args.dir), address=address, http=args.http, workers=args.workers,
                  tls_cert=args.tls_cert, tls_key=args.tls_key, client_ca=args.client_ca,
                  tokens=args.tokens, allow_insecure=args.allow_insecure, grace=args.grace,
                  keepalive=args.keepalive, audit_log=args.audit_log, access_log=args.access_log,
                  http_app=args.http_app)


def cmd_serve(args):
    import logging

    from .supervisor import serve
    logging.basicConfig(level=logging.INFO, format="tracecode serve: %(message)s")
    return serve(config_of(args))
