"""The demo (`make run`) shows referrals: Dewi came with Anna's code and bought, so Anna has
invited one friend and, once the `referrals` job has run, been rewarded for her; Eva came
with Anna's code from a throwaway address and waits for the back office's review."""

from __future__ import annotations

from loyalty.core.clock import FixedClock
from loyalty.demo.data import demo_member, load_demo
from loyalty.jobs import run_jobs
from loyalty.referrals.read import ReferralReads
from loyalty.storage.database import Database
from tests.loyalty.services import cheap_hasher


async def test_the_demo_has_a_referral_that_pays_out_and_one_held_for_review(
    db: Database, clock: FixedClock
) -> None:
    await load_demo(db, clock, cheap_hasher())
    anna = await demo_member(db, "anna@example.com")
    dewi = await demo_member(db, "dewi@example.com")
    eva = await demo_member(db, "eva.demo@mailinator.com")
    assert anna is not None and dewi is not None and eva is not None
    reads = ReferralReads(db)
    counts = await reads.counts(anna.id)
    assert (counts.invited, counts.rewarded) == (1, 0)

    bought = await reads.of_friend(dewi.id)
    assert bought is not None
    assert (bought.referrer_id, bought.state, bought.notice) == (anna.id, "qualified", None)
    [held] = await reads.held(10)
    assert (held.friend_id, held.referrer_id) == (eva.id, anna.id)
    assert (held.reasons, held.notice) == (["DISPOSABLE_EMAIL"], "REFERRAL_UNDER_REVIEW")

    # Dewi's purchase's return window has passed: the job gives both rewards.
    assert (await run_jobs(db, clock, ["referrals"]))["referrals"] == 1
    counts = await reads.counts(anna.id)
    assert (counts.invited, counts.rewarded) == (1, 1)
    figures = await reads.conversion()
    assert (figures.accepted, figures.rewarded, figures.held) == (1, 1, 1)
