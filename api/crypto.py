"""Personal numbers at rest: phone and ID numbers are stored encrypted (AES-256-GCM), with a keyed hash
(HMAC-SHA256) beside them for exact lookups, so a database dump, a backup or a `psql` session shows no
number in clear.

Keys come from `PII_ENCRYPTION_KEY`: `kid:base64key[,kid:base64key …]`, 32-byte keys, the first one
current. Every stored value names the key that encrypted it (`enc1:<kid>:<nonce+ciphertext>`), so a new
key can be put first while the old ones stay listed to read what they wrote (`flask reencrypt-pii`
rewrites old values with the current key). The lookup hashes are keyed by the *last* key listed (or
`PII_HASH_KEY`): it stays when keys rotate, so hashes never need recomputing. The embedded default uses
a fixed development key; production refuses to start without `PII_ENCRYPTION_KEY`.

The ciphertext is bound to its column (associated data), so a value copied into another column does
not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

PREFIX = "enc1"
DEV_PII_KEY = "dev:" + base64.b64encode(hashlib.sha256(b"linli-development-pii-key").digest()).decode()


class KeyringError(ValueError):
    """PII_ENCRYPTION_KEY cannot be read."""


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]  # kid -> 32-byte key, in the order given
    current: str
    hash_key: bytes

    @classmethod
    def parse(cls, spec: str, hash_key: str = "") -> Keyring:
        keys: dict[str, bytes] = {}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            kid, sep, encoded = part.partition(":")
            if not sep or not re.fullmatch(r"[A-Za-z0-9_-]{1,16}", kid):
                raise KeyringError("PII_ENCRYPTION_KEY entries are kid:base64key (kid: 1–16 letters, digits, - or _)")
            try:
                key = base64.b64decode(encoded, validate=True)
            except ValueError as exc:
                raise KeyringError(f"PII_ENCRYPTION_KEY {kid!r} is not base64") from exc
            if len(key) != 32:
                raise KeyringError(f"PII_ENCRYPTION_KEY {kid!r} must be 32 bytes (AES-256), got {len(key)}")
            keys[kid] = key
        if not keys:
            raise KeyringError("PII_ENCRYPTION_KEY holds no key")
        last = list(keys.values())[-1]
        hashing = hash_key.encode() if hash_key else hmac.new(last, b"linli-pii-lookup-hash", hashlib.sha256).digest()
        return cls(keys, next(iter(keys)), hashing)


_keyring = Keyring.parse(DEV_PII_KEY)
# Every encrypted column (for `flask reencrypt-pii`); a new one is added here with its model.
ENCRYPTED_COLUMNS = (("users", "phone"), ("elders", "phone"))


def configure(spec: str, hash_key: str = "") -> None:
    """Use these keys from now on (the app factory and the migrations call this)."""
    global _keyring
    _keyring = Keyring.parse(spec or DEV_PII_KEY, hash_key)


def current_key_id() -> str:
    return _keyring.current


def new_key() -> str:
    """A fresh key for PII_ENCRYPTION_KEY's value (base64 of 32 random bytes)."""
    return base64.b64encode(os.urandom(32)).decode()


def encrypt(value: str, context: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_keyring.keys[_keyring.current]).encrypt(nonce, value.encode(), context.encode())
    return f"{PREFIX}:{_keyring.current}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX + ":")


def key_id(stored: str) -> str | None:
    return stored.split(":", 2)[1] if is_encrypted(stored) else None


def decrypt(stored: str, context: str) -> str:
    if not is_encrypted(stored):
        return stored  # written before encryption (the migration encrypts such rows)
    _prefix, kid, payload = stored.split(":", 2)
    key = _keyring.keys.get(kid)
    if key is None:
        raise KeyringError(f"a value was encrypted with key {kid!r}, which PII_ENCRYPTION_KEY no longer lists")
    raw = base64.urlsafe_b64decode(payload.encode())
    return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()


def normalise_phone(value: str) -> str:
    """Digits only, full-width folded, without the +86/0086 country prefix: one form per number."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value))
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            return digits[len(prefix) :]
    return digits


def lookup_hash(value: str | None, kind: str = "phone") -> str | None:
    """The keyed hash of a number for exact lookups (`WHERE phone_hash = :h`); None for none."""
    if not value:
        return None
    normal = normalise_phone(value) if kind == "phone" else unicodedata.normalize("NFKC", value).strip().upper()
    return hmac.new(_keyring.hash_key, f"{kind}:{normal}".encode(), hashlib.sha256).hexdigest()


class Encrypted(TypeDecorator[str]):
    """A string column stored encrypted; `context` names the column ("users.phone") it is bound to."""

    impl = String(160)
    cache_ok = True

    def __init__(self, context: str, length: int = 160) -> None:
        super().__init__(length)
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return encrypt(value, self.context)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return decrypt(value, self.context)
