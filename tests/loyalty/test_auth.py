"""Signing up and in, sessions with rotating refresh tokens, sign-out, blocking, access
tokens and members of the brand's identity provider."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import func, select

from loyalty.auth.errors import AuthError
from loyalty.auth.models import AuthSession, RefreshToken
from loyalty.auth.service import AuthService, IssuedSession, SignInLimits, SignUpInput
from loyalty.auth.tokens import AUDIENCE, ISSUER, AccessTokens, looks_like_own_token
from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.core.events import MemberSignedUp
from loyalty.core.identifiers import hash_secret
from loyalty.core.models import OutboxEvent
from loyalty.core.outbox import recorded
from loyalty.members.errors import MembersError
from loyalty.members.models import Member, MemberConsent
from loyalty.members.service import ProfileInput
from loyalty.storage.database import Database
from tests.loyalty.services import (
    ACCESS_TTL,
    STRONG_PASSWORD,
    TOKEN_SECRET,
    add_member,
    cheap_hasher,
    make_auth,
    set_status,
)

EMAIL = "eva@example.com"


async def code_of(awaitable: object) -> str:
    with pytest.raises(DomainError) as caught:
        await awaitable  # type: ignore[misc]
    return caught.value.code


async def signed_up(auth: AuthService, email: str = EMAIL) -> IssuedSession:
    _, issued = await auth.sign_up(SignUpInput(email, STRONG_PASSWORD))
    return issued


async def stored_member(db: Database, member_id: int) -> Member:
    async with db.unit_of_work(write=False) as uow:
        member = await uow.session.get(Member, member_id)
    assert member is not None
    return member


async def stored_session(db: Database, session_id: int) -> AuthSession:
    async with db.unit_of_work(write=False) as uow:
        row = await uow.session.get(AuthSession, session_id)
    assert row is not None
    return row


async def count(db: Database, model: type) -> int:
    async with db.unit_of_work(write=False) as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


# --- sign up ------------------------------------------------------------------------------


async def test_sign_up_opens_a_session_whose_access_token_verifies(
    auth: AuthService, db: Database, clock: FixedClock
) -> None:
    member, issued = await auth.sign_up(
        SignUpInput(
            "  Eva@Example.COM ",
            STRONG_PASSWORD,
            ProfileInput(first_name="Eva", phone="06 12345678", interests=["Koffie"]),
            {"email": True, "push": False},
        ),
        user_agent="TrouwApp/1.0 " + "x" * 400,
    )
    assert member.email == EMAIL
    assert issued.member_id == member.id
    assert issued.expires_at == clock.now() + ACCESS_TTL
    assert issued.refresh_token.startswith("rt_")

    claims = auth.tokens.verify(issued.access_token)
    assert (claims.member_id, claims.session_id) == (member.id, issued.session_id)
    principal = await auth.authenticate_member(issued.access_token)
    assert (principal.member_id, principal.session_id) == (member.id, issued.session_id)

    stored = await stored_member(db, member.id)
    assert stored.first_name == "Eva" and stored.phone == "+31612345678"
    assert stored.interests == ["koffie"]
    assert stored.password_hash is not None and stored.password_hash.startswith("$argon2id$")
    assert STRONG_PASSWORD not in stored.password_hash

    session = await stored_session(db, issued.session_id)
    assert session.member_id == member.id and session.revoked_at is None
    assert session.user_agent is not None and len(session.user_agent) == 255
    assert session.expires_at == clock.now() + auth.session_lifetime
    async with db.unit_of_work(write=False) as uow:
        tokens = list(await uow.session.scalars(select(RefreshToken)))
        consents = {c.channel: c.granted for c in await uow.session.scalars(select(MemberConsent))}
    assert [t.token_hash for t in tokens] == [hash_secret(issued.refresh_token)]
    assert consents["email"] is True and consents["push"] is False and consents["sms"] is False


async def test_sign_up_reports_every_problem_and_creates_nothing(
    auth: AuthService, db: Database
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await auth.sign_up(
            SignUpInput(
                "not-an-email",
                "short",
                ProfileInput(locale="xx_yy_zz", phone="1"),
                {"carrier-pigeon": True},
            )
        )
    codes = [p.code for p in caught.value.problems]
    assert sorted(codes) == sorted(
        ["INVALID_EMAIL", "WEAK_PASSWORD", "INVALID_CHANNEL", "INVALID_PHONE", "INVALID_LOCALE"]
    )
    assert await count(db, Member) == 0


async def test_sign_up_refuses_a_password_made_of_the_email(auth: AuthService) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await auth.sign_up(SignUpInput("marijke.devries@example.com", "marijke.devries-2026!"))
    assert [p.code for p in caught.value.problems] == ["WEAK_PASSWORD"]


# --- sign in ------------------------------------------------------------------------------


async def test_sign_in_opens_a_new_session(auth: AuthService) -> None:
    first = await signed_up(auth)
    second = await auth.sign_in("EVA@example.com ", STRONG_PASSWORD, user_agent="ua")
    assert second.member_id == first.member_id
    assert second.session_id != first.session_id
    assert second.refresh_token != first.refresh_token
    assert (await auth.authenticate_member(second.access_token)).session_id == second.session_id
    assert (await auth.authenticate_member(first.access_token)).session_id == first.session_id


async def test_wrong_password_and_unknown_email_look_the_same(auth: AuthService) -> None:
    await signed_up(auth)
    errors = []
    for email, password in [
        (EMAIL, "not-the-password-at-all"),
        ("nobody@example.com", STRONG_PASSWORD),
        ("not an email", STRONG_PASSWORD),
        (EMAIL, ""),
    ]:
        with pytest.raises(DomainError) as caught:
            await auth.sign_in(email, password)
        errors.append((caught.value.code, caught.value.message, caught.value.field))
    assert errors == [("INVALID_CREDENTIALS", "Email or password is not right", None)] * 4


async def test_member_without_password_cannot_sign_in_with_one(
    auth: AuthService, db: Database, clock: FixedClock
) -> None:
    await add_member(db, clock, "nopass@example.com")  # e.g. joined at the till
    assert await code_of(auth.sign_in("nopass@example.com", "")) == "INVALID_CREDENTIALS"
    assert await code_of(auth.sign_in("nopass@example.com", STRONG_PASSWORD)) == (
        "INVALID_CREDENTIALS"
    )


async def test_password_is_rehashed_when_the_hasher_parameters_change(
    db: Database, clock: FixedClock
) -> None:
    old = make_auth(db, clock, hasher=cheap_hasher(time_cost=1))
    member, _ = await old.sign_up(SignUpInput(EMAIL, STRONG_PASSWORD))
    before = (await stored_member(db, member.id)).password_hash
    assert before is not None and ",t=1," in before

    new = make_auth(db, clock, hasher=cheap_hasher(time_cost=2))
    await new.sign_in(EMAIL, STRONG_PASSWORD)
    after = (await stored_member(db, member.id)).password_hash
    assert after is not None and ",t=2," in after
    assert not new.hasher.needs_rehash(after)

    await new.sign_in(EMAIL, STRONG_PASSWORD)  # nothing left to upgrade
    assert (await stored_member(db, member.id)).password_hash == after
    # A wrong password never rewrites the hash.
    await code_of(old.sign_in(EMAIL, "wrong-password-here"))
    assert (await stored_member(db, member.id)).password_hash == after


async def test_account_locks_after_failures_and_unlocks_after_the_window(
    auth: AuthService, clock: FixedClock
) -> None:
    await signed_up(auth)
    limit = auth.limits.failures_per_pair
    assert limit == 5
    for _ in range(limit):
        assert await code_of(auth.sign_in(EMAIL, "wrong-password-x")) == "INVALID_CREDENTIALS"
    # Locked: even the right password (in any spelling of the address) is refused.
    assert await code_of(auth.sign_in(EMAIL, STRONG_PASSWORD)) == "RATE_LIMITED"
    assert await code_of(auth.sign_in("Eva@Example.com", STRONG_PASSWORD)) == "RATE_LIMITED"

    clock.advance(
        auth.limits.window
        - timedelta(seconds=1)
        - timedelta(seconds=clock.now().timestamp() % auth.limits.window.total_seconds())
    )
    assert await code_of(auth.sign_in(EMAIL, STRONG_PASSWORD)) == "RATE_LIMITED"
    clock.advance(timedelta(seconds=1))  # the next window
    issued = await auth.sign_in(EMAIL, STRONG_PASSWORD)
    assert await auth.authenticate_member(issued.access_token)


async def test_a_successful_sign_in_clears_the_failures(auth: AuthService) -> None:
    await signed_up(auth)
    for _ in range(auth.limits.failures_per_pair - 1):
        await code_of(auth.sign_in(EMAIL, "wrong-password-x"))
    await auth.sign_in(EMAIL, STRONG_PASSWORD)
    for _ in range(auth.limits.failures_per_pair - 1):
        await code_of(auth.sign_in(EMAIL, "wrong-password-x"))
    await auth.sign_in(EMAIL, STRONG_PASSWORD)


async def test_failures_on_one_account_do_not_lock_another(auth: AuthService) -> None:
    await signed_up(auth)
    await signed_up(auth, "other@example.com")
    for _ in range(auth.limits.failures_per_pair):
        await code_of(auth.sign_in(EMAIL, "wrong-password-x"))
    assert await code_of(auth.sign_in(EMAIL, STRONG_PASSWORD)) == "RATE_LIMITED"
    await auth.sign_in("other@example.com", STRONG_PASSWORD)


async def test_unknown_accounts_lock_like_real_ones(auth: AuthService) -> None:
    for _ in range(auth.limits.failures_per_pair):
        assert await code_of(auth.sign_in("ghost@example.com", "x")) == "INVALID_CREDENTIALS"
    assert await code_of(auth.sign_in("ghost@example.com", "x")) == "RATE_LIMITED"


async def test_concurrent_guesses_cannot_get_past_the_account_limit(
    db: Database, clock: FixedClock
) -> None:
    """Guesses sent all at once must not each read "0 failures so far": at most
    `failures_per_pair` passwords may be checked in one window."""
    auth = make_auth(db, clock)
    await signed_up(auth)
    results = await asyncio.gather(
        *(auth.sign_in(EMAIL, f"guess-number-{i}-xyz") for i in range(20)),
        return_exceptions=True,
    )
    codes = [r.code for r in results if isinstance(r, DomainError)]
    assert len(codes) == 20
    assert codes.count("INVALID_CREDENTIALS") <= auth.limits.failures_per_pair
    assert codes.count("RATE_LIMITED") >= 20 - auth.limits.failures_per_pair
    assert await code_of(auth.sign_in(EMAIL, STRONG_PASSWORD)) == "RATE_LIMITED"


async def test_per_client_limit(db: Database, clock: FixedClock) -> None:
    auth = make_auth(db, clock, limits=SignInLimits(attempts_per_client=3))
    await auth.sign_up(SignUpInput(EMAIL, STRONG_PASSWORD), client="10.0.0.1")
    await auth.sign_in(EMAIL, STRONG_PASSWORD, client="10.0.0.1")
    await code_of(auth.sign_in("nobody@example.com", "x", client="10.0.0.1"))
    await auth.sign_in(EMAIL, STRONG_PASSWORD, client="10.0.0.1")
    # The fourth attempt from that client, right password or not, is refused.
    assert await code_of(auth.sign_in(EMAIL, STRONG_PASSWORD, client="10.0.0.1")) == (
        "RATE_LIMITED"
    )
    # Other clients and calls without a client are not affected.
    await auth.sign_in(EMAIL, STRONG_PASSWORD, client="10.0.0.2")
    await auth.sign_in(EMAIL, STRONG_PASSWORD)
    # Sign-ups are counted separately from sign-ins.
    await auth.sign_up(SignUpInput("second@example.com", STRONG_PASSWORD), client="10.0.0.1")

    clock.advance(auth.limits.window)
    await auth.sign_in(EMAIL, STRONG_PASSWORD, client="10.0.0.1")


async def test_per_client_limit_on_sign_up(db: Database, clock: FixedClock) -> None:
    auth = make_auth(db, clock, limits=SignInLimits(attempts_per_client=2))
    for i in range(2):
        await auth.sign_up(SignUpInput(f"s{i}@example.com", STRONG_PASSWORD), client="c")
    assert (
        await code_of(auth.sign_up(SignUpInput("s9@example.com", STRONG_PASSWORD), client="c"))
        == "RATE_LIMITED"
    )
    assert await count(db, Member) == 2


# --- refresh ------------------------------------------------------------------------------


async def test_refresh_rotates_the_tokens(
    auth: AuthService, db: Database, clock: FixedClock
) -> None:
    first = await signed_up(auth)
    clock.advance(timedelta(minutes=20))
    assert await code_of(auth.authenticate_member(first.access_token)) == "TOKEN_EXPIRED"

    second = await auth.refresh(first.refresh_token)
    assert second.session_id == first.session_id and second.member_id == first.member_id
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert second.expires_at == clock.now() + ACCESS_TTL
    assert (await auth.authenticate_member(second.access_token)).session_id == first.session_id
    assert (await stored_session(db, first.session_id)).last_refreshed_at == clock.now()

    third = await auth.refresh(second.refresh_token)
    assert third.refresh_token not in (first.refresh_token, second.refresh_token)
    async with db.unit_of_work(write=False) as uow:
        tokens = list(await uow.session.scalars(select(RefreshToken).order_by(RefreshToken.id)))
    assert [t.used_at is not None for t in tokens] == [True, True, False]


async def test_reusing_a_refresh_token_ends_the_session(
    auth: AuthService, db: Database, clock: FixedClock
) -> None:
    first = await signed_up(auth)
    other = await auth.sign_in(EMAIL, STRONG_PASSWORD)  # another device
    second = await auth.refresh(first.refresh_token)

    assert await code_of(auth.refresh(first.refresh_token)) == "REFRESH_TOKEN_REUSED"
    session = await stored_session(db, first.session_id)
    assert session.revoked_at == clock.now()
    assert session.revoked_reason == "refresh_token_reused"
    # Everything that came from that session is dead, the thief's and the owner's alike.
    assert await code_of(auth.refresh(second.refresh_token)) == "INVALID_REFRESH_TOKEN"
    assert await code_of(auth.authenticate_member(second.access_token)) == "SESSION_REVOKED"
    assert await code_of(auth.refresh(first.refresh_token)) == "INVALID_REFRESH_TOKEN"
    # The other device is not affected.
    assert (await auth.authenticate_member(other.access_token)).session_id == other.session_id
    await auth.refresh(other.refresh_token)


async def test_concurrent_refreshes_with_one_token(auth: AuthService, db: Database) -> None:
    issued = await signed_up(auth)
    results = await asyncio.gather(
        *(auth.refresh(issued.refresh_token) for _ in range(5)), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, IssuedSession)]
    lost = [r for r in results if not isinstance(r, IssuedSession)]
    assert len(won) == 1, results
    assert all(isinstance(r, DomainError) for r in lost), lost
    codes = [r.code for r in lost if isinstance(r, DomainError)]
    assert "REFRESH_TOKEN_REUSED" in codes
    assert set(codes) <= {"REFRESH_TOKEN_REUSED", "INVALID_REFRESH_TOKEN"}
    # A replay was seen, so the session is over, including for the winner.
    assert (await stored_session(db, issued.session_id)).revoked_at is not None
    assert await code_of(auth.refresh(won[0].refresh_token)) == "INVALID_REFRESH_TOKEN"
    assert await code_of(auth.authenticate_member(won[0].access_token)) == "SESSION_REVOKED"
    # Exactly one rotation happened.
    assert await count(db, RefreshToken) == 2


async def test_expired_refresh_token_is_refused(db: Database, clock: FixedClock) -> None:
    auth = make_auth(db, clock, refresh_ttl=timedelta(days=1))
    issued = await signed_up(auth)
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    fresh = await auth.refresh(issued.refresh_token)
    clock.advance(timedelta(days=1))
    assert await code_of(auth.refresh(fresh.refresh_token)) == "INVALID_REFRESH_TOKEN"
    # Refusing an expired token does not burn it into a "reuse" that ends the session.
    assert await code_of(auth.refresh(fresh.refresh_token)) == "INVALID_REFRESH_TOKEN"
    assert (await stored_session(db, issued.session_id)).revoked_at is None


async def test_unknown_refresh_token_is_refused(auth: AuthService) -> None:
    await signed_up(auth)
    assert await code_of(auth.refresh("rt_not-a-real-token")) == "INVALID_REFRESH_TOKEN"
    assert await code_of(auth.refresh("")) == "INVALID_REFRESH_TOKEN"


async def test_session_lifetime_caps_refresh_token_expiry(db: Database, clock: FixedClock) -> None:
    auth = make_auth(db, clock, refresh_ttl=timedelta(days=30), session_lifetime=timedelta(days=2))
    issued = await signed_up(auth)
    started = clock.now()
    clock.advance(timedelta(days=1))
    later = await auth.refresh(issued.refresh_token)
    async with db.unit_of_work(write=False) as uow:
        expiries = list(
            await uow.session.scalars(select(RefreshToken.expires_at).order_by(RefreshToken.id))
        )
    assert expiries == [started + timedelta(days=2), started + timedelta(days=2)]
    clock.advance(timedelta(days=1))  # the session's end
    assert await code_of(auth.refresh(later.refresh_token)) == "INVALID_REFRESH_TOKEN"


async def test_refresh_ttl_applies_within_a_long_session(db: Database, clock: FixedClock) -> None:
    auth = make_auth(db, clock, refresh_ttl=timedelta(days=3))
    issued = await signed_up(auth)
    async with db.unit_of_work(write=False) as uow:
        expiry = await uow.session.scalar(select(RefreshToken.expires_at))
    assert expiry == clock.now() + timedelta(days=3)
    # Refreshing every two days keeps a member signed in well past one refresh TTL.
    token = issued.refresh_token
    for _ in range(5):
        clock.advance(timedelta(days=2))
        token = (await auth.refresh(token)).refresh_token


# --- sign out -----------------------------------------------------------------------------


async def test_sign_out_ends_one_session(auth: AuthService, db: Database) -> None:
    phone = await signed_up(auth)
    tablet = await auth.sign_in(EMAIL, STRONG_PASSWORD)
    principal = await auth.authenticate_member(phone.access_token)
    await auth.sign_out(principal=principal)

    assert await code_of(auth.authenticate_member(phone.access_token)) == "SESSION_REVOKED"
    assert await code_of(auth.refresh(phone.refresh_token)) == "INVALID_REFRESH_TOKEN"
    assert (await stored_session(db, phone.session_id)).revoked_reason == "signed_out"
    assert (await auth.authenticate_member(tablet.access_token)).session_id == tablet.session_id


async def test_sign_out_by_refresh_token(auth: AuthService) -> None:
    phone = await signed_up(auth)
    tablet = await auth.sign_in(EMAIL, STRONG_PASSWORD)
    await auth.sign_out(refresh_token=phone.refresh_token)
    assert await code_of(auth.authenticate_member(phone.access_token)) == "SESSION_REVOKED"
    await auth.authenticate_member(tablet.access_token)


async def test_sign_out_everywhere(auth: AuthService) -> None:
    sessions = [await signed_up(auth)]
    sessions += [await auth.sign_in(EMAIL, STRONG_PASSWORD) for _ in range(3)]
    other = await signed_up(auth, "someone.else@example.com")
    principal = await auth.authenticate_member(sessions[0].access_token)
    await auth.sign_out(principal=principal, everywhere=True)
    for issued in sessions:
        assert await code_of(auth.authenticate_member(issued.access_token)) == "SESSION_REVOKED"
        assert await code_of(auth.refresh(issued.refresh_token)) == "INVALID_REFRESH_TOKEN"
    await auth.authenticate_member(other.access_token)


async def test_sign_out_needs_a_session_of_ones_own(auth: AuthService) -> None:
    mine = await signed_up(auth)
    theirs = await signed_up(auth, "theirs@example.com")
    me = await auth.authenticate_member(mine.access_token)
    assert (
        await code_of(auth.sign_out(principal=me, refresh_token=theirs.refresh_token))
        == "INVALID_REFRESH_TOKEN"
    )
    await auth.authenticate_member(theirs.access_token)  # still signed in
    assert await code_of(auth.sign_out(refresh_token="rt_unknown")) == "INVALID_REFRESH_TOKEN"
    assert await code_of(auth.sign_out()) == "UNAUTHENTICATED"


# --- blocked accounts ---------------------------------------------------------------------


@pytest.mark.parametrize("status", ["blocked", "closed"])
async def test_blocked_member_is_refused_everywhere(
    auth: AuthService, db: Database, status: str
) -> None:
    issued = await signed_up(auth)
    await set_status(db, issued.member_id, status)

    assert await code_of(auth.sign_in(EMAIL, STRONG_PASSWORD)) == "ACCOUNT_DISABLED"
    # A wrong password says nothing about the account's state.
    assert await code_of(auth.sign_in(EMAIL, "wrong-password-x")) == "INVALID_CREDENTIALS"
    assert await code_of(auth.refresh(issued.refresh_token)) == "ACCOUNT_DISABLED"
    assert await code_of(auth.authenticate_member(issued.access_token)) == "ACCOUNT_DISABLED"

    # Unblocked, the same session carries on: the refused refresh did not use the token up.
    await set_status(db, issued.member_id, "active")
    await auth.authenticate_member(issued.access_token)
    await auth.refresh(issued.refresh_token)


# --- access tokens ------------------------------------------------------------------------


def test_access_token_expires_at_exactly_exp(clock: FixedClock) -> None:
    tokens = AccessTokens(TOKEN_SECRET, timedelta(minutes=15), clock)
    token, expires_at = tokens.issue(7, 11)
    assert expires_at == clock.now() + timedelta(minutes=15)
    claims = tokens.verify(token)
    assert (claims.member_id, claims.session_id, claims.expires_at) == (7, 11, expires_at)

    clock.set(expires_at - timedelta(seconds=1))
    assert tokens.verify(token).member_id == 7
    clock.set(expires_at)
    with pytest.raises(DomainError) as caught:
        tokens.verify(token)
    assert caught.value.code == "TOKEN_EXPIRED"
    clock.set(expires_at + timedelta(days=365))
    with pytest.raises(DomainError):
        tokens.verify(token)


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _invalid(tokens: AccessTokens, token: str) -> str:
    with pytest.raises(DomainError) as caught:
        tokens.verify(token)
    return caught.value.code


def test_tampered_access_tokens_are_refused(clock: FixedClock) -> None:
    tokens = AccessTokens(TOKEN_SECRET, ACCESS_TTL, clock)
    token, _ = tokens.issue(7, 11)
    header, payload, signature = _segments(token)

    claims = jwt.decode(token, options={"verify_signature": False})
    forged = _b64({**claims, "sub": "8"})  # someone else's member id, old signature
    assert _invalid(tokens, f"{header}.{forged}.{signature}") == "INVALID_TOKEN"

    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert _invalid(tokens, f"{header}.{payload}.{flipped}") == "INVALID_TOKEN"
    assert _invalid(tokens, f"{header}.{payload}.") == "INVALID_TOKEN"
    none_header = _b64({"alg": "none", "typ": "JWT"})
    assert _invalid(tokens, f"{none_header}.{payload}.") == "INVALID_TOKEN"
    for garbage in ["", "abc", "a.b.c", token + "x"]:
        assert _invalid(tokens, garbage) == "INVALID_TOKEN"


def test_tokens_signed_with_another_secret_are_refused(clock: FixedClock) -> None:
    ours = AccessTokens(TOKEN_SECRET, ACCESS_TTL, clock)
    theirs = AccessTokens(b"z" * 40, ACCESS_TTL, clock)
    token, _ = theirs.issue(7, 11)
    assert _invalid(ours, token) == "INVALID_TOKEN"


def test_tokens_for_another_audience_or_issuer_are_refused(clock: FixedClock) -> None:
    tokens = AccessTokens(TOKEN_SECRET, ACCESS_TTL, clock)
    exp = int((clock.now() + ACCESS_TTL).timestamp())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "7", "sid": "11", "exp": exp}
    assert tokens.verify(jwt.encode(base, TOKEN_SECRET, algorithm="HS256")).member_id == 7
    for changed in [
        {"aud": "someone-else"},
        {"iss": "evil"},
        {"sub": "not-a-number"},
        {"sid": None},
    ]:
        claims = {k: v for k, v in {**base, **changed}.items() if v is not None}
        token = jwt.encode(claims, TOKEN_SECRET, algorithm="HS256")
        assert _invalid(tokens, token) == "INVALID_TOKEN", changed
    missing_exp = {k: v for k, v in base.items() if k != "exp"}
    token = jwt.encode(missing_exp, TOKEN_SECRET, algorithm="HS256")
    assert _invalid(tokens, token) == "INVALID_TOKEN"


def test_short_signing_keys_are_refused(clock: FixedClock) -> None:
    with pytest.raises(ValueError):
        AccessTokens(b"short", ACCESS_TTL, clock)
    AccessTokens(b"x" * 32, ACCESS_TTL, clock)


def test_looks_like_own_token(clock: FixedClock) -> None:
    token, _ = AccessTokens(TOKEN_SECRET, ACCESS_TTL, clock).issue(1, 2)
    assert looks_like_own_token(token)
    foreign = jwt.encode({"iss": "https://idp.example.com", "sub": "x"}, "s" * 32)
    assert not looks_like_own_token(foreign)
    assert not looks_like_own_token("not a jwt")


async def test_access_token_for_a_deleted_session_is_refused(
    auth: AuthService, db: Database
) -> None:
    issued = await signed_up(auth)
    # A well-signed token naming a session that does not belong to that member.
    forged, _ = auth.tokens.issue(issued.member_id + 1, issued.session_id)
    assert await code_of(auth.authenticate_member(forged)) == "SESSION_REVOKED"
    forged, _ = auth.tokens.issue(issued.member_id, issued.session_id + 1000)
    assert await code_of(auth.authenticate_member(forged)) == "SESSION_REVOKED"


# --- members of the brand's identity provider ---------------------------------------------


async def test_member_for_subject_creates_then_reuses(auth: AuthService, db: Database) -> None:
    first = await auth.member_for_subject("idp|123", "New@Example.com", True)
    assert first.session_id is None
    again = await auth.member_for_subject("idp|123", "changed@example.com", True)
    assert again.member_id == first.member_id
    assert await count(db, Member) == 1
    member = await stored_member(db, first.member_id)
    assert member.external_subject == "idp|123"
    assert member.email == "new@example.com"
    assert member.password_hash is None
    async with db.unit_of_work(write=False) as uow:
        sources = set(await uow.session.scalars(select(MemberConsent.source)))
    assert sources == {"identity_provider"}


async def test_member_for_subject_links_by_verified_email(auth: AuthService, db: Database) -> None:
    issued = await signed_up(auth, "link@example.com")
    principal = await auth.member_for_subject("idp|link", " Link@Example.COM", True)
    assert principal.member_id == issued.member_id
    assert (await stored_member(db, issued.member_id)).external_subject == "idp|link"
    assert await count(db, Member) == 1
    # The member can still use their password too.
    await auth.sign_in("link@example.com", STRONG_PASSWORD)


async def test_member_for_subject_does_not_link_an_unverified_email(
    auth: AuthService, db: Database
) -> None:
    issued = await signed_up(auth, "victim@example.com")
    principal = await auth.member_for_subject("idp|attacker", "victim@example.com", False)
    assert principal.member_id != issued.member_id
    victim = await stored_member(db, issued.member_id)
    assert victim.external_subject is None
    newcomer = await stored_member(db, principal.member_id)
    assert newcomer.email is None  # the address stays with its owner
    assert newcomer.external_subject == "idp|attacker"


async def test_member_for_subject_does_not_steal_a_linked_member(
    auth: AuthService, db: Database
) -> None:
    first = await auth.member_for_subject("idp|one", "shared@example.com", True)
    second = await auth.member_for_subject("idp|two", "shared@example.com", True)
    assert second.member_id != first.member_id
    assert (await stored_member(db, first.member_id)).external_subject == "idp|one"
    assert (await stored_member(db, second.member_id)).email is None


async def test_member_for_subject_with_a_bad_or_missing_email(
    auth: AuthService, db: Database
) -> None:
    a = await auth.member_for_subject("idp|a", "not-an-email", True)
    b = await auth.member_for_subject("idp|b", None, False)
    assert a.member_id != b.member_id
    assert (await stored_member(db, a.member_id)).email is None
    assert (await stored_member(db, b.member_id)).email is None


async def test_member_for_subject_refuses_a_blocked_member(auth: AuthService, db: Database) -> None:
    principal = await auth.member_for_subject("idp|x", "x@example.com", True)
    await set_status(db, principal.member_id, "blocked")
    assert await code_of(auth.member_for_subject("idp|x", "x@example.com", True)) == (
        "ACCOUNT_DISABLED"
    )


@pytest.mark.parametrize("email", ["burst@example.com", None])
async def test_concurrent_first_requests_of_one_identity_provider_member(
    auth: AuthService, db: Database, email: str | None
) -> None:
    """An app that fires several requests at once on first launch must get one member."""
    results = await asyncio.gather(
        *(auth.member_for_subject("idp|burst", email, True) for _ in range(5)),
        return_exceptions=True,
    )
    assert all(not isinstance(r, BaseException) for r in results), results
    assert len({r.member_id for r in results if not isinstance(r, BaseException)}) == 1
    assert await count(db, Member) == 1


async def test_sign_in_with_the_longest_valid_email(auth: AuthService) -> None:
    """Rate-limit buckets carry the address; one of maximum length must still fit."""
    email = "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 58]) + ".nl"
    assert len(email) == 254
    issued = await signed_up(auth, email)
    assert (await auth.sign_in(email, STRONG_PASSWORD)).member_id == issued.member_id
    assert await code_of(auth.sign_in(email, "wrong-password-x")) == "INVALID_CREDENTIALS"
    unknown = "z" + email[1:]
    assert await code_of(auth.sign_in(unknown, STRONG_PASSWORD)) == "INVALID_CREDENTIALS"


async def test_joining_through_the_identity_provider_is_a_sign_up(
    auth: AuthService, db: Database
) -> None:
    """Every entry path says `member.signed_up` (what the sign-up bonus reacts to)."""
    principal = await auth.member_for_subject("idp|event", "event@example.com", True)
    await auth.member_for_subject("idp|event", "event@example.com", True)  # no second one
    async with db.unit_of_work(write=False) as uow:
        rows = list(
            await uow.session.scalars(
                select(OutboxEvent).where(OutboxEvent.topic == MemberSignedUp.name)
            )
        )
    assert [recorded(row).event for row in rows] == [
        MemberSignedUp(member_id=principal.member_id, channel="identity_provider")
    ]


# --- error codes ----------------------------------------------------------------------------


def test_auth_codes_keep_their_wire_strings() -> None:
    assert all(code.value == code.name for code in AuthError)
    assert {code.value for code in AuthError} == {
        "WEAK_PASSWORD",
        "INVALID_CREDENTIALS",
        "RATE_LIMITED",
        "ACCOUNT_DISABLED",
        "INVALID_REFRESH_TOKEN",
        "REFRESH_TOKEN_REUSED",
        "UNAUTHENTICATED",
        "SESSION_REVOKED",
        "INVALID_TOKEN",
        "TOKEN_EXPIRED",
        "INVALID_API_KEY",
        "INVALID_NAME",
        "INVALID_SCOPE",
    }


async def test_auth_failures_carry_the_areas_enum(auth: AuthService) -> None:
    with pytest.raises(DomainError) as caught:
        await auth.sign_in(EMAIL, "wrong-password-x")
    assert caught.value.code is AuthError.INVALID_CREDENTIALS
    with pytest.raises(DomainError) as caught:
        await auth.refresh("rt_unknown")
    assert caught.value.code is AuthError.INVALID_REFRESH_TOKEN
    with pytest.raises(ValidationFailed) as failed:
        await auth.sign_up(SignUpInput("nope", "short", consents={"fax": True}))
    assert [p.code for p in failed.value.problems] == [
        MembersError.INVALID_EMAIL,
        AuthError.WEAK_PASSWORD,
        MembersError.INVALID_CHANNEL,
    ]
    assert all(type(p.code) in (AuthError, MembersError) for p in failed.value.problems)
