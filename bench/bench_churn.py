"""Churn risk against a known truth: the AUC of Trouw's score and of a hand-written baseline.

Members are generated with a truth label and recorded through the real code and database
(each purchase through `PointsService.record_purchase` at its own time):

- loyal members with their own rhythm, from every few days to every three months (slow but
  regular), with jitter, now somewhere inside their usual gap; a few of them on holiday
  (a gap up to twice their usual one), who will come back;
- churners whose intervals lengthen and whose spend falls, then silence; and some who stop
  abruptly, with no trend before.

Then the full rebuild computes everyone's rhythm, and the score is read through the read
model the admin API uses. The baseline in the same run is plain days since the last
purchase. AUC is computed with the rank (Mann-Whitney) formula, ties averaged.

    .venv/bin/python bench/bench_churn.py [--members 200] [--seed 7] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from api.wiring import wire_database
from loyalty.core.clock import FixedClock
from loyalty.members import service as members
from loyalty.members.signals import NO_SIGNALS
from loyalty.points.service import MemberRef, PointsService, PurchaseInput, PurchaseLine
from loyalty.programme.install import install_programme
from loyalty.programme.loader import parse_programme
from loyalty.segments.read import SegmentReads
from loyalty.segments.service import SegmentsService
from loyalty.storage.database import Database
from loyalty.storage.migrate import upgrade

PROGRAMME = """
programme: {key: churn, name: Churn, currency: EUR, point_value: "0.01", timezone: Europe/Amsterdam}
segments:
  - {key: at-risk, name: At risk, rules: {churn_risk: {at_least: 0.6}}}
"""
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@dataclass
class Synthetic:
    churns: bool
    kind: str
    purchases: list[tuple[datetime, Decimal]]


def _loyal(rng: random.Random, slow: bool) -> Synthetic:
    interval = rng.uniform(45, 90) if slow else rng.uniform(4, 40)
    gap = rng.uniform(0.0, 1.1) * interval
    kind = "loyal-slow" if slow else "loyal"
    if rng.random() < 0.12:  # on holiday: longer than usual, but coming back
        gap, kind = rng.uniform(1.3, 2.0) * interval, kind + "-holiday"
    at, spend = NOW - timedelta(days=gap), rng.uniform(8, 60)
    bought = []
    for _ in range(rng.randint(6, 18)):
        bought.append((at, Decimal(f"{spend * rng.uniform(0.8, 1.2):.2f}")))
        at -= timedelta(days=interval * rng.uniform(0.75, 1.25))
    return Synthetic(False, kind, bought[::-1])


def _churner(rng: random.Random) -> Synthetic:
    interval, spend = rng.uniform(4, 30), rng.uniform(8, 60)
    abrupt = rng.random() < 0.25
    steady = rng.randint(4, 12)
    fading = 0 if abrupt else rng.randint(3, 6)
    gaps = [interval * rng.uniform(0.8, 1.2) for _ in range(steady)]
    amounts = [spend * rng.uniform(0.8, 1.2) for _ in range(steady + 1)]
    for i in range(fading):
        gaps.append(interval * (1.25 + 0.25 * i) ** (i + 1) * rng.uniform(0.9, 1.1))
        amounts.append(amounts[-1] * rng.uniform(0.7, 0.9))
    silence = rng.uniform(1.3, 3.0) * gaps[-1]
    at, bought = NOW - timedelta(days=silence), []
    for gap, amount in zip(reversed([*gaps, 0.0]), reversed(amounts), strict=True):
        bought.append((at, Decimal(f"{amount:.2f}")))
        at -= timedelta(days=gap)
    return Synthetic(True, "churn-abrupt" if abrupt else "churn-fading", bought[::-1])


def generate(n: int, seed: int) -> list[Synthetic]:
    rng = random.Random(seed)
    found = []
    for i in range(n):
        roll = i % 10
        if roll < 4:
            found.append(_churner(rng))
        else:
            found.append(_loyal(rng, slow=roll >= 8))
    return found


def auc(scores: list[float], truth: list[bool]) -> float:
    """Area under the ROC curve by the rank formula (ties get their average rank)."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    positives = sum(truth)
    negatives = len(truth) - positives
    ranked = sum(r for r, t in zip(ranks, truth, strict=True) if t)
    return (ranked - positives * (positives + 1) / 2) / (positives * negatives)


async def record(db: Database, people: list[Synthetic]) -> list[int]:
    clock = FixedClock(NOW - timedelta(days=3 * 365))
    points = PointsService(db, clock)
    ids = []
    for n, person in enumerate(people):
        clock.set(person.purchases[0][0] - timedelta(days=1))
        async with db.unit_of_work() as uow:
            member = await members.create_member(
                uow.session,
                signals=NO_SIGNALS,
                now=clock.now(),
                email=f"churn{n}@example.com",
                password_hash=None,
                profile={},
                consents={},
            )
            await uow.commit()
        ids.append(member.id)
        for k, (at, amount) in enumerate(person.purchases):
            clock.set(at)
            await points.record_purchase(
                PurchaseInput(
                    MemberRef(member_id=member.id),
                    f"churn-{n}-{k}",
                    [PurchaseLine("KOF", Decimal(1), amount, "koffie")],
                )
            )
    return ids


async def main(n: int, seed: int, url: str | None) -> None:
    folder = tempfile.mkdtemp()
    db = Database(url or f"sqlite+aiosqlite:///{Path(folder) / 'churn.db'}")
    await upgrade(db)
    wire_database(db)
    clock = FixedClock(NOW - timedelta(days=4 * 365))
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(PROGRAMME), clock.now())
        await uow.commit()
    people = generate(n, seed)
    started = time.perf_counter()
    ids = await record(db, people)
    recorded = time.perf_counter() - started
    clock.set(NOW)
    started = time.perf_counter()
    await SegmentsService(db, clock).rebuild()
    rebuilt = time.perf_counter() - started
    profiles = await SegmentReads(db, clock).insights(ids)
    await db.dispose()

    truth = [p.churns for p in people]
    score = [p.rhythm.churn_risk if p else 0.0 for p in profiles]
    baseline = [p.rhythm.days_since_last or 0.0 if p else 0.0 for p in profiles]
    purchases = sum(len(p.purchases) for p in people)
    print(f"members {n} ({sum(truth)} churners), purchases {purchases}, seed {seed}")
    print(f"recorded through PointsService in {recorded:.1f} s")
    print(f"full rebuild (RFM cut points + every member, every segment): {rebuilt:.2f} s")
    print(f"AUC churn risk:                 {auc(score, truth):.3f}")
    print(f"AUC baseline (days since last): {auc(baseline, truth):.3f}")
    for kind in sorted({p.kind for p in people}):
        mine = [s for s, p in zip(score, people, strict=True) if p.kind == kind]
        print(f"  {kind:<20} n={len(mine):<4} mean risk {sum(mine) / len(mine):.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.members, args.seed, args.database_url))
