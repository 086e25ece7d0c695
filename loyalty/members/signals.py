"""What a sign-up tells about the person joining, beyond their profile: the device, the
client's address, a referral code. Every way in passes them to `create_member`, which adds
the member's own email and phone and keeps them with the `member.signed_up` it emits, for the
in-transaction reactions of that unit of work (the referrals area's fraud checks).

They are never written to the outbox: an event's payload reaches webhooks, and these are
personal data. After the transaction they are gone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

# Where a session keeps the signals of the members who joined in it, by member id.
_KEY = "trouw.signup_signals"
MAX_TEXT = 200  # device ids and codes are cut to this; the checks hash what is left


@dataclass(frozen=True)
class SignUpSignals:
    """Sent by the way in. `email` and `phone` are filled in by `create_member`."""

    device_id: str | None = None
    client_address: str | None = None
    referral_code: str | None = None
    email: str | None = None
    phone: str | None = None


# For ways in that know nothing more (the demo data).
NO_SIGNALS = SignUpSignals()


def _cut(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()[:MAX_TEXT]
    return value or None


def remember(
    s: AsyncSession, member_id: int, signals: SignUpSignals, email: str | None, phone: str | None
) -> SignUpSignals:
    kept = replace(
        signals,
        device_id=_cut(signals.device_id),
        client_address=_cut(signals.client_address),
        referral_code=_cut(signals.referral_code),
        email=email,
        phone=phone,
    )
    s.info.setdefault(_KEY, {})[member_id] = kept
    return kept


def signals_of(s: AsyncSession, member_id: int) -> SignUpSignals | None:
    """The signals of a member who joined in this unit of work (None otherwise)."""
    found: SignUpSignals | None = s.info.get(_KEY, {}).get(member_id)
    return found
