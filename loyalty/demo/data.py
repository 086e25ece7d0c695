"""Demo data: the demo programme, a few members with their consents, and a till key.

Everything here is published in the README, so it is for trying Trouw out, never for production.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from loyalty import apikeys, members
from loyalty.clock import Clock
from loyalty.passwords import PasswordHasher
from loyalty.programme.loader import load_programme
from loyalty.programme.store import apply_programme, current_programme
from loyalty.storage.database import Database
from loyalty.storage.models import Member

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
        ("email",),
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
        await apply_programme(s, spec, now)
        for demo in DEMO_MEMBERS:
            await members.create_member(
                s,
                now=now,
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
        await apikeys.install_api_key(s, "Demo till", ["pos"], DEMO_TILL_KEY, now)
        await uow.commit()
    return DemoSummary(True, summary.member_email, summary.member_password, summary.till_key)


async def demo_member(db: Database, email: str) -> Member | None:
    async with db.unit_of_work(write=False) as uow:
        return await members.member_by_email(uow.session, email)
