"""Referrals through the API, as the app, the till and the back office send them: a friend
joins with a member's code, buys, and once the purchase's return window has passed (the
`referrals` job) both get their reward, exactly once; the fraud checks refuse, hold or let
through; admins review what is held. Both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loyalty.core.clock import FixedClock
from tests.api.referral_support import (
    FRIEND_POINTS,
    REFERRER_POINTS,
    WINDOW,
    Shop,
    open_shop,
)
from tests.contract.operations import operation
from tests.support.server import ServerHandle


@pytest.fixture
def shop(server: ServerHandle, clean_database: str, server_clock: FixedClock) -> Shop:
    return open_shop(server, clean_database, server_clock)


def test_happy_path_gives_both_rewards_once_after_the_return_window(shop: Shop) -> None:
    anna = shop.join("anna.referrer@example.com", deviceId="device-anna")
    mine = anna.referral()
    assert len(mine["code"]) == 8
    assert mine["shareUrl"] == f"https://koffiebar-trouw.example/vriend/{mine['code']}"
    assert (mine["invitedCount"], mine["rewardedCount"]) == (0, 0)

    # The code may be typed in lower case, with a dash.
    typed = f"{mine['code'][:4].lower()}-{mine['code'][4:]}"
    bram = shop.join("bram.friend@example.com", code=typed, deviceId="device-bram")
    assert bram.notices == []
    assert anna.referral()["invitedCount"] == 1

    shop.buy(bram, "12.50")
    assert shop.run_rewards() == 0  # the return window has not passed
    assert bram.bonuses() == [] and anna.bonuses() == []

    shop.later(WINDOW + timedelta(minutes=1))
    assert shop.run_rewards() == 1
    assert shop.run_rewards() == 0  # nothing twice
    assert anna.bonuses() == [REFERRER_POINTS]
    assert bram.bonuses() == [FRIEND_POINTS]
    assert anna.referral()["rewardedCount"] == 1
    # The friend's offer (the cake coupon) is theirs now.
    offers = bram.client.data("{ me { offers(first: 20) { edges { node { title state } } } } }")
    mine = [e["node"] for e in offers["me"]["offers"]["edges"]]
    assert {"title": "2 euro korting op taart", "state": "ACTIVATED"} in mine
    topics = [r[0] for r in shop.sql("SELECT topic FROM outbox_events ORDER BY id")]
    assert [t for t in topics if t.startswith("referral.")] == [
        "referral.signed_up",
        "referral.qualified",
        "referral.rewarded",
        "referral.rewarded",
    ]
    # A second purchase qualifies nothing more.
    shop.buy(bram, "30.00")
    shop.later(WINDOW)
    assert shop.run_rewards() == 0
    assert anna.bonuses() == [REFERRER_POINTS]


@pytest.mark.parametrize(
    ("referrer", "friend"),
    [
        # Gmail delivers these to one mailbox: dots, +tags and googlemail.com do not count.
        ({"email": "anna.jansen@gmail.com"}, {"email": "annajansen+koffie@googlemail.com"}),
        (
            {"email": "anna@example.com", "phone": "+31612345678"},
            {"email": "other@example.com", "phone": "06 12345678"},
        ),
        (
            {"email": "anna@example.com", "deviceId": "phone-of-anna"},
            {"email": "other@example.com", "deviceId": "phone-of-anna"},
        ),
    ],
    ids=["same-email", "same-phone", "same-device"],
)
def test_self_referral_is_refused_and_credits_nothing(
    shop: Shop, referrer: dict[str, str], friend: dict[str, str]
) -> None:
    # Copies: the parameters are shared by the run on each backend.
    referrer, friend = dict(referrer), dict(friend)
    anna = shop.join(referrer.pop("email"), **referrer)
    code = anna.referral()["code"]
    other = shop.join(friend.pop("email"), code=code, **friend)
    assert [n["code"] for n in other.notices] == ["OWN_REFERRAL_CODE"]
    assert other.notices[0]["field"] == ["input", "referralCode"]
    shop.buy(other, "20.00")
    shop.later(WINDOW * 2)
    assert shop.run_rewards() == 0
    assert anna.bonuses() == [] and other.bonuses() == []
    assert anna.referral()["invitedCount"] == 0
    states = shop.sql("SELECT state, reasons FROM referrals")
    assert states[0][0] == "rejected"


def test_bad_codes_are_ignored_and_the_sign_up_works(shop: Shop) -> None:
    anna = shop.join("anna@example.com")
    code = anna.referral()["code"]
    unknown = "ABCDEFGH" if code != "ABCDEFGH" else "HGFEDCBA"
    cases = {
        "!!nope!!": "INVALID_REFERRAL_CODE",
        unknown: "UNKNOWN_REFERRAL_CODE",
    }
    for n, (sent, expected) in enumerate(cases.items()):
        joined = shop.join(f"friend{n}@example.com", code=sent)
        assert [x["code"] for x in joined.notices] == [expected]
        assert joined.client.data("{ me { id } }")["me"]["id"] == joined.member_id
    # The code of a blocked or closed member is ignored too.
    _set_status(shop, anna.member_number, "blocked")
    late = shop.join("late@example.com", code=code)
    assert [x["code"] for x in late.notices] == ["REFERRER_INACTIVE"]
    bram = shop.join("bram@example.com")
    bram_code = bram.referral()["code"]
    _set_status(shop, bram.member_number, "closed")
    later = shop.join("later@example.com", code=bram_code)
    assert [x["code"] for x in later.notices] == ["REFERRER_INACTIVE"]
    for joined in (late, later):
        shop.buy(joined, "20.00")
    shop.later(WINDOW * 2)
    assert shop.run_rewards() == 0
    assert late.bonuses() == [] and later.bonuses() == []


def _set_status(shop: Shop, member_number: str, status: str) -> None:
    import asyncio

    from sqlalchemy import text

    from loyalty.storage.database import Database

    async def run() -> None:
        db = Database(shop.database_url)
        try:
            async with db.unit_of_work() as uow:
                await uow.session.execute(
                    text("UPDATE members SET status = :s WHERE member_number = :n"),
                    {"s": status, "n": member_number},
                )
                await uow.commit()
        finally:
            await db.dispose()

    asyncio.run(run())


def test_the_cap_limits_the_referrers_rewards_not_the_friends(
    server: ServerHandle, clean_database: str, server_clock: FixedClock
) -> None:
    shop = open_shop(server, clean_database, server_clock, cap={"rewards": 1, "per": "month"})
    anna = shop.join("anna@example.com")
    code = anna.referral()["code"]
    friends = [shop.join(f"vriend{n}@example.com", code=code) for n in range(2)]
    for friend in friends:
        shop.buy(friend, "10.00")
    shop.later(WINDOW + timedelta(hours=1))
    assert shop.run_rewards() == 2
    assert anna.bonuses() == [REFERRER_POINTS]
    assert [f.bonuses() for f in friends] == [[FRIEND_POINTS], [FRIEND_POINTS]]
    assert anna.referral() | {"code": None, "shareUrl": None} == {
        "code": None,
        "shareUrl": None,
        "invitedCount": 2,
        "rewardedCount": 1,
    }
    skipped = shop.sql("SELECT reason FROM referral_rewards WHERE status = 'skipped'")
    assert [r[0] for r in skipped] == ["CAP_REACHED"]


def test_velocity_holds_a_referral_until_an_admin_approves_it(
    server: ServerHandle, clean_database: str, server_clock: FixedClock
) -> None:
    shop = open_shop(server, clean_database, server_clock, fraud={"max_sign_ups_per_code": 2})
    anna = shop.join("anna@example.com")
    code = anna.referral()["code"]
    first = [shop.join(f"vriend{n}@example.com", code=code) for n in range(2)]
    assert all(f.notices == [] for f in first)
    third = shop.join("derde@example.com", code=code)
    assert [n["code"] for n in third.notices] == ["REFERRAL_UNDER_REVIEW"]

    held = shop.held()
    assert len(held) == 1
    assert held[0]["state"] == "HELD"
    assert held[0]["reasons"] == ["CODE_VELOCITY"] and held[0]["riskScore"] == 50
    assert held[0]["referrer"]["id"] == anna.member_id
    assert held[0]["friend"]["id"] == third.member_id

    # It buys while held: nothing is given until the review.
    shop.buy(third, "10.00")
    shop.later(WINDOW + timedelta(hours=1))
    assert shop.run_rewards() == 0
    assert third.bonuses() == []

    reviewed = shop.review(held[0]["id"], "APPROVE")
    assert reviewed["userErrors"] == []
    assert reviewed["referral"] == {"id": held[0]["id"], "state": "QUALIFIED"}
    assert shop.held() == []
    again = shop.review(held[0]["id"], "REJECT")
    assert [e["code"] for e in again["userErrors"]] == ["REFERRAL_NOT_HELD"]

    assert shop.run_rewards() == 1
    assert third.bonuses() == [FRIEND_POINTS]
    assert anna.bonuses() == [REFERRER_POINTS]
    decisions = shop.office.data(
        "query($id: ID!) { node(id: $id) { ... on Referral { decisions { decision actor "
        "reasons } } } }",
        {"id": held[0]["id"]},
    )["node"]["decisions"]
    assert [d["decision"] for d in decisions] == ["hold", "approve", "qualify"]
    assert decisions[0]["actor"] == "fraud-checks" and decisions[0]["reasons"] == ["CODE_VELOCITY"]
    assert decisions[1]["actor"] == "api-key:Back office"
    assert decisions[1]["reasons"] == ["APPROVED_BY_ADMIN", "CODE_VELOCITY"]


def test_a_rejected_referral_gives_nothing(
    server: ServerHandle, clean_database: str, server_clock: FixedClock
) -> None:
    shop = open_shop(server, clean_database, server_clock, fraud={"max_sign_ups_per_code": 1})
    anna = shop.join("anna@example.com")
    code = anna.referral()["code"]
    shop.join("een@example.com", code=code)
    second = shop.join("twee@example.com", code=code)
    [held] = shop.held()
    assert shop.review(held["id"], "REJECT")["referral"]["state"] == "REJECTED"
    shop.buy(second, "10.00")
    shop.later(WINDOW * 2)
    assert shop.run_rewards() == 0
    assert second.bonuses() == []


def test_a_friend_who_never_buys_brings_no_reward(shop: Shop) -> None:
    anna = shop.join("anna@example.com")
    bram = shop.join("bram@example.com", code=anna.referral()["code"])
    shop.later(WINDOW * 3)
    assert shop.run_rewards() == 0
    assert anna.bonuses() == [] and bram.bonuses() == []
    assert anna.referral()["invitedCount"] == 1 and anna.referral()["rewardedCount"] == 0


def test_a_purchase_below_the_minimum_does_not_qualify(shop: Shop) -> None:
    anna = shop.join("anna@example.com")
    bram = shop.join("bram@example.com", code=anna.referral()["code"])
    shop.buy(bram, "4.99")
    shop.later(WINDOW * 2)
    assert shop.run_rewards() == 0
    shop.buy(bram, "5.00")  # the first purchase of at least the minimum qualifies
    assert shop.run_rewards() == 1
    assert bram.bonuses() == [FRIEND_POINTS]


def test_returning_the_first_purchase_within_the_window_cancels_the_rewards(shop: Shop) -> None:
    anna = shop.join("anna@example.com")
    bram = shop.join("bram@example.com", code=anna.referral()["code"])
    shop.buy(bram, "12.00", external_id="bon-1")
    shop.give_back("bon-1", "12.00")  # within the window
    shop.later(WINDOW * 2)
    assert shop.run_rewards() == 0
    assert anna.bonuses() == [] and bram.bonuses() == []
    assert [r[0] for r in shop.sql("SELECT state FROM referrals")] == ["cancelled"]
    topics = [r[0] for r in shop.sql("SELECT topic FROM outbox_events ORDER BY id")]
    assert "referral.rejected" in topics and "referral.rewarded" not in topics


def test_a_partial_return_that_keeps_the_minimum_keeps_the_rewards(shop: Shop) -> None:
    anna = shop.join("anna@example.com")
    bram = shop.join("bram@example.com", code=anna.referral()["code"])
    shop.buy(bram, "20.00", external_id="bon-2")
    shop.give_back("bon-2", "10.00")
    shop.later(WINDOW + timedelta(minutes=1))
    assert shop.run_rewards() == 1
    assert anna.bonuses() == [REFERRER_POINTS]


def test_a_ring_of_three_is_flagged(shop: Shop) -> None:
    """Anna brings Bram, Bram brings "Carla", who is Anna again (Anna's phone): a circle."""
    anna = shop.join("anna@example.com", phone="+31611111111", deviceId="anna-phone")
    bram = shop.join("bram@example.com", code=anna.referral()["code"], deviceId="bram-phone")
    carla = shop.join("carla@example.com", code=bram.referral()["code"], deviceId="anna-phone")
    assert [n["code"] for n in carla.notices] == ["REFERRAL_UNDER_REVIEW"]
    [held] = shop.held()
    assert held["friend"]["id"] == carla.member_id
    assert held["referrer"]["id"] == bram.member_id
    assert held["reasons"] == ["REFERRAL_RING"]


def test_the_referrers_sealed_contact_details_are_read_as_they_are_now(shop: Shop) -> None:
    """Anna adds her phone after she joined: it is sealed with her key (the members table does
    not hold it), no fingerprint was kept of it, and the checks still find it, by opening
    her data with the installation's keyring."""
    anna = shop.join("anna@example.com")
    update = operation("member-app/profile.graphql", "UpdateProfile")
    changed = anna.client.data(update, {"input": {"phone": "06 23456789"}})["updateProfile"]
    assert changed["member"]["phone"] == "+31623456789"
    assert "23456789" not in str(shop.sql("SELECT * FROM members"))
    other = shop.join("other@example.com", code=anna.referral()["code"], phone="+31623456789")
    assert [n["code"] for n in other.notices] == ["OWN_REFERRAL_CODE"]
    [(reasons,)] = shop.sql("SELECT reasons FROM referrals")
    assert "SAME_PHONE" in str(reasons)


def test_lookalike_and_throwaway_addresses_add_up_to_a_refusal(shop: Shop) -> None:
    anna = shop.join("annabel.devries@example.com")
    code = anna.referral()["code"]
    lookalike = shop.join("annabel.devries2@example.com", code=code)
    assert [n["code"] for n in lookalike.notices] == ["REFERRAL_UNDER_REVIEW"]
    throwaway = shop.join("someone@mailinator.com", code=code)
    assert [n["code"] for n in throwaway.notices] == ["REFERRAL_UNDER_REVIEW"]
    reasons = {tuple(h["reasons"]) for h in shop.held()}
    assert reasons == {("EMAIL_LOOKALIKE",), ("DISPOSABLE_EMAIL",)}
    both = shop.join("annabel.devries3@mailinator.com", code=code)
    assert both.notices == [] or [n["code"] for n in both.notices] == ["REFERRAL_UNDER_REVIEW"]


def test_a_member_sees_only_their_own_referral_code(shop: Shop) -> None:
    anna = shop.join("anna@example.com")
    barcode = anna.client.data("{ me { card { barcodeMessage } } }")["me"]["card"]
    codes = shop.till.error_codes(
        "query($b: String!) { memberByCard(barcodeMessage: $b) { referral { code } } }",
        {"b": barcode["barcodeMessage"]},
    )
    assert codes == ["FORBIDDEN"]
    held = "{ heldReferrals(first: 5) { edges { node { id } } } }"
    conversion = "{ referralConversion { conversionRate } }"
    for admin_only in (held, conversion):
        assert anna.client.error_codes(admin_only) == ["FORBIDDEN"]
        assert shop.till.error_codes(admin_only) == ["FORBIDDEN"]


def test_the_conversion_rate_counts_rewarded_of_accepted(shop: Shop) -> None:
    anna = shop.join("anna@example.com")
    code = anna.referral()["code"]
    buyer = shop.join("koper@example.com", code=code)
    shop.join("kijker@example.com", code=code)
    shop.buy(buyer, "10.00")
    shop.later(WINDOW + timedelta(minutes=1))
    shop.run_rewards()
    figures = shop.office.data(
        "{ referralConversion { accepted rewarded signedUp conversionRate } }"
    )["referralConversion"]
    assert figures == {"accepted": 2, "rewarded": 1, "signedUp": 1, "conversionRate": 0.5}
