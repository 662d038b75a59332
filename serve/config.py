"""What `tracecode serve` is asked to do, and the refusals of what cannot work or would
expose the data directory, found before anything is forked.

The rules, per listening address:
- beyond loopback, TLS (--tls-cert, --tls-key) or --allow-insecure (plain text on purpose);
- gRPC beyond loopback needs a clients file (--tokens): without one every caller of a gRPC
  server is an admin (tracecode.app.clients.LOCAL);
- HTTP does not need one: an HTTP caller without a valid bearer token is the anonymous public
  (tracecode.app.caller.PUBLIC), which reads the public window and nothing else; tokens from
  the clients file are what open enterprise and regulator views and writes over HTTP;
- --client-ca (mutual TLS) applies to gRPC only: the public window cannot ask phones for
  client certificates.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from ..datadir import DataDir
from ..errors import TracecodeError


class ServeError(TracecodeError):
    """The server cannot start as configured."""


@dataclass
class Config:
    datadir: Path
    address: str | None = "localhost:50051"   # gRPC; None: no gRPC
    http: str | None = None                   # HTTP; None: no HTTP
    workers: int = 0                  # 0: one per core
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None     # mutual TLS (gRPC): client certificates signed by this CA
    tokens: Path | None = None        # the clients file (tracecode.app.clients)
    allow_insecure: bool = False      # plain text beyond loopback
    grace: float = 10.0               # seconds in-flight calls get on SIGTERM
    keepalive: float = 60.0           # seconds between pings of a quiet gRPC connection
    audit_log: Path | None = None     # default DIR/audit.log (elsewhere for a read-only DIR)
    access_log: bool = False          # one log line per HTTP request (off: it costs throughput)
    http_app: str | None = None       # "module:factory" instead of tracecode.web.app:create_app

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


def split_address(address: str) -> tuple[str, int]:
    """>>> split_address("[::1]:8080")
    ('::1', 8080)
    """
    host, sep, port = address.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not host or int(port) > 65535:
        raise ServeError(f"address {address!r} must be HOST:PORT (e.g. localhost:50051, [::1]:50051)")
    return host.strip("[]"), int(port)


def join_address(host: str, port: int) -> str:
    """>>> join_address("::1", 80), join_address("localhost", 80)
    ('[::1]:80', 'localhost:80')
    """
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def web_settings(settings):
    """The WebSettings of the data directory's settings.toml [web] table (tracecode.web's
    plain settings module: no HTTP machinery is imported)."""
    from ..web.settings import WebSettings
    try:
        return WebSettings.from_mapping(settings.web)
    except (TracecodeError, TypeError, ValueError) as exc:
        raise ServeError(f"settings.toml [web]: {exc}") from None


def check(config: Config) -> None:
    """Refuse a configuration that cannot work, or would expose the service, before forking."""
    dd = DataDir(config.datadir)  # a data directory with a readable key (the index opens later)
    if config.address is None and config.http is None:
        raise ServeError("nothing to serve: give a gRPC address (--listen) or an HTTP one (--http)")
    grpc_host = http_host = None
    if config.address is not None:
        grpc_host, grpc_port = split_address(config.address)
    if config.http is not None:
        http_host, http_port = split_address(config.http)
        if grpc_host is not None and http_port and (http_host, http_port) == (grpc_host, grpc_port):
            raise ServeError(f"gRPC and HTTP cannot share {config.http}: give them different ports")
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ServeError("give --tls-cert and --tls-key together")
    if config.client_ca and config.address is None:
        raise ServeError("--client-ca applies to gRPC, which is not served (the public HTTP "
                         "window does not ask for client certificates)")
    if config.client_ca and not config.tls_cert:
        raise ServeError("--client-ca (mutual TLS) needs --tls-cert and --tls-key")
    for path in (config.tls_cert, config.tls_key, config.client_ca):
        if path is not None and not Path(path).is_file():
            raise ServeError(f"{path}: no such file")
    for what, host in (("gRPC", grpc_host), ("HTTP", http_host)):
        if host is None or config.tls_cert or is_loopback(host) or config.allow_insecure:
            continue
        raise ServeError(f"{host} ({what}) is not a loopback address: serve with TLS (--tls-cert, "
                         "--tls-key) or pass --allow-insecure to send plain text over the network")
    if config.tokens:
        from ..app.clients import ClientsFile
        ClientsFile.load(config.tokens)
    elif grpc_host is not None and not is_loopback(grpc_host):
        # without a clients file every gRPC caller would be an admin
        raise ServeError("a gRPC server beyond loopback needs a clients file: --tokens FILE (see "
                         "`tracecode token add`; it also names clients by certificate)")
    if config.http_app is not None:
        module, sep, name = config.http_app.partition(":")
        if not (sep and module and name.isidentifier()):
            raise ServeError(f"--http-app {config.http_app!r} must be MODULE:FACTORY")
        if config.http is None:
            raise ServeError("--http-app needs --http HOST:PORT")
    if config.http is not None and config.http_app is None:
        web_settings(dd.settings)   # settings.toml's [web] table, refused here rather than in a worker
    if config.workers < 0:
        raise ServeError("--workers must be 0 (one per core) or more")
    if config.grace < 0:
        raise ServeError("--grace must be 0 or more seconds")
