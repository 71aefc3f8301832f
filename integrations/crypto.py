"""Authenticated encryption of credentials: AES-256-GCM under a key ring from OPBOX_ENCRYPTION_KEYS.

A sealed value is `v1:<key id>:<base64url(nonce || ciphertext+tag)>`. The key id is derived from the key,
so configuration lists keys only; the first key encrypts, every key decrypts (rotation without downtime).
Each value is sealed with associated data naming its row and field, so a ciphertext copied into another
row does not decrypt.
"""

import base64
import binascii
import hashlib
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

FORMAT_VERSION = "v1"
NONCE_BYTES = 12
KEY_ID_LENGTH = 8  # hex characters of key_id_for
SEALED_HEAD_LENGTH = len(FORMAT_VERSION) + KEY_ID_LENGTH + 2  # "v1:<key id>:", enough for sealed_key_id


class EncryptionError(Exception):
    """Base of every encryption failure; messages name key ids, never keys or plaintext."""


class KeyConfigurationError(EncryptionError):
    pass


class UnknownKeyError(EncryptionError):
    def __init__(self, key_id: str):
        self.key_id = key_id
        super().__init__(
            f"Credentials were encrypted with key id {key_id}, which is not in OPBOX_ENCRYPTION_KEYS. "
            "Add that key back (after the current first key) to decrypt them."
        )


class DecryptionError(EncryptionError):
    def __init__(self, key_id: str):
        self.key_id = key_id
        super().__init__(
            f"Credentials sealed with key id {key_id} failed authentication: the value was altered "
            "or belongs to another row."
        )


def decode_key(encoded: str) -> bytes:
    """A key as `Fernet.generate_key()` prints it: 32 random bytes in URL-safe base64."""
    try:
        raw = base64.urlsafe_b64decode(encoded.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise KeyConfigurationError("An OPBOX_ENCRYPTION_KEYS entry is not URL-safe base64.") from None
    if len(raw) != 32:
        raise KeyConfigurationError(
            f"An OPBOX_ENCRYPTION_KEYS entry decodes to {len(raw)} bytes; each key must be 32 bytes."
        )
    return raw


def key_id_for(raw_key: bytes) -> str:
    """A short, stable, non-secret name for a key: a domain-separated hash of it."""
    return hashlib.sha256(b"opbox-key-id:" + raw_key).hexdigest()[:KEY_ID_LENGTH]


class KeyRing:
    def __init__(self, encoded_keys: list[str]):
        keys = [decode_key(k) for k in encoded_keys if k.strip()]
        if not keys:
            raise KeyConfigurationError("OPBOX_ENCRYPTION_KEYS is empty: set at least one key.")
        self._ciphers = {key_id_for(k): AESGCM(k) for k in keys}
        self.primary_key_id = key_id_for(keys[0])

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    def __repr__(self):
        return f"<KeyRing primary={self.primary_key_id} keys={len(self._ciphers)}>"

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.primary_key_id].encrypt(nonce, plaintext, associated_data)
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{FORMAT_VERSION}:{self.primary_key_id}:{body}"

    def decrypt(self, token: str, associated_data: bytes) -> bytes:
        key_id = sealed_key_id(token)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyError(key_id)
        try:
            blob = base64.urlsafe_b64decode(token.split(":", 2)[2].encode("ascii"))
            return cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated_data)
        except (InvalidTag, binascii.Error, ValueError):
            raise DecryptionError(key_id) from None


def sealed_key_id(token: str) -> str:
    """The key id a sealed value names, without decrypting it."""
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != FORMAT_VERSION:
        raise EncryptionError("A stored credential is not in the expected sealed format.")
    return parts[1]


@lru_cache(maxsize=4)
def _key_ring_for(encoded_keys: tuple[str, ...]) -> KeyRing:
    return KeyRing(list(encoded_keys))


def key_ring() -> KeyRing:
    """The key ring of the current settings (cached per distinct key list, so tests may override it)."""
    return _key_ring_for(tuple(settings.OPBOX_ENCRYPTION_KEYS))
