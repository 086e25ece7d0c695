"""Signing members up and in: passwords, sessions with rotating refresh tokens, sign-out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.auth import apikeys, ratelimit
from loyalty.auth.apikeys import Integration
from loyalty.auth.models import AuthSession, RefreshToken
from loyalty.auth.passwords import PasswordHasher, password_problem
from loyalty.auth.tokens import AccessTokens
from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.core.identifiers import hash_secret, new_secret
from loyalty.members import service as members
from loyalty.members.contact import normalise_email
from loyalty.members.models import Member
from loyalty.programme.store import current_settings
from loyalty.storage.database import Database

REFRESH_PREFIX = "rt_"
INVALID_CREDENTIALS = DomainError("INVALID_CREDENTIALS", "Email or password is not right")


@dataclass(frozen=True)
class SignInLimits:
    window: timedelta = timedelta(minutes=15)
    failures_per_account: int = 5
    attempts_per_client: int = 30


@dataclass(frozen=True)
class IssuedSession:
    access_token: str
    refresh_token: str
    expires_at: datetime
    session_id: int
    member_id: int


@dataclass(frozen=True)
class MemberPrincipal:
    member_id: int
    # None for members signed in through the brand's identity provider.
    session_id: int | None


@dataclass
class SignUpInput:
    email: str
    password: str
    profile: members.ProfileInput = field(default_factory=members.ProfileInput)
    consents: dict[str, bool] = field(default_factory=dict)


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
    ) -> None:
        self.db = db
        self.clock = clock
        self.tokens = tokens
        self.hasher = hasher
        self.limits = limits or SignInLimits()
        self.refresh_ttl = refresh_ttl
        self.session_lifetime = session_lifetime
        # Verifying against this keeps an unknown email as slow as a wrong password.
        self._decoy_hash = hasher.hash("decoy password that never matches")

    async def sign_up(
        self, data: SignUpInput, *, client: str | None = None, user_agent: str | None = None
    ) -> tuple[Member, IssuedSession]:
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
            problems.append(DomainError("WEAK_PASSWORD", weak, "password"))
        unknown = sorted(set(data.consents) - set(members.CONSENT_CHANNELS))
        if unknown:
            problems.append(
                DomainError("INVALID_CHANNEL", f"Unknown consent channel {unknown[0]}", "consents")
            )
        async with self.db.unit_of_work(write=False) as uow:
            settings = await current_settings(uow.session)
        try:
            profile = members.clean_profile(
                data.profile, today=self._today(settings.zone), country=settings.country
            )
        except ValidationFailed as exc:
            problems.extend(exc.problems)
        if problems:
            raise ValidationFailed(problems)
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
            )
            issued = await self._open_session(uow.session, member.id, user_agent)
            await uow.commit()
        return member, issued

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
            raise INVALID_CREDENTIALS from None
        account_bucket = f"signin:account:{email}"
        if client:
            await self._count_client(f"signin:client:{client}")
        now = self.clock.now()
        # Count the attempt before checking the password, in one atomic step: attempts sent
        # all at once must not each see "no failures yet" and get a guess in.
        async with self.db.unit_of_work() as uow:
            attempts = await ratelimit.hit(uow.session, account_bucket, self.limits.window, now)
            member = await members.member_by_email(uow.session, email)
            await uow.commit()
        if attempts > self.limits.failures_per_account:
            raise _rate_limited()
        stored = member.password_hash if member and member.password_hash else self._decoy_hash
        ok = await asyncio.to_thread(self.hasher.verify, stored, password)
        if member is None or not ok:
            raise INVALID_CREDENTIALS  # the attempt is already counted as a failure
        # Hash outside the write transaction: on SQLite it would hold up every other writer.
        rehashed = (
            await asyncio.to_thread(self.hasher.hash, password)
            if self.hasher.needs_rehash(stored)
            else None
        )
        async with self.db.unit_of_work() as uow:
            await ratelimit.reset(uow.session, account_bucket, self.limits.window, now)
            if member.status != "active":
                await uow.commit()
                raise DomainError("ACCOUNT_DISABLED", "This account is blocked or closed")
            if rehashed is not None:
                await uow.session.execute(
                    update(Member).where(Member.id == member.id).values(password_hash=rehashed)
                )
            issued = await self._open_session(uow.session, member.id, user_agent)
            await uow.commit()
        return issued

    async def refresh(self, refresh_token: str) -> IssuedSession:
        now = self.clock.now()
        invalid = DomainError(
            "INVALID_REFRESH_TOKEN", "The refresh token is not valid; sign in again", "refreshToken"
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
            # Conditional update: of two concurrent uses of one token only one can win.
            claimed = await s.execute(
                update(RefreshToken)
                .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
                .values(used_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                # A used token came back: it was stolen or replayed. End the whole session.
                await self._revoke(s, [auth_session.id], now, "refresh_token_reused")
                await uow.commit()
                raise DomainError(
                    "REFRESH_TOKEN_REUSED",
                    "This refresh token was already used; the session has been signed out",
                    "refreshToken",
                )
            if token.expires_at <= now:
                raise invalid
            if status != "active":
                raise DomainError("ACCOUNT_DISABLED", "This account is blocked or closed")
            auth_session.last_refreshed_at = now
            issued = await self._issue(s, auth_session)
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
                auth_session = await s.scalar(
                    select(AuthSession)
                    .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
                    .where(RefreshToken.token_hash == hash_secret(refresh_token))
                )
                if principal and auth_session and auth_session.member_id != principal.member_id:
                    auth_session = None
            elif principal and principal.session_id is not None:
                auth_session = await s.get(AuthSession, principal.session_id)
            if auth_session is None:
                raise DomainError(
                    "INVALID_REFRESH_TOKEN" if refresh_token else "UNAUTHENTICATED",
                    "No session to sign out of",
                    "refreshToken" if refresh_token else None,
                )
            if everywhere:
                ids = list(
                    await s.scalars(
                        select(AuthSession.id).where(
                            AuthSession.member_id == auth_session.member_id,
                            AuthSession.revoked_at.is_(None),
                        )
                    )
                )
            else:
                ids = [auth_session.id]
            await self._revoke(s, ids, now, "signed_out")
            await uow.commit()

    async def authenticate_member(self, access_token: str) -> MemberPrincipal:
        """A valid token is not enough: its session must still be open and the member active,
        so that signing out or blocking takes effect at once."""
        claims = self.tokens.verify(access_token)
        async with self.db.unit_of_work(write=False) as uow:
            row = (
                await uow.session.execute(
                    select(AuthSession.revoked_at, AuthSession.expires_at, Member.status)
                    .join(Member, Member.id == AuthSession.member_id)
                    .where(
                        AuthSession.id == claims.session_id,
                        AuthSession.member_id == claims.member_id,
                    )
                )
            ).first()
        if row is None or row.revoked_at is not None or row.expires_at <= self.clock.now():
            raise DomainError("SESSION_REVOKED", "This session has been signed out or has ended")
        if row.status != "active":
            raise DomainError("ACCOUNT_DISABLED", "This account is blocked or closed")
        return MemberPrincipal(claims.member_id, claims.session_id)

    async def authenticate_integration(self, api_key: str) -> Integration:
        now = self.clock.now()
        async with self.db.unit_of_work(write=False) as uow:
            key = await apikeys.find_key(uow.session, api_key)
        if apikeys.needs_touch(key, now):
            async with self.db.unit_of_work() as uow:
                await apikeys.touch(uow.session, key.id, now)
                await uow.commit()
        return apikeys.integration_of(key)

    async def member_for_subject(
        self, subject: str, email: str | None, email_verified: bool
    ) -> MemberPrincipal:
        """Map a member of the brand's identity provider to ours, creating or linking one."""
        async with self.db.unit_of_work(write=False) as uow:
            member = await uow.session.scalar(
                select(Member).where(Member.external_subject == subject)
            )
        if member is None:
            try:
                member = await self._provision(subject, email, email_verified)
            except (IntegrityError, DomainError) as exc:
                if isinstance(exc, DomainError) and exc.code != "EMAIL_TAKEN":
                    raise
                # A parallel first request for the same subject created it on PostgreSQL; with
                # an email the unique address is what clashes, reported as EMAIL_TAKEN (also
                # when a sign-up with that address won). Provisioning again finds or links it.
                member = await self._provision(subject, email, email_verified)
        if member.status != "active":
            raise DomainError("ACCOUNT_DISABLED", "This account is blocked or closed")
        return MemberPrincipal(member.id, None)

    async def _provision(self, subject: str, email: str | None, email_verified: bool) -> Member:
        async with self.db.unit_of_work() as uow:
            s = uow.session
            # Checked again under the write lock: a parallel first request may have won.
            member = await s.scalar(select(Member).where(Member.external_subject == subject))
            if member is None:
                clean_email = _safe_email(email)
                existing = await members.member_by_email(s, clean_email) if clean_email else None
                if existing and email_verified and existing.external_subject is None:
                    existing.external_subject = subject
                    member = existing
                else:
                    member = await members.create_member(
                        s,
                        now=self.clock.now(),
                        email=None if existing else clean_email,
                        password_hash=None,
                        profile={},
                        consents={},
                        external_subject=subject,
                        consent_source="identity_provider",
                    )
                await uow.commit()
        return member

    async def _count_client(self, bucket: str) -> None:
        async with self.db.unit_of_work() as uow:
            n = await ratelimit.hit(uow.session, bucket, self.limits.window, self.clock.now())
            await uow.commit()
        if n > self.limits.attempts_per_client:
            raise _rate_limited()

    async def _open_session(
        self, s: AsyncSession, member_id: int, user_agent: str | None
    ) -> IssuedSession:
        now = self.clock.now()
        auth_session = AuthSession(
            member_id=member_id,
            created_at=now,
            expires_at=now + self.session_lifetime,
            user_agent=(user_agent or "")[:255] or None,
        )
        s.add(auth_session)
        await s.flush()
        return await self._issue(s, auth_session)

    async def _issue(self, s: AsyncSession, auth_session: AuthSession) -> IssuedSession:
        now = self.clock.now()
        plaintext = new_secret(REFRESH_PREFIX)
        s.add(
            RefreshToken(
                session_id=auth_session.id,
                token_hash=hash_secret(plaintext),
                created_at=now,
                expires_at=min(now + self.refresh_ttl, auth_session.expires_at),
            )
        )
        await s.flush()
        access, expires_at = self.tokens.issue(auth_session.member_id, auth_session.id)
        return IssuedSession(access, plaintext, expires_at, auth_session.id, auth_session.member_id)

    async def _revoke(self, s: AsyncSession, ids: list[int], now: datetime, reason: str) -> None:
        await s.execute(
            update(AuthSession)
            .where(AuthSession.id.in_(ids), AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )

    def _today(self, zone: ZoneInfo) -> date:
        return self.clock.now().astimezone(zone).date()


def _rate_limited() -> DomainError:
    return DomainError("RATE_LIMITED", "Too many sign-in attempts; wait a while and try again")


def _safe_email(email: str | None) -> str | None:
    if not email:
        return None
    try:
        return normalise_email(email)
    except DomainError:
        return None
