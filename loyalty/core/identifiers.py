"""Member numbers, card barcodes and opaque secrets: generation and hashing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from loyalty.core.errors import DomainError

MEMBER_NUMBER_DIGITS = 10  # nine random digits and a Luhn check digit


def luhn_check_digit(digits: str) -> str:
    total = 0
    # Walking from the right, every second digit (starting with the rightmost payload digit,
    # which sits next to the check digit) is doubled.
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def new_member_number() -> str:
    payload = str(
        secrets.randbelow(9 * 10 ** (MEMBER_NUMBER_DIGITS - 2)) + 10 ** (MEMBER_NUMBER_DIGITS - 2)
    )
    return payload + luhn_check_digit(payload)


def normalise_member_number(raw: str) -> str:
    return "".join(ch for ch in raw if ch.isdigit())


def is_valid_member_number(raw: str) -> bool:
    number = normalise_member_number(raw)
    return len(number) == MEMBER_NUMBER_DIGITS and luhn_check_digit(number[:-1]) == number[-1]


def format_member_number(number: str) -> str:
    """Groups of digits for people to read out: 1234 5678 90."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def new_card_barcode() -> str:
    """The message printed in the member's card barcode: random, so a member number says nothing
    about it, and upper-case base32 so it fits QR, Code 128 and PDF417 alike."""
    return "TRW" + base64.b32encode(secrets.token_bytes(15)).decode("ascii")


def new_secret(prefix: str, nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret (refresh tokens, API keys). Passwords use Argon2id."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secrets_match(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def client_key(
    value: str,
    field: str = "externalId",
    code: str = "INVALID_EXTERNAL_ID",
    *,
    max_length: int = 200,
) -> str:
    """An id or idempotency key a client sends, trimmed; refused when empty or too long."""
    value = value.strip()
    if not value or len(value) > max_length:
        raise DomainError(code, f"An id of 1-{max_length} characters is needed", field)
    return value
