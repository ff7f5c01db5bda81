"""API keys: `jobq_<id>_<secret>`.

The id (10 characters) is public: it names the key in listings and revocations and finds its
row. The secret is 32 random bytes. The store keeps only SHA-256 of the whole key. A slow
password hash (bcrypt, argon2) exists to make guessing a low-entropy password expensive; a
256-bit random secret cannot be guessed, so one fast hash is as safe and keeps every request
cheap. The stored hash is compared with `hmac.compare_digest`, in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

PREFIX = "jobq_"
ID_LENGTH = 10
_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_key() -> tuple[str, str]:
    """(key id, full key). Show the full key once; store `digest(key)`."""
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))
    return key_id, f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key: str) -> str | None:
    """The id part of a well-formed key, None for anything else."""
    if not key.startswith(PREFIX):
        return None
    key_id, sep, secret = key[len(PREFIX) :].partition("_")
    if len(key_id) != ID_LENGTH or not sep or len(secret) < 32:
        return None
    return key_id


def matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(digest(key).encode(), stored_hash.encode())
