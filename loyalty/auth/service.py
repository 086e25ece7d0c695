"""Signing members up and in: passwords, sessions with rotating refresh tokens, sign-out.

Session mechanics are in `loyalty.auth.sessions`, members of the brand's identity provider in
`loyalty.auth.identity`; `AuthService` is the one entry point the API uses for all of them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.auth import apikeys, identity, ratelimit, sessions
from loyalty.auth.apikeys import Integration
from loyalty.auth.errors import AuthError
from loyalty.auth.models import AuthSession, RefreshToken
from loyalty.auth.passwords import PasswordHasher, password_problem
from loyalty.auth.sessions import REFRESH_PREFIX, IssuedSession, MemberPrincipal, SessionIssuer
from loyalty.auth.tokens import AccessTokens
from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.core.identifiers import hash_secret
from loyalty.core.personal import keyring_of
from loyalty.members import service as members
from loyalty.members.contact import normalise_email
from loyalty.members.errors import MembersError
from loyalty.members.models import Member
from loyalty.members.signals import SignUpSignals
from loyalty.programme.store import current_settings
from loyalty.storage import direct
from loyalty.storage.database import Database

__all__ = [
    "REFRESH_PREFIX",
    "AuthService",
    "IssuedSession",
    "MemberPrincipal",
    "SignInLimits",
    "SignUpInput",
]


@dataclass(frozen=True)
class SignInLimits:
    """Sign-in limits that a stranger cannot use to lock the owner out (docs/security.md):
    one client gets `failures_per_pair` guesses at one account per window, then only that
    pair is refused; an account whose failures (from every client) pass
    `account_delay_after` takes one attempt per growing delay (doubling, at most
    `account_delay_cap`), never a lock; one client address gets `attempts_per_client`
    attempts per window over all accounts."""

    window: timedelta = timedelta(minutes=15)
    failures_per_pair: int = 5
    attempts_per_client: int = 30
    account_delay_after: int = 10
    account_delay_cap: timedelta = timedelta(seconds=60)


@dataclass
class SignUpInput:
    email: str
    password: str
    profile: members.ProfileInput = field(default_factory=members.ProfileInput)
    consents: dict[str, bool] = field(default_factory=dict)
    # For the referrals area's checks: the app's device id and a friend's referral code.
    device_id: str | None = None
    referral_code: str | None = None


# Built once: every signed-in request checks its session.
_SESSION_CHECK = (
    select(AuthSession.revoked_at, AuthSession.expires_at, Member.status)
    .join(Member, Member.id == AuthSession.member_id)
    .where(AuthSession.id == bindparam("session"), AuthSession.member_id == bindparam("member"))
)


class AuthService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        tokens: AccessTokens,
        hasher: PasswordHasher,
        *,
        limits: SignInLimits | None = None,
        refresh_ttl: timedelta = timedelta(days=30),
        session_lifetime: timedelta = timedelta(days=180),
        api_key_ttl: timedelta = timedelta(0),
    ) -> None:
        self.db = db
        self.clock = clock
        self.tokens = tokens
        self.hasher = hasher
        self.limits = limits or SignInLimits()
        self.verified_keys = apikeys.VerifiedKeys(api_key_ttl)
        self.issuer = SessionIssuer(
            clock, tokens, refresh_ttl=refresh_ttl, session_lifetime=session_lifetime
        )
        # Verifying against this keeps an unknown email as slow as a wrong password.
        self._decoy_hash = hasher.hash("decoy password that never matches")

    @property
    def refresh_ttl(self) -> timedelta:
        return self.issuer.refresh_ttl

    @property
    def session_lifetime(self) -> timedelta:
        return self.issuer.session_lifetime

    async def sign_up(
        self, data: SignUpInput, *, client: str | None = None, user_agent: str | None = None
    ) -> tuple[Member, IssuedSession]:
        email, profile = await self._check_sign_up(data)
        if client:
            await self._count_client(f"signup:client:{client}")
        password_hash = await asyncio.to_thread(self.hasher.hash, data.password)
        async with self.db.unit_of_work() as uow:
            member = await members.create_member(
                uow.session,
                now=self.clock.now(),
                email=email,
                password_hash=password_hash,
                profile=profile,
                consents=data.consents,
                signals=SignUpSignals(
                    device_id=data.device_id,
                    client_address=client,
                    referral_code=data.referral_code,
                ),
            )
            issued = await self.issuer.open(uow.session, member.id, user_agent)
            await uow.commit()
        return member, issued

    async def _check_sign_up(self, data: SignUpInput) -> tuple[str, dict[str, object]]:
        """The normalised email and cleaned profile; every problem is reported at once."""
        problems: list[DomainError] = []
        email = ""
        try:
            email = normalise_email(data.email)
        except DomainError as exc:
            problems.append(exc)
        first = data.profile.first_name if isinstance(data.profile.first_name, str) else ""
        last = data.profile.last_name if isinstance(data.profile.last_name, str) else ""
        weak = password_problem(data.password, user_inputs=[email, first, last])
        if weak:
            problems.append(DomainError(AuthError.WEAK_PASSWORD, weak, "password"))
        unknown = sorted(set(data.consents) - set(members.CONSENT_CHANNELS))
        if unknown:
            message = f"Unknown consent channel {unknown[0]}"
            problems.append(DomainError(MembersError.INVALID_CHANNEL, message, "consents"))
        async with self.db.unit_of_work(write=False) as uow:
            settings = await current_settings(uow.session)
        profile: dict[str, object] = {}
        try:
            profile = members.clean_profile(
                data.profile, today=self._today(settings.zone), country=settings.country
            )
        except ValidationFailed as exc:
            problems.extend(exc.problems)
        if problems:
            raise ValidationFailed(problems)
        return email, profile

    async def sign_in(
        self,
        email: str,
        password: str,
        *,
        client: str | None = None,
        user_agent: str | None = None,
    ) -> IssuedSession:
        try:
            email = normalise_email(email)
        except DomainError:
            raise _invalid_credentials() from None
        if client:
            await self._count_client(f"signin:client:{client}")
        now = self.clock.now()
        # Count the attempt before checking the password, in one atomic step: attempts sent
        # all at once must not each see "no failures yet" and get a guess in.
        async with self.db.unit_of_work() as uow:
            # Keyed by the email's blind index: the counters hold no address in clear.
            account = keyring_of(uow.session).blind(email).hex()
            buckets = (f"signin:pair:{account}|{client or '-'}", f"signin:account:{account}")
            allowed = await self._may_try(uow.session, account, buckets, now)
            member = await members.member_by_email(uow.session, email)
            await uow.commit()
        if not allowed:
            raise _rate_limited()
        stored = member.password_hash if member and member.password_hash else self._decoy_hash
        ok = await asyncio.to_thread(self.hasher.verify, stored, password)
        if member is None or not ok:
            raise _invalid_credentials()  # the attempt is already counted as a failure
        # Hash outside the write transaction: on SQLite it would hold up every other writer.
        rehashed = (
            await asyncio.to_thread(self.hasher.hash, password)
            if self.hasher.needs_rehash(stored)
            else None
        )
        async with self.db.unit_of_work() as uow:
            for bucket in buckets:
                await ratelimit.reset(uow.session, bucket, self.limits.window, now)
            if member.status != "active":
                await uow.commit()
                raise _account_disabled()
            if rehashed is not None:
                await uow.session.execute(
                    update(Member).where(Member.id == member.id).values(password_hash=rehashed)
                )
            issued = await self.issuer.open(uow.session, member.id, user_agent)
            await uow.commit()
        return issued

    async def refresh(self, refresh_token: str) -> IssuedSession:
        now = self.clock.now()
        invalid = DomainError(
            AuthError.INVALID_REFRESH_TOKEN,
            "The refresh token is not valid; sign in again",
            "refreshToken",
        )
        async with self.db.unit_of_work() as uow:
            s = uow.session
            row = await s.execute(
                select(RefreshToken, AuthSession, Member.status)
                .join(AuthSession, AuthSession.id == RefreshToken.session_id)
                .join(Member, Member.id == AuthSession.member_id)
                .where(RefreshToken.token_hash == hash_secret(refresh_token))
            )
            found = row.first()
            if found is None:
                raise invalid
            token, auth_session, status = found
            if auth_session.revoked_at is not None or auth_session.expires_at <= now:
                raise invalid
            if not await sessions.claim_refresh_token(s, token.id, now):
                # A used token came back: it was stolen or replayed. End the whole session.
                await sessions.revoke(s, [auth_session.id], now, "refresh_token_reused")
                await uow.commit()
                raise DomainError(
                    AuthError.REFRESH_TOKEN_REUSED,
                    "This refresh token was already used; the session has been signed out",
                    "refreshToken",
                )
            if token.expires_at <= now:
                raise invalid
            if status != "active":
                raise _account_disabled()
            auth_session.last_refreshed_at = now
            issued = await self.issuer.issue(s, auth_session)
            await uow.commit()
        return issued

    async def sign_out(
        self,
        *,
        principal: MemberPrincipal | None = None,
        refresh_token: str | None = None,
        everywhere: bool = False,
    ) -> None:
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            auth_session: AuthSession | None = None
            if refresh_token:
                auth_session = await sessions.session_of_refresh_token(s, refresh_token)
                if principal and auth_session and auth_session.member_id != principal.member_id:
                    auth_session = None
            elif principal and principal.session_id is not None:
                auth_session = await s.get(AuthSession, principal.session_id)
            if auth_session is None:
                raise DomainError(
                    AuthError.INVALID_REFRESH_TOKEN if refresh_token else AuthError.UNAUTHENTICATED,
                    "No session to sign out of",
                    "refreshToken" if refresh_token else None,
                )
            ids = (
                await sessions.open_sessions_of(s, auth_session.member_id)
                if everywhere
                else [auth_session.id]
            )
            await sessions.revoke(s, ids, now, "signed_out")
            await uow.commit()

    async def authenticate_member(self, access_token: str) -> MemberPrincipal:
        """A valid token is not enough: its session must still be open and the member active,
        so that signing out or blocking takes effect at once."""
        claims = self.tokens.verify(access_token)
        async with self.db.unit_of_work(write=False) as uow:
            given = {"session": claims.session_id, "member": claims.member_id}
            row = await direct.first(uow.session, _SESSION_CHECK, given)
        if row is None or row.revoked_at is not None or row.expires_at <= self.clock.now():
            raise DomainError(
                AuthError.SESSION_REVOKED, "This session has been signed out or has ended"
            )
        if row.status != "active":
            raise _account_disabled()
        return MemberPrincipal(claims.member_id, claims.session_id)

    async def authenticate_integration(self, api_key: str) -> Integration:
        known = self.verified_keys.get(api_key)
        if known is not None:
            return known
        now = self.clock.now()
        async with self.db.unit_of_work(write=False) as uow:
            key = await apikeys.find_key(uow.session, api_key)
        if apikeys.needs_touch(key, now):
            async with self.db.unit_of_work() as uow:
                await apikeys.touch(uow.session, key.id, now)
                await uow.commit()
        integration = apikeys.integration_of(key)
        self.verified_keys.keep(api_key, integration)
        return integration

    async def member_for_subject(
        self,
        subject: str,
        email: str | None,
        email_verified: bool,
        signals: SignUpSignals | None = None,
    ) -> MemberPrincipal:
        """Map a member of the brand's identity provider to ours, creating or linking one.
        `signals` (the token's referral code, the client's address) go with a new member."""
        member = await identity.member_of_subject(self.db, subject)
        signals = signals or SignUpSignals()
        if member is None:
            try:
                member = await identity.provision(
                    self.db, self.clock.now(), subject, email, email_verified, signals
                )
            except (IntegrityError, DomainError) as exc:
                if isinstance(exc, DomainError) and exc.code != MembersError.EMAIL_TAKEN:
                    raise
                # A parallel first request for the same subject created it on PostgreSQL; with
                # an email the unique address is what clashes, reported as EMAIL_TAKEN (also
                # when a sign-up with that address won). Provisioning again finds or links it.
                member = await identity.provision(
                    self.db, self.clock.now(), subject, email, email_verified, signals
                )
        if member.status != "active":
            raise _account_disabled()
        return MemberPrincipal(member.id, None)

    async def _may_try(
        self, session: AsyncSession, who: str, buckets: tuple[str, str], now: datetime
    ) -> bool:
        """Count one attempt of this client at this account; whether it may be checked.

        A pair over its limit is refused without counting against the account, so one
        client's guesses never slow the owner down elsewhere."""
        pair, account = buckets
        if (
            await ratelimit.hit(session, pair, self.limits.window, now)
            > self.limits.failures_per_pair
        ):
            return False
        over = await ratelimit.hit(session, account, self.limits.window, now)
        over -= self.limits.account_delay_after
        if over <= 0:
            return True
        # One attempt per delay window, the delay doubling with each failure, up to the cap.
        cap = max(1, int(self.limits.account_delay_cap.total_seconds()))
        delay = min(cap, 2 ** min(over - 1, 20))
        wait = f"signin:wait:{who}:{delay}"
        return await ratelimit.hit(session, wait, timedelta(seconds=delay), now) == 1

    async def _count_client(self, bucket: str) -> None:
        async with self.db.unit_of_work() as uow:
            n = await ratelimit.hit(uow.session, bucket, self.limits.window, self.clock.now())
            await uow.commit()
        if n > self.limits.attempts_per_client:
            raise _rate_limited()

    def _today(self, zone: ZoneInfo) -> date:
        return self.clock.now().astimezone(zone).date()


def _invalid_credentials() -> DomainError:
    return DomainError(AuthError.INVALID_CREDENTIALS, "Email or password is not right")


def _account_disabled() -> DomainError:
    return DomainError(AuthError.ACCOUNT_DISABLED, "This account is blocked or closed")


def _rate_limited() -> DomainError:
    return DomainError(
        AuthError.RATE_LIMITED, "Too many sign-in attempts; wait a while and try again"
    )
