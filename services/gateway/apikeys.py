"""API key format: "sk_live_" or "sk_test_", 32 random base62 characters, a 6-character checksum.

The checksum (CRC-32 of everything before it, in base62) lets the gateway
reject a mistyped key without a Redis call. Only the SHA-256 of the whole
key is stored.
"""

import hashlib
import secrets
import string
import zlib

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
PREFIXES = {"live": "sk_live_", "test": "sk_test_"}
RANDOM_LENGTH = 32  # 32 base62 characters carry about 190 bits
CHECKSUM_LENGTH = 6  # 62**6 > 2**32, so any CRC-32 fits
KEY_LENGTH = len("sk_live_") + RANDOM_LENGTH + CHECKSUM_LENGTH
_ALLOWED = frozenset(ALPHABET)


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(head: str) -> str:
    return _base62(zlib.crc32(head.encode()), CHECKSUM_LENGTH)


def generate(mode: str) -> str:
    """Returns a new key for a "live" or "test" account."""
    head = PREFIXES[mode] + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return head + _checksum(head)


def new_key_id() -> str:
    """Returns a public key id, safe to log and show."""
    return "key_" + "".join(secrets.choice(ALPHABET) for _ in range(20))


def mode_of(key: str) -> str | None:
    """Returns "live" or "test" for a well-formed key, None for a malformed one."""
    if len(key) != KEY_LENGTH:
        return None
    mode = next((m for m, p in PREFIXES.items() if key.startswith(p)), None)
    body = key[len("sk_live_"):]
    if mode is None or not _ALLOWED.issuperset(body):
        return None
    head, check = key[:-CHECKSUM_LENGTH], key[-CHECKSUM_LENGTH:]
    return mode if _checksum(head) == check else None


def digest(key: str) -> str:
    """Returns the SHA-256 of the key in hex: the only form that is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    """Returns the part of a key that may be shown to tell keys apart: "sk_live_" and four characters."""
    return key[: len("sk_live_") + 4]
