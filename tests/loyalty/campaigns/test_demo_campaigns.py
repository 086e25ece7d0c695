"""The demo (`make run`) shows campaigns working: its members enter the welcome series when
they sign up, get the welcome message and points, and after the wait a member who came back
leaves while one who stayed away gets the reminder (or, without push consent, the log says
why)."""

from __future__ import annotations

from api.wiring import build_reactions
from loyalty.campaigns.holdouts import held_out
from loyalty.campaigns.runner import run_due
from loyalty.core.clock import FixedClock
from loyalty.core.reactions import ReactionRunner
from loyalty.demo.data import demo_member, load_demo
from loyalty.storage.database import Database
from tests.loyalty.campaigns.helpers import contact_log, journeys, steps
from tests.loyalty.services import cheap_hasher


async def test_the_demo_members_are_in_the_welcome_series(db: Database, clock: FixedClock) -> None:
    await load_demo(db, clock, cheap_hasher())
    runner = ReactionRunner(db, build_reactions(), clock)
    while await runner.run_once():
        pass
    await run_due(db, clock.now())
    anna = await demo_member(db, "anna@example.com")
    bram = await demo_member(db, "bram@example.com")
    assert anna is not None and bram is not None
    assert not held_out("welkom", anna.id, 0.1) and not held_out("welkom", bram.id, 0.1)
    found = {j.member_id: j for j in await journeys(db)}
    assert found[anna.id].state == found[bram.id].state == "completed"
    taken = {
        member_id: [(s.step_key, s.state) for s in await steps(db) if s.enrolment_id == j.id]
        for member_id, j in found.items()
    }
    # Anna bought three days ago: she leaves after the wait; Bram stayed away.
    assert [k for k, _ in taken[anna.id]] == [
        "bericht",
        "punten",
        "even-wachten",
        "al-geweest",
        "klaar",
    ]
    assert [k for k, _ in taken[bram.id]][-2:] == ["herinnering", "klaar"]
    log = {(c.member_id, c.ref.split(":")[-1], c.sent) for c in await contact_log(db)}
    assert (anna.id, "bericht", True) in log
