"""The card a purchase was paid with, when the till sends its token (`paymentFingerprint`, an
optional field of RecordPurchaseInput): a friend paying with the referrer's card is the same
person (refused), friends of one referrer sharing a card are held for review; the token is
kept only as a keyed hash. Through the API, both databases."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from loyalty.core.clock import FixedClock
from tests.api.referral_support import FRIEND_POINTS, REFERRER_POINTS, WINDOW, Shop, open_shop
from tests.support.server import ServerHandle

DECISIONS = (
    "query($id: ID!) { node(id: $id) { ... on Referral { state riskScore reasons "
    "decisions { decision actor reasons } } } }"
)


@pytest.fixture
def shop(server: ServerHandle, clean_database: str, server_clock: FixedClock) -> Shop:
    return open_shop(server, clean_database, server_clock)


def _referral_of(shop: Shop, member_number: str) -> tuple[str, str, list[str]]:
    rows = shop.sql(
        "SELECT r.state, r.notice, r.reasons FROM referrals r JOIN members m "
        f"ON m.id = r.friend_id WHERE m.member_number = '{member_number}'"
    )
    state, notice, reasons = rows[0]
    return state, notice, list(json.loads(reasons) if isinstance(reasons, str) else reasons)


def _topics(shop: Shop) -> list[str]:
    rows = shop.sql("SELECT topic FROM outbox_events ORDER BY id")
    return [r[0] for r in rows if r[0].startswith("referral.")]


def test_a_friend_paying_with_the_referrers_card_is_refused(shop: Shop) -> None:
    anna = shop.join("anna@example.com")
    shop.buy(anna, "3.40", card="tok_card_of_anna")  # Anna's card is known from her sale
    bram = shop.join("bram@example.com", code=anna.referral()["code"])
    assert bram.notices == []  # nothing to see at sign-up

    shop.buy(bram, "20.00", card=" tok_card_of_anna ")  # the same card, as the till sent it
    assert _referral_of(shop, bram.member_number) == (
        "rejected",
        "OWN_REFERRAL_CODE",
        ["SAME_PAYMENT"],
    )
    shop.later(WINDOW * 2)
    assert shop.run_rewards() == 0
    assert anna.bonuses() == [] and bram.bonuses() == []
    assert anna.referral()["invitedCount"] == 0
    assert _topics(shop) == ["referral.signed_up", "referral.rejected"]
    [(reasons,)] = shop.sql("SELECT reasons FROM referral_decisions WHERE decision = 'block'")
    assert "SAME_PAYMENT" in str(reasons)

    # The token is kept as a keyed hash only: not in any table, event or purchase.
    digests = [r[0] for r in shop.sql("SELECT digest FROM referral_fingerprints")]
    assert len(digests) >= 1 and all("tok_card" not in d for d in digests)
    kinds = shop.sql("SELECT count(*) FROM referral_fingerprints WHERE kind = 'payment'")
    assert kinds[0][0] == 2  # Anna's and Bram's
    for table in ("purchases", "outbox_events", "referrals", "referral_decisions"):
        assert "tok_card" not in str(shop.sql(f"SELECT * FROM {table}")), table


def test_friends_of_one_referrer_sharing_a_card_are_held_and_an_admin_decides(
    shop: Shop,
) -> None:
    anna = shop.join("anna@example.com")
    code = anna.referral()["code"]
    bram = shop.join("bram@example.com", code=code)
    carla = shop.join("carla@example.com", code=code)
    dirk = shop.join("dirk@example.com", code=code)
    shop.buy(bram, "10.00", card="tok_shared")
    shop.buy(carla, "10.00", card="tok_carla")  # qualifies with a card of her own
    assert _referral_of(shop, carla.member_number)[0] == "qualified"
    # Carla pays again, with Bram's card: held although she qualified, purchase kept.
    shop.buy(carla, "4.00", card="tok_shared")
    # Dirk's first purchase is with Bram's card too: held before it can qualify.
    shop.buy(dirk, "10.00", card="tok_shared")

    held = {h["friend"]["id"]: h for h in shop.held()}
    assert set(held) == {carla.member_id, dirk.member_id}
    assert held[dirk.member_id]["reasons"] == ["SHARED_PAYMENT"]
    assert held[dirk.member_id]["riskScore"] == 60
    shop.later(WINDOW + timedelta(hours=1))
    assert shop.run_rewards() == 1  # Bram only: the held ones wait
    assert bram.bonuses() == [FRIEND_POINTS]

    approved = shop.review(held[carla.member_id]["id"], "APPROVE")
    assert approved["referral"]["state"] == "QUALIFIED"
    assert shop.review(held[dirk.member_id]["id"], "REJECT")["referral"]["state"] == "REJECTED"
    assert shop.run_rewards() == 1
    assert carla.bonuses() == [FRIEND_POINTS] and dirk.bonuses() == []
    assert anna.bonuses() == [REFERRER_POINTS, REFERRER_POINTS]

    node = shop.office.data(DECISIONS, {"id": held[carla.member_id]["id"]})["node"]
    assert [d["decision"] for d in node["decisions"]] == ["allow", "qualify", "hold", "approve"]
    assert node["decisions"][2]["actor"] == "fraud-checks"
    assert node["decisions"][2]["reasons"] == ["SHARED_PAYMENT"]
    # Each event once per referral: Carla's approval announces nothing she had announced.
    topics = _topics(shop)
    assert topics.count("referral.signed_up") == 3
    assert topics.count("referral.qualified") == 2  # Bram, Carla (once); Dirk never
    assert topics.count("referral.held") == 2
    assert topics.count("referral.rejected") == 1
    assert topics.count("referral.rewarded") == 4


def test_the_referrer_paying_with_the_friends_card_refuses_the_open_referral(
    shop: Shop,
) -> None:
    anna = shop.join("anna@example.com")
    bram = shop.join("bram@example.com", code=anna.referral()["code"])
    shop.buy(bram, "12.00", card="tok_bram")
    assert _referral_of(shop, bram.member_number)[0] == "qualified"
    shop.buy(anna, "3.00", card="tok_bram")  # within the window: not rewarded yet
    assert _referral_of(shop, bram.member_number)[0:2] == ("rejected", "OWN_REFERRAL_CODE")
    shop.later(WINDOW * 2)
    assert shop.run_rewards() == 0
    assert anna.bonuses() == [] and bram.bonuses() == []


def test_a_card_of_another_member_only_adds_to_the_score(shop: Shop) -> None:
    stranger = shop.join("stranger@example.com")
    shop.buy(stranger, "3.00", card="tok_family")
    anna = shop.join("anna@example.com")
    bram = shop.join("bram@example.com", code=anna.referral()["code"])
    shop.buy(bram, "10.00", card="tok_family")  # a partner's card, say
    state, _notice, reasons = _referral_of(shop, bram.member_number)
    assert (state, reasons) == ("qualified", ["SHARED_IDENTITY"])
    # Purchases without a token (the contract's RecordPurchase) change nothing.
    shop.buy(bram, "10.00")
    shop.later(WINDOW + timedelta(minutes=1))
    assert shop.run_rewards() == 1
    assert anna.bonuses() == [REFERRER_POINTS]


def test_a_rewarded_referral_stays_rewarded(shop: Shop) -> None:
    anna = shop.join("anna@example.com")
    bram = shop.join("bram@example.com", code=anna.referral()["code"])
    shop.buy(bram, "12.00", card="tok_bram")
    shop.later(WINDOW + timedelta(minutes=1))
    assert shop.run_rewards() == 1
    shop.buy(anna, "3.00", card="tok_bram")  # too late to change anything
    assert _referral_of(shop, bram.member_number)[0] == "rewarded"
    assert anna.bonuses() == [REFERRER_POINTS]
