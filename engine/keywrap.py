"""Master keys wrapped by a key held in a PKCS#11 token (an HSM; Debian's softhsm2 in tests).

`tracecode key wrap DIR --pkcs11-module PATH --token LABEL --key-label L` encrypts each
master-key version under the token's AES key (CKM_AES_GCM, a fresh 96-bit nonce, the
version and suite as associated data, so a wrapped file cannot be passed off as another
version) into DIR/master[.vN].key.wrapped, checks that each unwraps to the same key, and
only then removes the clear files. From then on the keys exist in clear only in the memory
of a process that opened the directory, unwrapped by the token at open: the token's key
never leaves it (it is made non-extractable and sensitive), so a copy of the data directory
or of a backup is useless without the token and its PIN.

The PIN is read from an environment variable (TRACECODE_HSM_PIN unless another is named)
or from a file (first line; mode 0600 or stricter), never from the command line, and never
appears in a log, an error or a file tracecode writes: keys.json records where the PIN
comes from, not the PIN.
"""
from __future__ import annotations

import json
import os
import stat
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import KeyStoreError

PIN_ENV = "TRACECODE_HSM_PIN"
WRAPPED_SUFFIX = ".wrapped"
FORMAT = 1


@dataclass(frozen=True)
class Token:
    """Where the wrapping key is: the PKCS#11 module, the token's label, the key's label,
    and where the PIN comes from (an environment variable, or a file)."""
    module: str
    token: str
    key_label: str
    pin_env: str | None = PIN_ENV
    pin_file: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Token":
        return cls(**d)

    def where(self) -> str:
        return f"key {self.key_label!r} of token {self.token!r} ({self.module})"

    def pin_source(self) -> str:
        return f"the file {self.pin_file}" if self.pin_file else f"${self.pin_env or PIN_ENV}"

    def pin(self) -> str:
        """The PIN from its source; a KeyStoreError naming the source (never the PIN) if absent."""
        if self.pin_file:
            path = Path(self.pin_file)
            try:
                st = path.stat()
                if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                    raise KeyStoreError(f"the PIN file {path} is readable by others (mode "
                                        f"{stat.S_IMODE(st.st_mode):o}); run `chmod 600 {path}`")
                lines = path.read_text().splitlines()
            except OSError as exc:
                raise KeyStoreError(f"the PIN file {path} cannot be read ({exc.strerror})") from None
            if not lines or not lines[0]:
                raise KeyStoreError(f"the PIN file {path} is empty")
            return lines[0]
        pin = os.environ.get(self.pin_env or PIN_ENV)
        if not pin:
            raise KeyStoreError(f"the master keys are (to be) wrapped by {self.where()}: set the "
                                f"token's PIN in ${self.pin_env or PIN_ENV} (or give a PIN file)")
        return pin

    @contextmanager
    def _key(self, create: bool = False):
        """The wrapping key in an open session (created, non-extractable, if asked and absent)."""
        try:
            import pkcs11
            from pkcs11 import Attribute, KeyType, ObjectClass
        except ImportError:
            raise KeyStoreError("keys in an HSM need python-pkcs11: pip install 'tracecode[hsm]'") from None
        try:
            lib = pkcs11.lib(self.module)
        except (RuntimeError, OSError, pkcs11.PKCS11Error) as exc:
            raise KeyStoreError(f"the PKCS#11 module {self.module} cannot be loaded "
                                f"({type(exc).__name__})") from None
        try:
            token = lib.get_token(token_label=self.token)
        except (pkcs11.NoSuchToken, pkcs11.MultipleTokensReturned):
            raise KeyStoreError(f"no single token labelled {self.token!r} in {self.module}") from None
        pin = self.pin()
        try:
            session = token.open(user_pin=pin, rw=create)
        except pkcs11.PinIncorrect:
            raise KeyStoreError(f"token {self.token!r} refused the PIN from {self.pin_source()}") from None
        except pkcs11.PKCS11Error as exc:
            raise KeyStoreError(f"token {self.token!r} cannot be opened ({type(exc).__name__})") from None
        finally:
            del pin
        with session:
            try:
                key = session.get_key(label=self.key_label, key_type=KeyType.AES,
                                      object_class=ObjectClass.SECRET_KEY)
            except pkcs11.NoSuchKey:
                if not create:
                    raise KeyStoreError(f"token {self.token!r} holds no AES key labelled "
                                        f"{self.key_label!r}") from None
                key = session.generate_key(KeyType.AES, 256, label=self.key_label, store=True,
                                           template={Attribute.EXTRACTABLE: False,
                                                     Attribute.SENSITIVE: True})
            except pkcs11.MultipleObjectsReturned:
                raise KeyStoreError(f"token {self.token!r} holds several keys labelled "
                                    f"{self.key_label!r}; give a label of its own") from None
            yield key

    def wrap(self, raw: bytes, aad: bytes, *, create: bool = False) -> dict:
        """The wrapped form of a master key (a JSON-ready dict), checked to unwrap to it."""
        import pkcs11
        from pkcs11 import Mechanism
        from pkcs11.mechanisms import GCMParams
        nonce = os.urandom(12)
        with self._key(create) as key:
            try:
                ct = key.encrypt(raw, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, 128))
                back = key.decrypt(ct, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, 128))
            except pkcs11.PKCS11Error as exc:
                raise KeyStoreError(f"{self.where()} cannot wrap with AES-GCM ({type(exc).__name__})") from None
        if bytes(back) != raw:
            raise KeyStoreError(f"{self.where()} did not unwrap the wrapped key to the same key; "
                                f"nothing was changed")
        return {"tracecode_wrapped_key": FORMAT, "mechanism": "CKM_AES_GCM", "key_label": self.key_label,
                "nonce": nonce.hex(), "aad": aad.hex(), "ciphertext": bytes(ct).hex()}

    def unwrap(self, blob: dict, aad: bytes) -> bytes:
        import pkcs11
        from pkcs11 import Mechanism
        from pkcs11.mechanisms import GCMParams
        if bytes.fromhex(blob.get("aad", "")) != aad:
            raise KeyStoreError(f"the wrapped key is of another version or suite ({self.where()})")
        with self._key() as key:
            try:
                raw = key.decrypt(bytes.fromhex(blob["ciphertext"]), mechanism=Mechanism.AES_GCM,
                                  mechanism_param=GCMParams(bytes.fromhex(blob["nonce"]), aad, 128))
            except pkcs11.PKCS11Error:
                raise KeyStoreError(f"{self.where()} cannot unwrap this master key (another key, "
                                    f"or the wrapped file was changed)") from None
        return bytes(raw)


def read_wrapped(path: Path) -> dict:
    try:
        blob = json.loads(path.read_text())
        if blob["tracecode_wrapped_key"] != FORMAT:
            raise ValueError
        bytes.fromhex(blob["ciphertext"])
        bytes.fromhex(blob["nonce"])
    except FileNotFoundError:
        raise KeyStoreError(f"no wrapped master key at {path}") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise KeyStoreError(f"{path} is not a wrapped master key tracecode wrote; restore it "
                            f"from a backup") from None
    return blob


def remove_clear(path: Path) -> None:
    """Overwrite a clear key file with zeros (fsynced), then remove it. On a copy-on-write
    file system or an SSD the old blocks may survive: the README says to wrap keys on a
    fresh directory, before its first codes, where that matters."""
    size = path.stat().st_size
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, bytes(size))
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()
