"""Sign-in limits that a stranger cannot turn into a lock-out: per account and client pair,
a growing delay per account, a cap per client address."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loyalty.auth.service import AuthService, SignInLimits, SignUpInput
from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.storage.database import Database
from tests.loyalty.services import STRONG_PASSWORD, make_auth

EMAIL = "owner@example.com"


async def code_of(awaitable: object) -> str:
    with pytest.raises(DomainError) as caught:
        await awaitable  # type: ignore[misc]
    return str(caught.value.code)


async def owner(auth: AuthService) -> None:
    await auth.sign_up(SignUpInput(EMAIL, STRONG_PASSWORD))


async def test_fifty_wrong_passwords_from_one_client_do_not_stop_the_owner(
    db: Database, clock: FixedClock
) -> None:
    auth = make_auth(db, clock, limits=SignInLimits(attempts_per_client=100))
    await owner(auth)
    results = [
        await code_of(auth.sign_in(EMAIL, "wrong-wrong", client="6.6.6.6")) for _ in range(50)
    ]
    limit = auth.limits.failures_per_pair
    assert results == ["INVALID_CREDENTIALS"] * limit + ["RATE_LIMITED"] * (50 - limit)
    # The attacker's pair is refused even with the right password ...
    assert await code_of(auth.sign_in(EMAIL, STRONG_PASSWORD, client="6.6.6.6")) == "RATE_LIMITED"
    # ... while the owner signs in from their own address at once.
    assert (await auth.sign_in(EMAIL, STRONG_PASSWORD, client="10.1.2.3")).access_token


async def test_many_clients_slow_the_account_down_but_never_lock_it(
    db: Database, clock: FixedClock
) -> None:
    limits = SignInLimits(account_delay_after=6, account_delay_cap=timedelta(seconds=8))
    auth = make_auth(db, clock, limits=limits)
    await owner(auth)
    # Move to the start of a window, so the growing delay is counted from a known point.
    clock.advance(timedelta(seconds=900 - clock.now().timestamp() % 900))
    for n in range(6):  # a botnet: three guesses each from two addresses
        assert await code_of(auth.sign_in(EMAIL, "guess", client=f"7.7.7.{n % 2}")) == (
            "INVALID_CREDENTIALS"
        )
    attempts = []
    for n in range(20):  # from then on one guess per growing delay gets through
        attempts.append(await code_of(auth.sign_in(EMAIL, "guess", client=f"8.8.8.{n}")))
        clock.advance(timedelta(seconds=1))
    checked = attempts.count("INVALID_CREDENTIALS")
    assert 3 <= checked <= 8, attempts  # delays of 1, 2, 4, 8, 8 … seconds
    assert attempts.count("RATE_LIMITED") == 20 - checked
    # The owner waits at most the cap, never a window.
    clock.advance(limits.account_delay_cap)
    assert (await auth.sign_in(EMAIL, STRONG_PASSWORD, client="10.1.2.3")).access_token
    # A successful sign-in clears the account's failures: no delay for the next one.
    assert (await auth.sign_in(EMAIL, STRONG_PASSWORD, client="10.9.9.9")).access_token


async def test_one_address_is_capped_over_all_accounts(db: Database, clock: FixedClock) -> None:
    auth = make_auth(db, clock, limits=SignInLimits(attempts_per_client=10))
    await owner(auth)
    for n in range(10):
        await code_of(auth.sign_in(f"user{n}@example.com", "guess", client="9.9.9.9"))
    assert await code_of(auth.sign_in(EMAIL, STRONG_PASSWORD, client="9.9.9.9")) == "RATE_LIMITED"
    assert (await auth.sign_in(EMAIL, STRONG_PASSWORD, client="9.9.9.8")).access_token
