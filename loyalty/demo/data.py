"""Demo data: the demo programme, a few members with their consents (two of them came with
Anna's referral code: one bought, one is held for review), and a till key.

Everything here is published in the README, so it is for trying Trouw out, never for production.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from loyalty.auth import apikeys
from loyalty.auth.passwords import PasswordHasher
from loyalty.core.clock import Clock
from loyalty.members import service as members
from loyalty.members.models import Member
from loyalty.members.signals import NO_SIGNALS, SignUpSignals
from loyalty.points.service import MemberRef, PointsService, PurchaseInput, PurchaseLine
from loyalty.programme.install import install_programme
from loyalty.programme.loader import load_programme
from loyalty.programme.store import current_programme
from loyalty.referrals import codes as referral_codes
from loyalty.segments.service import SegmentsService
from loyalty.storage.database import Database

DEMO_PROGRAMME = Path(__file__).with_name("programme.yaml")
DEMO_PASSWORD = "koffie-met-appeltaart"  # noqa: S105 - published demo credential
DEMO_TILL_KEY = "trw_demotill0000_demo-only-never-use-this-till-key-in-production"


@dataclass(frozen=True)
class DemoMember:
    email: str
    first_name: str
    last_name: str
    birth_date: date
    locale: str
    preferred_channel: str
    interests: tuple[str, ...]
    consents: tuple[str, ...]
    # The demo member whose referral code they signed up with, and their phone's id.
    referred_by: str | None = None
    device_id: str | None = None


DEMO_MEMBERS = (
    DemoMember(
        "anna@example.com",
        "Anna",
        "de Vries",
        date(1990, 4, 12),
        "nl-NL",
        "push",
        ("koffie", "gebak"),
        ("email", "push", "in_app", "personalisation"),
    ),
    DemoMember(
        "bram@example.com",
        "Bram",
        "Jansen",
        date(1985, 11, 3),
        "nl-NL",
        "email",
        ("thee",),
        ("email", "personalisation"),
    ),
    DemoMember(
        "chloe@example.com",
        "Chloé",
        "Bakker",
        date(2001, 7, 28),
        "en-GB",
        "in_app",
        ("koffie", "lunch", "vegan"),
        ("push", "in_app"),
    ),
    # Dewi came with Anna's code and bought: her referral is due once the `referrals` job runs.
    DemoMember(
        "dewi@example.com",
        "Dewi",
        "Visser",
        date(1996, 2, 14),
        "nl-NL",
        "push",
        ("koffie", "gebak"),
        ("push", "in_app"),
        referred_by="anna@example.com",
        device_id="demo-device-dewi",
    ),
    # Eva came with Anna's code from a throwaway address: held for the back office's review.
    DemoMember(
        "eva.demo@mailinator.com",
        "Eva",
        "Smit",
        date(1999, 9, 9),
        "nl-NL",
        "email",
        (),
        (),
        referred_by="anna@example.com",
        device_id="demo-device-eva",
    ),
)


@dataclass(frozen=True)
class DemoSummary:
    loaded: bool
    member_email: str
    member_password: str
    till_key: str


async def load_demo(db: Database, clock: Clock, hasher: PasswordHasher) -> DemoSummary:
    """Load the demo programme, members and till key into an empty installation; an
    installation that already has a programme is left as it is."""
    summary = DemoSummary(False, DEMO_MEMBERS[0].email, DEMO_PASSWORD, DEMO_TILL_KEY)
    spec = load_programme(DEMO_PROGRAMME)
    password_hash = await asyncio.to_thread(hasher.hash, DEMO_PASSWORD)
    async with db.unit_of_work() as uow:
        s = uow.session
        if await current_programme(s) is not None:
            return summary
        now = clock.now()
        await install_programme(s, spec, now)
        codes: dict[str, str] = {}
        for demo in DEMO_MEMBERS:
            # Joined a while ago, so that the demo history after it reads naturally; those
            # who came with a member's code pass the fraud checks as any sign-up does.
            joined = now - JOINED_AGO
            signals = NO_SIGNALS
            if demo.referred_by is not None:
                signals = SignUpSignals(
                    device_id=demo.device_id, referral_code=codes[demo.referred_by]
                )
            member = await members.create_member(
                s,
                signals=signals,
                now=joined,
                email=demo.email,
                password_hash=password_hash,
                profile={
                    "first_name": demo.first_name,
                    "last_name": demo.last_name,
                    "birth_date": demo.birth_date,
                    "locale": demo.locale,
                    "preferred_channel": demo.preferred_channel,
                    "interests": list(demo.interests),
                },
                consents={channel: True for channel in demo.consents},
                consent_source="demo",
            )
            codes[demo.email] = await referral_codes.code_of(s, member.id, joined)
        await apikeys.install_api_key(s, "Demo till", ["pos"], DEMO_TILL_KEY, now)
        await uow.commit()
    await _history(db, clock)
    # Memberships as the nightly job would leave them, so the admin API shows them at once.
    await SegmentsService(db, clock).rebuild()
    return DemoSummary(True, summary.member_email, summary.member_password, summary.till_key)


# (member email, days ago, lines): some points long available, some still pending.
DEMO_PURCHASES = (
    ("anna@example.com", 40, [("KOF-CAP", "koffie", 2, "3.40"), ("TAA-APL", "gebak", 1, "4.25")]),
    ("anna@example.com", 21, [("ONT-GRA", "ontbijt", 2, "9.50"), ("KOF-LAT", "koffie", 2, "3.80")]),
    ("anna@example.com", 12, [("KOF-CAP", "koffie", 1, "3.40")]),
    (
        "anna@example.com",
        3,
        [("BON-25", "cadeaubon", 1, "25.00"), ("KOF-FLW", "koffie", 1, "4.10")],
    ),
    # Bram came weekly, then stayed away: at risk by his own rhythm (segment and offer).
    ("bram@example.com", 44, [("THE-MUN", "thee", 3, "2.90")]),
    ("bram@example.com", 37, [("THE-MUN", "thee", 2, "2.90")]),
    ("bram@example.com", 30, [("THE-MUN", "thee", 1, "2.90")]),
    # Dewi's first purchase qualifies Anna's referral; its return window has passed.
    ("dewi@example.com", 20, [("KOF-CAP", "koffie", 2, "3.40"), ("TAA-APL", "gebak", 1, "4.25")]),
)


JOINED_AGO = timedelta(days=45)


async def _history(db: Database, clock: Clock) -> None:
    points = PointsService(db, clock)
    now = clock.now()
    for i, (email, days_ago, lines) in enumerate(DEMO_PURCHASES):
        await points.record_purchase(
            PurchaseInput(
                member=MemberRef(member_number=await _number(db, email)),
                external_id=f"demo-purchase-{i}",
                occurred_at=now - timedelta(days=days_ago),
                store="utrecht",  # a store of the programme file (segments' location)
                lines=[
                    PurchaseLine(sku, Decimal(quantity), Decimal(price), category)
                    for sku, category, quantity, price in lines
                ],
            ),
            actor="demo",
        )


async def _number(db: Database, email: str) -> str:
    member = await demo_member(db, email)
    assert member is not None
    return member.member_number


async def demo_member(db: Database, email: str) -> Member | None:
    async with db.unit_of_work(write=False) as uow:
        return await members.member_by_email(uow.session, email)
