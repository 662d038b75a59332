"""The audit log's chain: how a record is bound to the one before it, MAC'd and signed.

A chained record is the JSON object the log always wrote, with these fields last:

    "seq": N              1 for the first chained record of the file, then +1 each
    "prev": "hex"         the hash (SHA-256, or SM3 for the sm suite) of the previous
                          chained record's whole line (without its newline); "" for seq 1
    "chain": "sha256"     on seq 1 only: the hash the chain uses
    "gap": {"at", "bytes", "hash"}   bytes between the previous record and this one that
                          are no record (a torn write, a pre-chain log): named and hashed,
                          so they are bound into the chain instead of silently skipped
    "sig": "hex"          checkpoints only: Ed25519 over the line up to ',"sig":'
    "mac": "hex"          HMAC (of the chain's hash) over the line up to ',"mac":', with a
                          key derived from the audit signing key: a record anyone with
                          write access appends or rewrites fails it

A checkpoint is a record (event "checkpoint") whose signature covers its own seq and
prev, i.e. the chain head: whoever verifies with the public key (DIR/audit.pub) knows
every record up to it is as written. The signing key is DIR/audit.key (32 bytes, mode
0600, refused when others may read it), loaded by `load_keys` only, so key storage can
move (PKCS#11) by changing that one function.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import KeyStoreError

KEY_FILE = "audit.key"
PUBLIC_FILE = "audit.pub"
SIGNATURE = "ed25519"        # SM2 would be the sm suite's: neither cryptography nor hashlib signs it
HASHES = ("sha256", "sm3")   # hashlib has both (OpenSSL)
_SIG_MARK = b',"sig":"'
_MAC_MARK = b',"mac":"'
_RECORD_START = b'{"time":'
_MAC_INFO = b"tracecode/v1/audit-mac"


def chain_hash(datadir) -> str:
    """The hash of a data directory's audit chain: SM3 when its cipher suite (recorded in
    the index stamp) is sm, else SHA-256 (also when the stamp names no suite)."""
    from ..store.lmdb import stamp
    try:
        found = stamp.read(datadir) or {}
    except Exception:  # noqa: BLE001 - a damaged stamp is the index's error to report, not the log's
        found = {}
    suite = str(found.get("crypto") or found.get("suite") or found.get("cipher_suite") or "aes").lower()
    return "sm3" if suite.startswith("sm") else "sha256"


def digest(name: str, data: bytes) -> str:
    return hashlib.new(name, data).hexdigest()


@dataclass(frozen=True)
class AuditKeys:
    """The signing key, its public half (raw, hex) and the MAC key derived from it."""
    signer: Ed25519PrivateKey | None
    public: str
    mac_key: bytes | None

    def sign(self, data: bytes) -> str:
        return self.signer.sign(data).hex()

    def mac(self, name: str, data: bytes) -> str:
        return hmac.digest(self.mac_key, data, name).hex()   # one OpenSSL call

    def __repr__(self):
        return f"<AuditKeys public {self.public[:16]}...>"


def _public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def _mac_key(seed: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_MAC_INFO).derive(seed)


def _publish(directory: Path, public: str) -> None:
    path = directory / PUBLIC_FILE
    if not path.exists():
        _create_once(path, (public + "\n").encode(), 0o644)


def _create_once(path: Path, data: bytes, mode: int) -> bool:
    """Write a file whole or not at all, never replacing one (a temporary file linked into
    place: a process racing us reads either nothing or all of it). False if it existed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def load_keys(directory, *, create: bool = True) -> AuditKeys:
    """The audit signing key of a directory (DIR/audit.key), made on first use when
    `create`. Like the master key: 32 bytes, owner-only, never printed."""
    directory = Path(directory)
    path = directory / KEY_FILE
    if not path.exists():
        if not create:
            raise KeyStoreError(f"no audit key at {path}")
        _create_once(path, os.urandom(32), 0o600)
    st = path.stat()
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyStoreError(f"{path} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
                            f"run `chmod 600 {path}`")
    seed = path.read_bytes()
    if len(seed) != 32:
        raise KeyStoreError(f"{path} holds {len(seed)} bytes, expected 32")
    signer = Ed25519PrivateKey.from_private_bytes(seed)
    keys = AuditKeys(signer, _public_hex(signer), _mac_key(seed))
    if create:
        _publish(directory, keys.public)
    return keys


def public_key(hex_or_path) -> str:
    """A public key given as hex or as a file holding it (audit.pub)."""
    text = str(hex_or_path).strip()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text.lower()):
        text = Path(text).read_text().strip()
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))   # a malformed one fails here
    return text.lower()


def signature_ok(public: str, body: bytes, sig: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public)).verify(bytes.fromhex(sig), body)
        return True
    except Exception:  # noqa: BLE001 - InvalidSignature, or a sig that is not hex
        return False


def seal(body: bytes, *, seq: int, prev: str, name: str, keys: AuditKeys, gap=None,
         sign: bool = False) -> bytes:
    """A record's line (no newline) from its JSON without the closing brace."""
    out = body + b',"seq":%d,"prev":"%s"' % (seq, prev.encode())
    if seq == 1:
        out += b',"chain":"%s"' % name.encode()
    if gap is not None:
        out += b',"gap":{"at":%d,"bytes":%d,"hash":"%s"}' % (gap[0], gap[1], gap[2].encode())
    if sign:
        out += _SIG_MARK + keys.sign(out).encode() + b'"'
    return out + _MAC_MARK + keys.mac(name, out).encode() + b'"}'


def address_of(peer: str) -> str:
    """A caller's address without its port: "ipv4:10.0.0.7:5100" -> "10.0.0.7", "ipv6:[::1]:80"
    -> "::1"; an HTTP adapter's host as it is."""
    kind, sep, rest = peer.partition(":")
    if not sep or kind not in ("ipv4", "ipv6"):
        return peer
    if rest.startswith("["):
        return rest[1:rest.find("]")] if "]" in rest else rest
    return rest.rpartition(":")[0] or rest


def pseudonym(keys: AuditKeys, peer: str) -> str:
    """What the audit log keeps of an anonymous caller's address (PIPL: no IP address is
    stored): a keyed hash, the same for every refusal from one address, so a flood from
    one place shows as one; only the holder of the audit key can test an address against
    it (`tracecode audit show --address`)."""
    if not peer:
        return ""
    return "anon-" + keyed_name(keys, "peer", address_of(peer))


def keyed_name(keys: AuditKeys, kind: str, text: str) -> str:
    """16 hex of an HMAC of a name under the audit key: a name the log must not keep
    (an address, a purged scanner's identity) that its key holder can still match."""
    return hmac.digest(keys.mac_key, kind.encode() + b"\0" + text.encode(), "sha256").hex()[:16]


def digest_range(name: str, fd: int, start: int, stop: int, extra: bytes = b"") -> str:
    """The hash of bytes start..stop of an open file, then `extra`, read a chunk at a time."""
    h = hashlib.new(name)
    while start < stop:
        part = os.pread(fd, min(CHUNK * 16, stop - start), start)
        if not part:
            break
        h.update(part)
        start += len(part)
    h.update(extra)
    return h.hexdigest()


def chained(line: bytes) -> dict | None:
    """A line's record if it is a chained one (seq, prev, mac), else None."""
    if not line.startswith(_RECORD_START) or _MAC_MARK not in line:
        return None
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    if (isinstance(rec, dict) and isinstance(rec.get("seq"), int) and not isinstance(rec["seq"], bool)
            and isinstance(rec.get("prev"), str) and isinstance(rec.get("mac"), str)):
        return rec
    return None


def mac_body(line: bytes) -> bytes:
    return line[:line.rfind(_MAC_MARK)]


def sig_body(line: bytes) -> bytes:
    return line[:line.rfind(_SIG_MARK)]


CHUNK = 1 << 16


def last_record(fd: int, size: int):
    """(end offset, line, record) of the last chained record in the first `size` bytes of
    an open file, read backwards a chunk at a time; None if there is none."""
    buf, base = b"", size
    end = 0          # lines ending at or before buf[end] are yet to be examined
    while True:
        if base > 0:
            step = min(CHUNK, base)
            base -= step
            buf = os.pread(fd, step, base) + buf
            end += step
        while True:
            nl = buf.rfind(b"\n", 0, end)
            if nl < 0:
                break
            start = buf.rfind(b"\n", 0, nl) + 1
            if start == 0 and base > 0:
                break               # the line may begin before what was read
            rec = chained(buf[start:nl])
            if rec is not None:
                return base + nl + 1, buf[start:nl], rec
            end = start
        if base == 0:
            return None
        buf = buf[:end]   # what was examined is not needed again: reading back stays linear
