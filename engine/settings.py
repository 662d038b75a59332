"""A data directory's settings: DIR/settings.toml.

    base_url = "https://trace.example.gov.cn"

`base_url` is the platform's public address: the pages and the GS1 Digital Link resolver
of `tracecode serve --http` answer there, and the Digital Link URIs the directory issues
(`tracecode issue --render dl`, and so the QR codes printed from them) point at it instead
of id.gs1.org. A path prefix is allowed (https://example.gov.cn/trace), nothing else: no
query, fragment, user or password. No file, or no key: not set.

An optional `[web]` table tunes the HTTP face (tracecode.web.settings.WebSettings: rate
limits, CORS origins, request sizes, a trusted proxy), e.g.

    [web]
    per_address = 120          # public queries a minute per client address
    cors_origins = ["https://app.example.gov.cn"]

`tracecode serve` checks it before starting (an unknown name or a bad value is refused).

>>> Settings(base_url="HTTPS://Trace.Example.gov.cn/trace/").base_url
'https://trace.example.gov.cn/trace'
>>> try:
...     Settings(base_url="https://trace.example.gov.cn/?x=1")
... except SettingsError as exc:
...     print(str(exc).split(": ")[0])
base URL 'https://trace.example.gov.cn/?x=1' has a query
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

from .errors import TracecodeError
from .store.lmdb.durable import write_atomically

NAME = "settings.toml"
GS1_RESOLVER = "https://id.gs1.org"   # where Digital Link URIs point when no base URL is set
MAX_URL = 200
_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                   r"|\[[0-9a-f:.]+\]")
_PATH = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*/?")


class SettingsError(TracecodeError):
    """A setting that cannot be used, or a settings file that cannot be read."""


def normalise_base_url(url: str) -> str:
    """The base URL in canonical form (lower-case scheme and host, no trailing slash)."""
    if not isinstance(url, str) or not url.strip():
        raise SettingsError("base URL is empty: give one like https://trace.example.gov.cn")
    url = url.strip()
    if len(url) > MAX_URL:
        raise SettingsError(f"base URL is longer than {MAX_URL} characters")
    if not url.isascii() or any(c.isspace() or ord(c) < 32 for c in url):
        raise SettingsError(f"base URL {url!r} must be ASCII without spaces (punycode for a "
                            "non-ASCII host name)")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise SettingsError(f"base URL {url!r} must start with https:// (or http://)")
    for what, there in (("a query", parts.query or url.endswith("?")),
                        ("a fragment", parts.fragment or "#" in url),
                        ("a user or password", "@" in parts.netloc)):
        if there:
            raise SettingsError(f"base URL {url!r} has {what}: give scheme, host, optional port "
                                "and path prefix only")
    try:
        port = parts.port
    except ValueError:
        raise SettingsError(f"base URL {url!r} has a bad port") from None
    host = (parts.hostname or "").lower()
    shown = f"[{host}]" if ":" in host else host
    if not host or not _HOST.fullmatch(shown):
        raise SettingsError(f"base URL {url!r} has no valid host name")
    if not _PATH.fullmatch(parts.path):
        raise SettingsError(f"base URL {url!r} has a path prefix with characters a URL path "
                            "cannot hold unencoded")
    netloc = shown + (f":{port}" if port is not None else "")
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


MAX_WEB_KEYS = 64


def _web_table(web) -> dict:
    """The [web] table as plain values (names and types are WebSettings' to check)."""
    if not isinstance(web, dict):
        raise SettingsError("[web] must be a table of name = value")
    if len(web) > MAX_WEB_KEYS:
        raise SettingsError(f"[web] has more than {MAX_WEB_KEYS} settings")
    for name, value in web.items():
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, (str, int, float, bool)) for v in items) or len(items) > 1000:
            raise SettingsError(f"[web] {name} must be a number, a string, true/false or a "
                                "list of those")
    return dict(web)


def _epcis_table(epcis) -> dict:
    """The [epcis] table: webhook_allow = networks webhooks may reach though they are
    loopback or private (tracecode.app.webhook_guard)."""
    import ipaddress
    if not isinstance(epcis, dict):
        raise SettingsError("[epcis] must be a table of name = value")
    unknown = sorted(set(epcis) - {"webhook_allow"})
    if unknown:
        raise SettingsError(f"[epcis] unknown setting {unknown[0]!r} (known: webhook_allow)")
    allow = epcis.get("webhook_allow", [])
    if not isinstance(allow, list) or len(allow) > 1000 or not all(isinstance(n, str) for n in allow):
        raise SettingsError('[epcis] webhook_allow is a list of networks, e.g. ["127.0.0.0/8"]')
    for n in allow:
        try:
            ipaddress.ip_network(n, strict=False)
        except ValueError:
            raise SettingsError(f"[epcis] webhook_allow: {n[:60]!r} is not a network like 10.0.0.0/8") from None
    return dict(epcis)


def _rare_earth_table(table) -> dict:
    """The [rare_earth] table: tolerance = the mass balance's allowance, a fraction from 0 to 1
    (tracecode.categories.rare_earth reads it; 0.005 when absent)."""
    if not isinstance(table, dict):
        raise SettingsError("[rare_earth] must be a table of name = value")
    unknown = sorted(set(table) - {"tolerance"})
    if unknown:
        raise SettingsError(f"[rare_earth] unknown setting {unknown[0]!r} (known: tolerance)")
    t = table.get("tolerance", 0.0)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1:
        raise SettingsError(f"[rare_earth] tolerance is a fraction from 0 to 1 (0.005 = 0.5 %), got {t!r}")
    return dict(table)


@dataclass(frozen=True)
class Settings:
    base_url: str | None = None
    web: dict = field(default_factory=dict)   # tracecode.web.settings.WebSettings fields
    epcis: dict = field(default_factory=dict)   # [epcis] webhook_allow
    rare_earth: dict = field(default_factory=dict)   # [rare_earth] tolerance (categories.rare_earth reads it)
    store: str | None = None   # the index in PostgreSQL ("postgresql://..."); None: DIR/index (LMDB)

    def __post_init__(self):
        if self.base_url is not None:
            object.__setattr__(self, "base_url", normalise_base_url(self.base_url))
        object.__setattr__(self, "web", _web_table(self.web))
        object.__setattr__(self, "epcis", _epcis_table(self.epcis))
        object.__setattr__(self, "rare_earth", _rare_earth_table(self.rare_earth))
        if self.store is not None and not (isinstance(self.store, str)
                                           and self.store.startswith(("postgresql://", "postgres://"))):
            raise SettingsError(f"store must be a postgresql:// URL, got {self.store!r}")

    def changed(self, **values) -> "Settings":
        return replace(self, **values)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) not in (None, {})}


def load(datadir: str | Path) -> Settings:
    """DIR/settings.toml (defaults when there is none)."""
    path = Path(datadir) / NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: not a TOML file: {exc}") from None
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
    if "base_url" in data and not isinstance(data["base_url"], str):
        raise SettingsError(f"{path}: base_url must be a string")
    try:
        return Settings(**data)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None


def save(datadir: str | Path, settings: Settings) -> Path:
    """Write DIR/settings.toml atomically (a crash leaves the old file or the new one).

    An existing file keeps the operator's text, comments included: when only base_url
    changed, that one top-level line is replaced (or added, or removed); anything else
    rewrites the file (tomllib has no writer that keeps comments)."""
    path = Path(datadir) / NAME
    try:
        old = path.read_text("utf-8")
        was = load(datadir)
        edited = _with_base_url(old, settings) if (was.web, was.epcis) == (settings.web, settings.epcis) else None
    except (OSError, UnicodeDecodeError, SettingsError):
        edited = None
    if edited is None:
        import tomli_w
        edited = ("# tracecode data directory settings (`tracecode settings DIR`)\n"
                  + tomli_w.dumps(settings.to_dict()))
    write_atomically(path, edited.encode("utf-8"))
    return path


_BASE_URL_LINE = re.compile(r"^[ \t]*(?:base_url|\"base_url\"|'base_url')[ \t]*=.*$", re.M)
_TABLE_LINE = re.compile(r"^[ \t]*\[", re.M)


def _with_base_url(text: str, settings: Settings) -> str | None:
    """The file's text with only its top-level base_url line changed (None: no safe edit).

    >>> print(_with_base_url("# ours\\nbase_url = 'http://a' # old\\n[web]\\nx = 1\\n",
    ...                      Settings(base_url="https://b.cn")), end="")
    # ours
    base_url = "https://b.cn"
    [web]
    x = 1
    """
    table = _TABLE_LINE.search(text)
    top, rest = (text[:table.start()], text[table.start():]) if table else (text, "")
    lines = list(_BASE_URL_LINE.finditer(top))
    if len(lines) > 1:
        return None
    new = f"base_url = {_toml_string(settings.base_url)}\n" if settings.base_url else ""
    if lines:
        m = lines[0]
        end = m.end() + 1 if top[m.end():m.end() + 1] == "\n" else m.end()
        top = top[:m.start()] + new + top[end:]
    else:
        top = top + ("" if not top or top.endswith("\n") else "\n") + new
    out = top + rest
    try:   # the edit must read back as exactly these settings, or it is not made
        data = tomllib.loads(out)
    except tomllib.TOMLDecodeError:
        return None
    return out if data.get("base_url") == settings.base_url else None


def _toml_string(value: str) -> str:
    import tomli_w
    return tomli_w.dumps({"v": value}).partition("=")[2].strip()
