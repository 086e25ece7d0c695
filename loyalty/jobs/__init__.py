"""Scheduled work, one module per job: release pending points (`release`), expire lots
(`expire`), warn before expiry (`warn`), recalculate tiers (`tiers`), end offers for those
who hold them (`offers`), rebuild segment memberships (`segments`), prune the outbox
(`prune`), expire unfinished survey responses (`surveys`), erase members whose grace
period is over (`erasures`), give the rewards of referrals whose return window has passed
(`referrals`) and move campaign journeys on (`campaigns`).

Each job is idempotent (running it twice at the same instant changes nothing more), works in
small per-member transactions, and uses instants computed in programme time, so DST changes
need no special care.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from loyalty.core.clock import Clock
from loyalty.jobs.batch import BATCH
from loyalty.jobs.campaigns import run_campaigns
from loyalty.jobs.erasures import erase_members
from loyalty.jobs.expire import expire_points
from loyalty.jobs.offers import end_offers
from loyalty.jobs.prune import OUTBOX_RETENTION, prune_outbox
from loyalty.jobs.referrals import grant_referral_rewards
from loyalty.jobs.release import release_pending
from loyalty.jobs.segments import rebuild_segments
from loyalty.jobs.surveys import expire_responses
from loyalty.jobs.tiers import recalculate_tiers
from loyalty.jobs.warn import warn_expiring
from loyalty.storage.database import Database

__all__ = [
    "BATCH",
    "JOBS",
    "OUTBOX_RETENTION",
    "JobObserver",
    "end_offers",
    "erase_members",
    "expire_points",
    "expire_responses",
    "grant_referral_rewards",
    "prune_outbox",
    "rebuild_segments",
    "recalculate_tiers",
    "release_pending",
    "run_campaigns",
    "run_jobs",
    "run_scheduler",
    "warn_expiring",
]

log = logging.getLogger("trouw.jobs")

JOBS: dict[str, Callable[[Database, datetime], Awaitable[int]]] = {
    "release": release_pending,
    "expire": expire_points,
    "warn": warn_expiring,
    "tiers": recalculate_tiers,
    "offers": end_offers,
    "segments": rebuild_segments,
    "prune": prune_outbox,
    "surveys": expire_responses,
    "erasures": erase_members,
    "referrals": grant_referral_rewards,
    "campaigns": run_campaigns,
}


# Told of each job's run: its name, how long it took in seconds, and whether it succeeded.
JobObserver = Callable[[str, float, bool], None]


async def run_jobs(
    db: Database, clock: Clock, only: list[str] | None = None, observe: JobObserver | None = None
) -> dict[str, int]:
    """Run the jobs until each has nothing left to do now; returns what each touched."""
    done: dict[str, int] = {}
    for name, job in JOBS.items():
        if only and name not in only:
            continue
        started = time.perf_counter()
        succeeded = False
        try:
            done[name] = await _until_done(job, db, clock)
            succeeded = True
        finally:
            if observe is not None:
                observe(name, time.perf_counter() - started, succeeded)
    return done


async def _until_done(
    job: Callable[[Database, datetime], Awaitable[int]], db: Database, clock: Clock
) -> int:
    total = 0
    while (count := await job(db, clock.now())) > 0:
        total += count
        if count < BATCH:
            break
    return total


async def run_scheduler(
    db: Database,
    clock: Clock,
    interval: float = 60.0,
    stop: asyncio.Event | None = None,
    observe: JobObserver | None = None,
) -> None:
    """Run every job every `interval` seconds until `stop` is set. Safe to run in several
    processes at once: every change happens under the member's lock and is idempotent."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            done = await run_jobs(db, clock, observe=observe)
            if any(done.values()):
                log.info("scheduled jobs: %s", done)
        except Exception:
            log.exception("scheduled jobs failed; trying again next round")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
