"""Redemption codes: random, short enough to read out, forgiving of how a person types them."""

from __future__ import annotations

import secrets

# Crockford base32 without the letters that read as digits or as each other (I, L, O, U).
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12  # 12 x 5 bits = 60 bits of randomness
CODE_GROUP = 4
# What a person may type for a character that is not in the alphabet (Crockford's decoding).
_CODE_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    """A fresh redemption code such as `K7QF-3M9X-2RTD`: 60 random bits, easy to read out."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return _grouped(raw)


def normalise_code(code: str) -> str | None:
    """The stored spelling of a code as typed at a till (any case, dashes and spaces optional,
    O/I/L read as 0/1), or None when it cannot be a code at all."""
    raw = "".join(code.split()).replace("-", "").upper().translate(_CODE_READS_AS)
    if len(raw) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in raw):
        return None
    return _grouped(raw)


def _grouped(raw: str) -> str:
    return "-".join(raw[i : i + CODE_GROUP] for i in range(0, len(raw), CODE_GROUP))
