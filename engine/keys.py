"""Key material: the data directory's master key and the keys derived from it.

The master key is 32 random bytes in ``DIR/master.key``, created with mode 0600
and refused if anyone but its owner can read it. Each (scheme, product) gets
its own FF1 key by HKDF, so a leaked product key exposes only that product's
serials. Keys are wrapped so that repr() and str() never show them.

The data directory's cipher suite (chosen at init, kept in its index stamp) says
which primitives: "aes" = FF1-AES-256 with HKDF-SHA-256 (the default, and every
directory made before suites existed), "sm" = FF1-SM4 (GB/T 32907) with
HKDF over HMAC-SM3 (GB/T 32905), and SM3 for the audit chain and fingerprints.
"""
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import KeyStoreError

MASTER_KEY_FILE = "master.key"
MASTER_KEY_BYTES = 32
_INFO_PREFIX = b"tracecode/v1/"


@dataclass(frozen=True)
class Suite:
    """One cipher suite: FF1's block cipher and key size, the KDF's hash, the digest's name."""
    name: str
    ff1_cipher: str        # a tracecode.fpe.ff1.CIPHERS name
    ff1_key_bytes: int
    kdf_hash: type         # a cryptography.hazmat.primitives.hashes class
    digest: str            # what token (and audit) hashes use: "sha256" or "sm3"

    def hash(self, data: bytes) -> str:
        """Hex digest of data under this suite's hash (SHA-256 or SM3)."""
        h = hashes.Hash(self.kdf_hash())
        h.update(data)
        return h.finalize().hex()


SUITES = {
    "aes": Suite("aes", "aes", 32, hashes.SHA256, "sha256"),
    "sm": Suite("sm", "sm4", 16, hashes.SM3, "sm3"),
}
DEFAULT_SUITE = "aes"


def suite(name: str | None) -> Suite:
    """The suite of that name (None: the default, what a directory without one uses)."""
    try:
        return SUITES[name or DEFAULT_SUITE]
    except KeyError:
        raise KeyStoreError(f"unknown cipher suite {name!r}; choose one of {', '.join(SUITES)}") from None


class Key:
    """Bytes of key material that never print themselves."""

    __slots__ = ("_raw", "suite", "version")

    def __init__(self, raw: bytes, suite: Suite | None = None, version: int = 1):
        self._raw = bytes(raw)
        self.suite = suite or SUITES[DEFAULT_SUITE]
        self.version = version   # the master-key version a derived key descends from

    def __bytes__(self):
        return self._raw

    def __len__(self):
        return len(self._raw)

    def __repr__(self):
        return f"<Key {8 * len(self._raw)} bits>"

    __str__ = __repr__

    def fingerprint(self) -> str:
        """A short, non-reversible identifier for logs: first 8 hex of SHA-256 (SM3 under "sm")."""
        return self.suite.hash(b"tracecode-fingerprint" + self._raw)[:8]

    def derive(self, purpose: str, *context: bytes, length: int = 32) -> "Key":
        """HKDF child key (SHA-256 or SM3, by suite) bound to a purpose and context (scheme, product...)."""
        info = _INFO_PREFIX + purpose.encode() + b"".join(b"\x00" + c for c in context)
        hkdf = HKDF(algorithm=self.suite.kdf_hash(), length=length, salt=None, info=info)
        return Key(hkdf.derive(self._raw), self.suite, self.version)


def create_master_key(directory: Path, name: str = MASTER_KEY_FILE) -> Path:
    """Write a fresh random master key, readable by its owner only; never overwrite one."""
    path = Path(directory) / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyStoreError(f"{path} already exists; refusing to replace a master key") from None
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(MASTER_KEY_BYTES))
        f.flush()
        os.fsync(f.fileno())
    return path


def load_master_key(directory: Path, name: str = MASTER_KEY_FILE) -> Key:
    """The raw master key in a file (Keyring.key gives it its suite and version)."""
    path = Path(directory) / name
    try:
        st = path.stat()
    except FileNotFoundError:
        raise KeyStoreError(f"no master key at {path}; run `tracecode init {directory}` first") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyStoreError(
            f"{path} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run `chmod 600 {path}`")
    raw = path.read_bytes()
    if len(raw) != MASTER_KEY_BYTES:
        raise KeyStoreError(f"{path} holds {len(raw)} bytes, expected {MASTER_KEY_BYTES}")
    return Key(raw)
