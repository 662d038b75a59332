"""The command line's gRPC side: `tracecode token` and the --server
options of issue, verify, events and history (`client(args)`: the back end those verbs
run on instead of the data directory; engine/cli.py has one code path for both). gRPC is
imported only when one of them runs."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import TracecodeError


class RemoteUsageError(TracecodeError):
    """A --server invocation that cannot work (printed as one line)."""


# -- token ------------------------------------------------------------------------------------
def add_token_parser(sub) -> None:
    from ..app.clients import ROLES
    s = sub.add_parser("token", help="manage the server's clients file (token hashes, roles)")
    verbs = s.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    a = verbs.add_parser("add", help="add a client; prints its new token once")
    a.add_argument("file", type=Path, help="clients file (created if missing, mode 0600)")
    a.add_argument("--name", required=True, help="client name, shown in the audit log")
    a.add_argument("--role", action="append", required=True, choices=ROLES,
                   help="a role; repeat for several")
    a.add_argument("--product", action="append", default=[], metavar="SCHEME[:FIELD=VALUE,...]",
                   help="issuers: a product they may issue for (a value ending in * is a prefix)")
    a.add_argument("--certificate-cn", metavar="CN",
                   help="identify the client by its TLS certificate's common name, not a token")
    a.add_argument("--hash", choices=("sha256", "sm3"), default="sha256",
                   help="how the token is stored: SHA-256, or SM3 (GB/T 32905) for an sm-suite platform")
    a.set_defaults(func=cmd_token_add)
    ls = verbs.add_parser("list", help="list the clients (never a token)")
    ls.add_argument("file", type=Path)
    ls.set_defaults(func=cmd_token_list)
    r = verbs.add_parser("revoke", help="remove a client (servers notice within a second)")
    r.add_argument("file", type=Path)
    r.add_argument("name")
    r.set_defaults(func=cmd_token_revoke)


def cmd_token_add(args):
    from ..app.clients import ClientsFile
    clients = ClientsFile.open_or_create(args.file)
    token = clients.add(args.name, args.role, args.product, args.certificate_cn, digest=args.hash)
    if token:
        print(token)
        print(f"added {args.name} to {args.file}; the token above is shown once and stored only "
              f"as its {'SM3' if args.hash == 'sm3' else 'SHA-256'}", file=sys.stderr)
    else:
        print(f"added {args.name} to {args.file} (certificate CN={args.certificate_cn})",
              file=sys.stderr)


def cmd_token_list(args):
    from ..app.clients import ClientsFile
    for e in ClientsFile.load(args.file).entries:
        how = f"certificate CN={e['certificate_cn']}" if e.get("certificate_cn") else "token"
        print(f"{e['name']}\t{','.join(e['roles'])}\t{','.join(e.get('products') or []) or '-'}\t{how}")


def cmd_token_revoke(args):
    from ..app.clients import ClientsFile
    ClientsFile.load(args.file).revoke(args.name)
    print(f"revoked {args.name}", file=sys.stderr)


# -- the verbs with --server --------------------------------------------------------------------
def add_server_options(p) -> None:
    g = p.add_argument_group("talking to a server (then DIR is left out)")
    g.add_argument("--server", metavar="HOST:PORT", help="a tracecode server instead of DIR")
    g.add_argument("--token", help="bearer token (default: $TRACECODE_TOKEN)")
    g.add_argument("--token-file", type=Path, help="file holding the bearer token")
    g.add_argument("--tls", action="store_true", help="TLS, the server checked against system CAs")
    g.add_argument("--ca", type=Path, help="TLS, the server checked against this CA (PEM)")
    g.add_argument("--cert", type=Path, help="client certificate (PEM) for mutual TLS")
    g.add_argument("--key", type=Path, help="client private key (PEM) for mutual TLS")
    g.add_argument("--server-name", help="name to check the server's certificate against")


def client(args):
    # gRPC's own log lines (a failed TLS handshake...) would break "errors are one line":
    # the status the call fails with says the same
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    from .client import TLS, Client
    token = args.token or os.environ.get("TRACECODE_TOKEN")
    if args.token_file:
        token = args.token_file.read_text().strip()
    tls = None
    if args.tls or args.ca or args.cert:
        if (args.cert is None) != (args.key is None):
            raise RemoteUsageError("give --cert and --key together")
        tls = TLS(ca=args.ca, cert=args.cert, key=args.key, server_name=args.server_name)
    # an unreachable server is one line at once (Client.reach); a retry after a
    # restart is one line each, never a silent wait
    return Client(args.server, token=token, tls=tls, on_retry=say_retry)


def say_retry(message: str) -> None:
    print(f"tracecode: {message}", file=sys.stderr, flush=True)


def positionals(args, name: str) -> list:
    """Without DIR, the first positional belongs to the verb."""
    rest = getattr(args, name)
    rest = list(rest) if isinstance(rest, list) else [rest] if rest is not None else []
    return ([args.dir] if args.dir is not None else []) + rest
