"""The signals of a person, normalised and kept as keyed hashes.

An email address is reduced to what its provider delivers to: lower case, `googlemail.com` is
`gmail.com`, and for providers that ignore them the dots (Gmail) and `+tags` (Gmail, Outlook,
iCloud, Proton, Fastmail…) are dropped. Phones are E.164 already (the members area normalises
them). Device ids, client addresses and payment tokens are taken as sent, trimmed.

Only HMAC-SHA256 digests are stored, under a random key made once per installation, so the
tables hold no address, number or token, and a digest cannot be checked against a guess
without the key. The members' own columns are never searched.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from disposable_email_domains import blocklist
from rapidfuzz.distance import Levenshtein
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.referrals.models import ReferralKey
from loyalty.storage.database import insert_for

EMAIL = "email"
PHONE = "phone"
DEVICE = "device"
CLIENT = "client"
PAYMENT = "payment"
# The kinds that say "the same person"; a client address is shared by households and offices.
IDENTITY_KINDS = (EMAIL, PHONE, DEVICE, PAYMENT)

ALIASES = {"googlemail.com": "gmail.com"}
DOTS_IGNORED = frozenset({"gmail.com"})
TAGS_IGNORED = frozenset(
    {
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "icloud.com",
        "me.com",
        "protonmail.com",
        "proton.me",
        "fastmail.com",
    }
)
_KEY_NAME = "fingerprints"


def canonical_email(email: str) -> str:
    """The address as its provider delivers it; `email` is already valid and lower case."""
    local, _, domain = email.strip().lower().rpartition("@")
    domain = ALIASES.get(domain, domain)
    if domain in TAGS_IGNORED:
        local = local.split("+", 1)[0]
    if domain in DOTS_IGNORED:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def is_disposable(email: str) -> bool:
    domain = email.rpartition("@")[2].lower()
    # Subdomains of a throwaway domain are throwaway too.
    parts = domain.split(".")
    return any(".".join(parts[i:]) in blocklist for i in range(len(parts) - 1))


def looks_alike(a: str, b: str, max_distance: int) -> bool:
    """Two canonical addresses at one domain whose local parts differ by a few edits (anna1 /
    anna2); short local parts are left alone, where a few edits make anyone anyone."""
    local_a, _, domain_a = a.rpartition("@")
    local_b, _, domain_b = b.rpartition("@")
    if domain_a != domain_b or max_distance == 0 or min(len(local_a), len(local_b)) < 5:
        return False
    return Levenshtein.distance(local_a, local_b, score_cutoff=max_distance) <= max_distance


@dataclass(frozen=True)
class Fingerprint:
    kind: str
    digest: str


async def fingerprint_key(s: AsyncSession) -> bytes:
    """The installation's key, made at random by the first sign-up that needs it."""
    row = await s.get(ReferralKey, _KEY_NAME)
    if row is None:
        await s.execute(
            insert_for(s)(ReferralKey)
            .values(name=_KEY_NAME, value=secrets.token_hex(32))
            .on_conflict_do_nothing()
        )
        row = await s.get(ReferralKey, _KEY_NAME)
    assert row is not None
    return bytes.fromhex(row.value)


def digest(key: bytes, kind: str, value: str) -> Fingerprint:
    mac = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return Fingerprint(kind, mac)
