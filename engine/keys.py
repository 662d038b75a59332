"""Key material: the data directory's master key and the keys derived from it.

The master key is 32 random bytes in ``DIR/master.key``, created with mode 0600
and refused if anyone but its owner can read it. Each (scheme, product) gets
its own AES-256 key by HKDF-SHA256, so a leaked product key exposes only that
product's serials. Keys are wrapped so that repr() and str() never show them.
"""
import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import KeyStoreError

MASTER_KEY_FILE = "master.key"
MASTER_KEY_BYTES = 32
_INFO_PREFIX = b"tracecode/v1/"


class Key:
    """Bytes of key material that never print themselves."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes):
        self._raw = bytes(raw)

    def __bytes__(self):
        return self._raw

    def __len__(self):
        return len(self._raw)

    def __repr__(self):
        return f"<Key {8 * len(self._raw)} bits>"

    __str__ = __repr__

    def fingerprint(self) -> str:
        """A short, non-reversible identifier for logs: first 8 hex of SHA-256."""
        return hashlib.sha256(b"tracecode-fingerprint" + self._raw).hexdigest()[:8]

    def derive(self, purpose: str, *context: bytes, length: int = 32) -> "Key":
        """HKDF-SHA256 child key bound to a purpose and context (scheme, product...)."""
        info = _INFO_PREFIX + purpose.encode() + b"".join(b"\x00" + c for c in context)
        hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info)
        return Key(hkdf.derive(self._raw))


def create_master_key(directory: Path) -> Path:
    """Write a fresh random master key, readable by its owner only; never overwrite one."""
    path = Path(directory) / MASTER_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyStoreError(f"{path} already exists; refusing to replace a master key") from None
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(MASTER_KEY_BYTES))
        f.flush()
        os.fsync(f.fileno())
    return path


def load_master_key(directory: Path) -> Key:
    path = Path(directory) / MASTER_KEY_FILE
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
