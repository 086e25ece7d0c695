"""The rewards catalogue and redemptions: spending points on a reward for a code that a till
takes once, and cancelling an unused code for the points back.

Redemption checks run in a fixed order (active and visible → stock → per-member limit →
member may spend → enough points); each failure is a DomainError with a stable code and
changes nothing. A redemption locks the member's account first (as every balance change does)
and then reserves stock with one conditional UPDATE, so neither points nor stock can be
handed out twice however many requests arrive at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError, NotFound
from loyalty.core.events import RewardCancelled, RewardCodeRedeemed, RewardRedeemed
from loyalty.core.identifiers import client_key
from loyalty.core.outbox import emit
from loyalty.members.models import Member
from loyalty.points import ledger
from loyalty.points.earning import period_start
from loyalty.points.models import LedgerEntry
from loyalty.points.service import balance_event
from loyalty.programme.spec import ProgrammeFile, RewardSpec
from loyalty.programme.store import current_file, current_settings
from loyalty.rewards.models import Redemption, Reward
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers

# Crockford base32 without the letters that read as digits or as each other (I, L, O, U).
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12  # 12 x 5 bits = 60 bits of randomness
CODE_GROUP = 4
# What a person may type for a character that is not in the alphabet (Crockford's decoding).
_CODE_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})

ISSUED, REDEEMED, CANCELLED = "issued", "redeemed", "cancelled"


@dataclass(frozen=True)
class RewardView:
    """A reward as one member (or an anonymous visitor) sees it in the catalogue."""

    reward: Reward
    available: bool  # in stock, and this member may redeem it (status, tier, limit)
    affordable: bool  # the member has enough available points; False for anonymous


@dataclass(frozen=True)
class RedeemResult:
    redemption: Redemption
    reward: Reward
    balance: ledger.Balance  # the member's balance now (after the spend)
    replayed: bool  # True when the idempotency key had already been used for this redemption


# --- the catalogue, kept in step with the programme file -----------------------------------


async def sync_rewards(s: AsyncSession, specs: Sequence[RewardSpec], now: datetime) -> None:
    """Upsert the `rewards` rows from the programme file by key; rewards no longer in the file
    are switched off (never deleted: redemptions reference them). `issued` is left alone.
    Times written without an offset in the file are read in the programme's timezone, so run
    this after `apply_programme` in the same unit of work."""
    zone = (await current_settings(s)).zone
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    for position, spec in enumerate(specs):
        values: dict[str, Any] = {
            "name": spec.name,
            "description": spec.description,
            "kind": spec.kind,
            "points_cost": spec.points_cost,
            "image_url": spec.image_url,
            "stock": spec.stock,
            "per_member_count": spec.per_member.count if spec.per_member else None,
            "per_member_period": spec.per_member.per if spec.per_member else None,
            "visible_from": _aware(spec.visible_from, zone),
            "visible_until": _aware(spec.visible_until, zone),
            "tiers": list(spec.tiers),
            "code_valid_days": spec.code_valid_days,
            "active": spec.active,
            "position": position,
            "updated_at": now,
        }
        statement = insert(Reward).values(key=spec.key, issued=0, **values)
        await s.execute(statement.on_conflict_do_update(index_elements=[Reward.key], set_=values))
    await s.execute(
        update(Reward)
        .where(Reward.key.not_in([spec.key for spec in specs]), Reward.active.is_(True))
        .values(active=False, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await s.flush()


def _aware(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=zone)


# --- codes ---------------------------------------------------------------------------------


def new_code() -> str:
    """A fresh redemption code such as `K7QF-3M9X-2RTD`: 60 random bits, easy to read out."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return _grouped(raw)


def normalise_code(code: str) -> str | None:
    """The stored spelling of a code as typed at a till (any case, dashes and spaces optional,
    O/I/L read as 0/1), or None when it cannot be a code at all."""
    raw = "".join(code.split()).replace("-", "").upper().translate(_CODE_READS_AS)
    if len(raw) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in raw):
        return None
    return _grouped(raw)


def _grouped(raw: str) -> str:
    return "-".join(raw[i : i + CODE_GROUP] for i in range(0, len(raw), CODE_GROUP))


# --- rules shared by the catalogue and redemption ------------------------------------------


def _visible(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Reward.active.is_(True),
        or_(Reward.visible_from.is_(None), Reward.visible_from <= now),
        or_(Reward.visible_until.is_(None), Reward.visible_until > now),
    ]


def _is_visible(reward: Reward, now: datetime) -> bool:
    return (
        reward.active
        and (reward.visible_from is None or reward.visible_from <= now)
        and (reward.visible_until is None or reward.visible_until > now)
    )


def _in_stock(reward: Reward) -> bool:
    return reward.stock is None or reward.issued < reward.stock


def _tier_allows(reward: Reward, tier: str | None) -> bool:
    return not reward.tiers or (tier is not None and tier in reward.tiers)


async def _used(
    s: AsyncSession, member_id: int, rewards: Iterable[Reward], now: datetime, zone: ZoneInfo
) -> dict[int, int]:
    """Live (not cancelled) redemptions of each limited reward by the member in the reward's
    current period, in one grouped query."""
    limited = [r for r in rewards if r.per_member_count is not None]
    if not limited:
        return {}
    periods = sorted({r.per_member_period or "ever" for r in limited})
    columns = []
    for period in periods:
        start = period_start(period, now, zone)
        columns.append(
            func.count(Redemption.id)
            if start is None
            else func.coalesce(func.sum(case((Redemption.created_at >= start, 1), else_=0)), 0)
        )
    rows = await s.execute(
        select(Redemption.reward_id, *columns)
        .where(
            Redemption.member_id == member_id,
            Redemption.reward_id.in_([r.id for r in limited]),
            Redemption.status != CANCELLED,
        )
        .group_by(Redemption.reward_id)
    )
    counts = {row[0]: {p: int(n) for p, n in zip(periods, row[1:], strict=True)} for row in rows}
    return {r.id: counts.get(r.id, {}).get(r.per_member_period or "ever", 0) for r in limited}


def _within_limit(reward: Reward, used: dict[int, int]) -> bool:
    return reward.per_member_count is None or used.get(reward.id, 0) < reward.per_member_count


def _idempotency_key(member_id: int, value: str) -> str:
    """Keys belong to their member: another member's key is neither a conflict nor a hint."""
    key = client_key(value, "idempotencyKey", "INVALID_IDEMPOTENCY_KEY", max_length=160)
    return f"{member_id}:{key}"


def _conflict() -> DomainError:
    return DomainError(
        "IDEMPOTENCY_CONFLICT",
        "This idempotencyKey was already used for another redemption",
        "idempotencyKey",
    )


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


class RewardsService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def catalogue(self, member_id: int | None) -> list[RewardView]:
        """The rewards on show now, in programme-file order, with what this member can do."""
        now = self.clock.now()
        async with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            rewards = list(
                await s.scalars(
                    select(Reward).where(*_visible(now)).order_by(Reward.position, Reward.id)
                )
            )
            if member_id is None:
                return [
                    RewardView(r, available=_in_stock(r) and not r.tiers, affordable=False)
                    for r in rewards
                ]
            member = await s.get(Member, member_id)
            if member is None:
                raise NotFound("Member", "member")
            file = await current_file(s)
            level = await tiers.current_level(s, member_id, file, now)
            tier = level.key if level else None
            points = (await ledger.balance(s, member_id, now)).available
            used = await _used(s, member_id, rewards, now, file.programme.zone)
            active = member.status == "active"
            return [
                RewardView(
                    r,
                    available=active
                    and _in_stock(r)
                    and _tier_allows(r, tier)
                    and _within_limit(r, used),
                    affordable=points >= r.points_cost,
                )
                for r in rewards
            ]

    async def redeem(self, member_id: int, reward_id: int, idempotency_key: str) -> RedeemResult:
        """Spend the reward's points for a fresh code, or fail with the first check that does
        not pass. The same key for the same member and reward returns the first result."""
        key = _idempotency_key(member_id, idempotency_key)
        try:
            return await self._redeem(member_id, reward_id, key)
        except IntegrityError:
            # Another member's request used the same key at the same moment (requests of one
            # member are serialised by the account lock and see each other's redemption).
            async with self.db.unit_of_work(write=False) as uow:
                s = uow.session
                existing = await s.scalar(
                    select(Redemption).where(Redemption.idempotency_key == key)
                )
                if existing is None:
                    raise
                if existing.member_id != member_id or existing.reward_id != reward_id:
                    raise _conflict() from None
                return await self._replay(s, existing)

    async def _replay(self, s: AsyncSession, existing: Redemption) -> RedeemResult:
        reward = await s.get(Reward, existing.reward_id)
        assert reward is not None
        balance = await self._balance(s, existing.member_id, await current_file(s))
        return RedeemResult(existing, reward, balance, replayed=True)

    async def _balance(
        self, s: AsyncSession, member_id: int, file: ProgrammeFile
    ) -> ledger.Balance:
        return await ledger.balance(
            s, member_id, self.clock.now(), warn_days=file.points.expiry.warn_days_before
        )

    async def _redeem(self, member_id: int, reward_id: int, key: str) -> RedeemResult:
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            member = await s.get(Member, member_id)
            if member is None:
                raise NotFound("Member", "member")
            account = await ledger.lock_account(s, member_id, now)
            await s.refresh(member)
            existing = await s.scalar(select(Redemption).where(Redemption.idempotency_key == key))
            if existing is not None:
                if existing.member_id != member_id or existing.reward_id != reward_id:
                    raise _conflict()
                return await self._replay(s, existing)

            # 1. The reward exists, is active and is on show now.
            reward = await s.scalar(
                select(Reward)
                .where(Reward.id == reward_id)
                .execution_options(populate_existing=True)
            )
            if reward is None or not _is_visible(reward, now):
                raise DomainError(
                    "REWARD_NOT_AVAILABLE", "This reward cannot be redeemed now", "rewardId"
                )
            # 2. Stock: reserved here, released by the rollback if a later check fails.
            reserved = await s.execute(
                update(Reward)
                .where(
                    Reward.id == reward.id,
                    or_(Reward.stock.is_(None), Reward.issued < Reward.stock),
                )
                .values(issued=Reward.issued + 1)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(reserved) != 1:
                raise DomainError("OUT_OF_STOCK", "This reward is out of stock", "rewardId")
            await s.refresh(reward)
            # 3. The member's limit for this reward in its period.
            file = await current_file(s)
            used = await _used(s, member_id, [reward], now, file.programme.zone)
            if not _within_limit(reward, used):
                per = reward.per_member_period or "ever"
                raise DomainError(
                    "LIMIT_REACHED",
                    f"This reward can be redeemed {reward.per_member_count} time(s) "
                    + ("in total" if per == "ever" else f"per {per}"),
                    "rewardId",
                )
            # 4. The member may spend, and has the tier the reward asks for.
            if member.status != "active":
                raise DomainError("MEMBER_NOT_ACTIVE", "This member is blocked or closed", "member")
            if reward.tiers:
                level = await tiers.current_level(s, member_id, file, now)
                if not _tier_allows(reward, level.key if level else None):
                    raise DomainError(
                        "TIER_REQUIRED", "This reward is for members of a higher tier", "rewardId"
                    )
            # 5. Enough points (INSUFFICIENT_POINTS from the ledger).
            entry = await ledger.spend(
                s,
                account,
                reward.points_cost,
                now=now,
                meta=ledger.EntryMeta(
                    f"Redeemed: {reward.name}", source_type="redemption", actor="member"
                ),
            )
            redemption = Redemption(
                member_id=member_id,
                reward_id=reward.id,
                code=new_code(),
                status=ISSUED,
                points=reward.points_cost,
                spend_entry_id=entry.id,
                idempotency_key=key,
                created_at=now,
                expires_at=now + timedelta(days=reward.code_valid_days),
                redeemed_at=None,
                redeemed_by=None,
                cancelled_at=None,
            )
            s.add(redemption)
            await s.flush()
            # The entry is written in this same transaction; it names its redemption.
            entry.source_id = redemption.id
            emit(
                s,
                RewardRedeemed(
                    member_id=member_id,
                    redemption_id=redemption.id,
                    reward_id=reward.id,
                    reward_key=reward.key,
                    points=redemption.points,
                    expires_at=redemption.expires_at,
                ),
                now,
            )
            await balance_event(s, member_id, [entry], now)
            balance = await self._balance(s, member_id, file)
            await uow.commit()
        return RedeemResult(redemption, reward, balance, replayed=False)

    async def redeem_code(self, code: str, actor: str) -> Redemption:
        """The till takes a code: valid once, before it expires, unless cancelled."""
        normalised = normalise_code(code)
        if normalised is None:
            raise _code_not_found()
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            redemption = await s.scalar(select(Redemption).where(Redemption.code == normalised))
            if redemption is None:
                raise _code_not_found()
            _check_usable(redemption, now)
            taken = await s.execute(
                update(Redemption)
                .where(Redemption.id == redemption.id, Redemption.status == ISSUED)
                .values(status=REDEEMED, redeemed_at=now, redeemed_by=actor[:120])
                .execution_options(synchronize_session=False)
            )
            await s.refresh(redemption)
            if _rowcount(taken) != 1:
                # Another till took (or staff cancelled) it between our read and our write.
                _check_usable(redemption, now)
                raise _code_used()
            emit(
                s,
                RewardCodeRedeemed(
                    member_id=redemption.member_id,
                    redemption_id=redemption.id,
                    reward_id=redemption.reward_id,
                ),
                now,
            )
            await uow.commit()
        return redemption

    async def cancel(
        self, redemption_id: int, *, member_id: int | None, actor: str | None
    ) -> Redemption:
        """Cancel an unused code: the points go back to the lots they came from (keeping their
        expiry) and the stock is released. A member may cancel only their own (member_id
        given); staff may cancel any (member_id None)."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            redemption = await s.get(Redemption, redemption_id)
            if redemption is None or (member_id is not None and redemption.member_id != member_id):
                raise NotFound("Redemption", "redemptionId")
            account = await ledger.lock_account(s, redemption.member_id, now)
            # A till does not take the account lock: the status decides who wins.
            cancelled = await s.execute(
                update(Redemption)
                .where(Redemption.id == redemption.id, Redemption.status == ISSUED)
                .values(status=CANCELLED, cancelled_at=now)
                .execution_options(synchronize_session=False)
            )
            await s.refresh(redemption)
            if _rowcount(cancelled) != 1:
                raise DomainError(
                    "NOT_CANCELLABLE",
                    f"This code is {redemption.status} and cannot be cancelled",
                    "redemptionId",
                )
            await s.execute(
                update(Reward)
                .where(Reward.id == redemption.reward_id, Reward.issued > 0)
                .values(issued=Reward.issued - 1)
                .execution_options(synchronize_session=False)
            )
            spent = await s.get(LedgerEntry, redemption.spend_entry_id)
            assert spent is not None
            entry = await ledger.restore(
                s,
                account,
                spent,
                now=now,
                meta=ledger.EntryMeta(
                    "Reward cancelled: points back",
                    source_type="redemption",
                    source_id=redemption.id,
                    actor=(actor or ("member" if member_id is not None else None)),
                ),
            )
            emit(
                s,
                RewardCancelled(
                    member_id=redemption.member_id,
                    redemption_id=redemption.id,
                    reward_id=redemption.reward_id,
                    points=redemption.points,
                ),
                now,
            )
            await balance_event(s, redemption.member_id, [entry], now)
            await uow.commit()
        return redemption

    async def redemptions(
        self, member_id: int, limit: int, after_id: int | None
    ) -> list[Redemption]:
        """The member's redemptions, newest first; `after_id` continues after that one."""
        if limit <= 0:
            return []
        query = select(Redemption).where(Redemption.member_id == member_id)
        if after_id is not None:
            query = query.where(Redemption.id < after_id)
        async with self.db.unit_of_work(write=False) as uow:
            return list(
                await uow.session.scalars(query.order_by(Redemption.id.desc()).limit(limit))
            )


def _code_not_found() -> DomainError:
    return DomainError("CODE_NOT_FOUND", "No reward with this code", "code")


def _code_used() -> DomainError:
    return DomainError("CODE_ALREADY_USED", "This code has already been used", "code")


def _check_usable(redemption: Redemption, now: datetime) -> None:
    if redemption.status == CANCELLED:
        raise DomainError("CODE_CANCELLED", "This code was cancelled", "code")
    if redemption.status == REDEEMED:
        raise _code_used()
    if redemption.expires_at <= now:
        raise DomainError("CODE_EXPIRED", "This code has expired", "code")
