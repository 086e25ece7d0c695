"""Scheduled work: release pending points, expire lots, warn before expiry, recalculate tiers.

Each job is idempotent (running it twice at the same instant changes nothing more), works in
small per-member transactions, and uses instants computed in programme time, so DST changes
need no special care.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select

from loyalty.core.clock import Clock
from loyalty.core.events import PointsExpiring
from loyalty.core.models import OutboxEvent
from loyalty.core.outbox import emit
from loyalty.messaging.models import NotificationDelivery, OutboxDispatch
from loyalty.points import ledger
from loyalty.points.models import LedgerEntry, PointLot
from loyalty.points.service import balance_event
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers

log = logging.getLogger("trouw.jobs")
BATCH = 500
OUTBOX_RETENTION = timedelta(days=30)


async def release_pending(db: Database, now: datetime) -> int:
    """Tell members whose pending points became spendable. Balances are exact without this
    job (they are computed at read time); it exists so the member hears about it."""
    async with db.unit_of_work(write=False) as uow:
        member_ids = list(
            await uow.session.scalars(
                select(PointLot.member_id)
                .where(PointLot.released_at.is_(None), PointLot.available_at <= now)
                .distinct()
                .limit(BATCH)
            )
        )
    for member_id in member_ids:
        async with db.unit_of_work() as uow:
            s = uow.session
            await ledger.lock_account(s, member_id, now)
            lots = list(
                await s.scalars(
                    select(PointLot).where(
                        PointLot.member_id == member_id,
                        PointLot.released_at.is_(None),
                        PointLot.available_at <= now,
                    )
                )
            )
            for lot in lots:
                lot.released_at = now
            # Points a return took back, or that expired while pending, became nothing.
            told = [
                lot.entry_id
                for lot in lots
                if lot.remaining > 0 and (lot.expires_at is None or lot.expires_at > now)
            ]
            entries = list(await s.scalars(select(LedgerEntry).where(LedgerEntry.id.in_(told))))
            await balance_event(s, member_id, entries, now)
            await uow.commit()
    return len(member_ids)


async def expire_points(db: Database, now: datetime) -> int:
    """Write the expiry of every lot whose time has come. Returns members affected."""
    async with db.unit_of_work(write=False) as uow:
        member_ids = list(
            await uow.session.scalars(
                select(PointLot.member_id)
                .where(
                    PointLot.remaining > 0,
                    PointLot.expires_at.is_not(None),
                    PointLot.expires_at <= now,
                )
                .distinct()
                .limit(BATCH)
            )
        )
    for member_id in member_ids:
        async with db.unit_of_work() as uow:
            account = await ledger.lock_account(uow.session, member_id, now)
            entries = await ledger.settle(uow.session, account, now)
            if entries:
                await balance_event(uow.session, member_id, entries, now)
            await uow.commit()
    return len(member_ids)


async def warn_expiring(db: Database, now: datetime) -> int:
    """One `points.expiring` event per member and expiry instant, `warn_days_before` ahead."""
    async with db.unit_of_work(write=False) as uow:
        file = await current_file(uow.session)
    days = file.points.expiry.warn_days_before
    if days == 0:
        return 0
    horizon = now + timedelta(days=days)
    async with db.unit_of_work() as uow:
        s = uow.session
        lots = list(
            await s.scalars(
                select(PointLot)
                .where(
                    PointLot.warned_at.is_(None),
                    PointLot.remaining > 0,
                    PointLot.expires_at > now,
                    PointLot.expires_at <= horizon,
                )
                .order_by(PointLot.member_id, PointLot.expires_at)
                .limit(BATCH * 10)
                # Several schedulers may run at once: lots another one is warning about are
                # skipped, not warned twice (SQLite has one writer at a time anyway).
                .with_for_update(skip_locked=True)
            )
        )
        groups: dict[tuple[int, datetime], int] = defaultdict(int)
        for lot in lots:
            assert lot.expires_at is not None
            groups[(lot.member_id, lot.expires_at)] += lot.remaining
            lot.warned_at = now
        for (member_id, expires_at), points in groups.items():
            emit(s, PointsExpiring(member_id=member_id, points=points, expires_at=expires_at), now)
        await uow.commit()
    return len(groups)


async def recalculate_tiers(db: Database, now: datetime) -> int:
    async with db.unit_of_work(write=False) as uow:
        file = await current_file(uow.session)
        member_ids = await tiers.due_for_recalculation(uow.session, file, now, BATCH)
    for member_id in member_ids:
        async with db.unit_of_work() as uow:
            # Under the member's lock, like every other change: a second scheduler recalculating
            # the same member waits, then finds the tier already changed and announces nothing.
            await ledger.lock_account(uow.session, member_id, now)
            await tiers.recalculate(uow.session, member_id, file, now)
            await uow.commit()
    return len(member_ids)


async def prune_outbox(db: Database, now: datetime) -> int:
    """Forget events older than `OUTBOX_RETENTION` once they are published and every delivery
    of theirs is finished (their delivery records go with them). Reconnecting clients can catch
    up within the retention period."""
    cutoff = now - OUTBOX_RETENTION
    unfinished = select(NotificationDelivery.id).where(
        NotificationDelivery.event_id == OutboxEvent.id,
        NotificationDelivery.status == "pending",
    )
    async with db.unit_of_work() as uow:
        ids = list(
            await uow.session.scalars(
                select(OutboxEvent.id)
                .join(OutboxDispatch, OutboxDispatch.event_id == OutboxEvent.id)
                .where(
                    OutboxEvent.occurred_at < cutoff,
                    OutboxEvent.published_at.is_not(None),
                    ~exists(unfinished),
                )
                .order_by(OutboxEvent.id)
                .limit(BATCH * 10)
            )
        )
        if ids:
            # Explicit, not only ON DELETE CASCADE: SQLite databases may run without it.
            await uow.session.execute(
                delete(NotificationDelivery).where(NotificationDelivery.event_id.in_(ids))
            )
            await uow.session.execute(
                delete(OutboxDispatch).where(OutboxDispatch.event_id.in_(ids))
            )
            await uow.session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
        await uow.commit()
    return len(ids)


JOBS: dict[str, Callable[[Database, datetime], Awaitable[int]]] = {
    "release": release_pending,
    "expire": expire_points,
    "warn": warn_expiring,
    "tiers": recalculate_tiers,
    "prune": prune_outbox,
}


async def run_jobs(db: Database, clock: Clock, only: list[str] | None = None) -> dict[str, int]:
    """Run the jobs until each has nothing left to do now; returns what each touched."""
    done: dict[str, int] = {}
    for name, job in JOBS.items():
        if only and name not in only:
            continue
        total = 0
        while (count := await job(db, clock.now())) > 0:
            total += count
            if count < BATCH:
                break
        done[name] = total
    return done


async def run_scheduler(
    db: Database, clock: Clock, interval: float = 60.0, stop: asyncio.Event | None = None
) -> None:
    """Run every job every `interval` seconds until `stop` is set. Safe to run in several
    processes at once: every change happens under the member's lock and is idempotent."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            done = await run_jobs(db, clock)
            if any(done.values()):
                log.info("scheduled jobs: %s", done)
        except Exception:
            log.exception("scheduled jobs failed; trying again next round")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
