"""Each referral reward is given once: 50 retries of the friend's qualifying purchase sent at
the same moment, then several rewards jobs at once; the referrer's cap and the programme's
budget hold when several jobs give rewards at once. Both databases (on PostgreSQL the
requests and jobs really run in parallel)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from loyalty.core.clock import FixedClock
from loyalty.jobs import run_jobs
from loyalty.storage.database import Database
from tests.api.referral_support import (
    FRIEND_POINTS,
    RECORD_PURCHASE,
    REFERRER_POINTS,
    WINDOW,
    Joined,
    Shop,
    open_shop,
    purchase,
)
from tests.api.test_concurrency import IN_FLIGHT, all_at_once
from tests.support.server import ServerHandle


def _jobs_at_once(database_url: str, now: datetime, count: int) -> list[int]:
    async def one() -> int:
        db = Database(database_url)
        try:
            return (await run_jobs(db, FixedClock(now), ["referrals"]))["referrals"]
        finally:
            await db.dispose()

    async def run() -> list[int]:
        return list(await asyncio.gather(*(one() for _ in range(count))))

    return asyncio.run(run())


def test_fifty_retries_of_the_qualifying_purchase_reward_each_side_once(
    server: ServerHandle, clean_database: str, server_clock: FixedClock
) -> None:
    shop = open_shop(server, clean_database, server_clock)
    anna = shop.join("anna@example.com")
    bram = shop.join("bram@example.com", code=anna.referral()["code"])
    till_key = shop.till.token
    variables = {"input": purchase(bram, "15.00", "kassa-7-bon-1")}
    results = all_at_once(server.graphql_url, [(till_key, RECORD_PURCHASE, variables)] * IN_FLIGHT)
    ids = {r["data"]["recordPurchase"]["purchase"]["id"] for r in results}
    assert len(ids) == 1  # one purchase, 49 replays of it
    assert shop.sql("SELECT count(*) FROM referrals WHERE state = 'qualified'")[0][0] == 1

    # Several schedulers wake at once after the window.
    due = server_clock.now() + WINDOW + timedelta(minutes=1)
    assert sum(_jobs_at_once(clean_database, due, 5)) >= 1
    assert _jobs_at_once(clean_database, due + timedelta(days=1), 2) == [0, 0]

    assert anna.bonuses() == [REFERRER_POINTS]
    assert bram.bonuses() == [FRIEND_POINTS]
    rewards = shop.sql("SELECT side, status FROM referral_rewards ORDER BY side")
    assert [tuple(r) for r in rewards] == [("friend", "granted"), ("referrer", "granted")]
    topics = [r[0] for r in shop.sql("SELECT topic FROM outbox_events")]
    assert topics.count("referral.qualified") == 1
    assert topics.count("referral.rewarded") == 2
    assert shop.sql("SELECT points_given, rewards_given FROM referral_totals")[0] == (
        REFERRER_POINTS + FRIEND_POINTS,
        2,
    )


def _three_friends_bought(shop: Shop) -> tuple[Joined, list[Joined]]:
    anna = shop.join("anna@example.com")
    code = anna.referral()["code"]
    friends = [shop.join(f"vriend{n}@example.com", code=code) for n in range(3)]
    for friend in friends:
        shop.buy(friend, "10.00")
    return anna, friends


def test_the_cap_holds_when_jobs_give_one_referrers_rewards_at_once(
    server: ServerHandle, clean_database: str, server_clock: FixedClock
) -> None:
    shop = open_shop(server, clean_database, server_clock, cap={"rewards": 1, "per": "month"})
    anna, friends = _three_friends_bought(shop)
    due = server_clock.now() + WINDOW + timedelta(minutes=1)
    assert sum(_jobs_at_once(clean_database, due, 5)) >= 3
    assert anna.bonuses() == [REFERRER_POINTS]  # one place in the cap, taken once
    assert [f.bonuses() for f in friends] == [[FRIEND_POINTS]] * 3
    skipped = shop.sql("SELECT side, reason FROM referral_rewards WHERE status = 'skipped'")
    assert sorted(tuple(r) for r in skipped) == [("referrer", "CAP_REACHED")] * 2


def test_the_budget_holds_when_jobs_give_rewards_at_once(
    server: ServerHandle, clean_database: str, server_clock: FixedClock
) -> None:
    shop = open_shop(server, clean_database, server_clock, budget={"rewards": 3})
    anna, friends = _three_friends_bought(shop)
    due = server_clock.now() + WINDOW + timedelta(minutes=1)
    assert sum(_jobs_at_once(clean_database, due, 5)) >= 3
    given = shop.sql("SELECT count(*) FROM referral_rewards WHERE status = 'granted'")
    assert given[0][0] == 3
    skipped = shop.sql("SELECT reason FROM referral_rewards WHERE status = 'skipped'")
    assert [r[0] for r in skipped] == ["BUDGET_EXHAUSTED"] * 3
    bonuses = [*anna.bonuses(), *(p for f in friends for p in f.bonuses())]
    assert len(bonuses) == 3
    assert shop.sql("SELECT rewards_given FROM referral_totals")[0][0] == 3
