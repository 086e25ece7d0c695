"""The card a purchase was paid with, when the till sends a token for it (`paymentFingerprint`:
the payment provider's card token or fingerprint, never a card number).

Like a sign-up's signals it is kept only for the purchase's own transaction, for the
in-transaction reactions to `purchase.recorded` (the referrals area's fraud checks keep it
as a keyed hash). It is never stored in the purchase, written to the outbox or sent in a
webhook: after the transaction it is gone.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

# Where a session keeps the payment tokens of the purchases recorded in it, by purchase id.
_KEY = "trouw.purchase_payments"
MAX_TOKEN = 200  # longer tokens are cut to this; the checks hash what is left


def clean_token(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()[:MAX_TOKEN]
    return value or None


def remember_payment(s: AsyncSession, purchase_id: int, token: str | None) -> None:
    token = clean_token(token)
    if token is not None:
        s.info.setdefault(_KEY, {})[purchase_id] = token


def payment_of(s: AsyncSession, purchase_id: int) -> str | None:
    """The payment token of a purchase recorded in this unit of work (None otherwise)."""
    found: str | None = s.info.get(_KEY, {}).get(purchase_id)
    return found
