"""Whether a campaign worked: treated against held out, per outcome, over each journey's own
window after its entry (conversion: a purchase within `conversion_days`; revenue per member
in that window; offers redeemed in it; retention: a purchase between `conversion_days` and
`retention_days`), each with its uplift, a 95 % interval and CUPED on the member's own value
over `pre_period_days` before entry. Beside them the guardrails (consents withdrawn after
entry, points the campaign gave) and the sample-ratio alarm against the expected held-out
share (the campaign's holdout and the control group version each journey met)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.campaigns.catalogue import spec_of
from loyalty.campaigns.models import Campaign, CampaignEnrolment, ControlGroupVersion
from loyalty.campaigns.stats import Uplift, sample_ratio_alarm, sample_ratio_p, uplift
from loyalty.core.events import OfferRedeemed
from loyalty.core.models import OutboxEvent
from loyalty.members.service import consents_for
from loyalty.points.models import LedgerEntry, Purchase

OUTCOMES = ("conversion", "revenue_per_member", "offer_redemption", "retention")


@dataclass(frozen=True)
class Outcome:
    name: str
    result: Uplift


@dataclass(frozen=True)
class Guardrail:
    name: str
    treated: float
    held_out: float


@dataclass(frozen=True)
class Report:
    campaign_key: str
    treated: int
    held_out: int
    expected_held_out_share: float
    sample_ratio_p: float
    sample_ratio_alarm: bool
    outcomes: list[Outcome]
    guardrails: list[Guardrail]


@dataclass
class _Journey:
    member_id: int
    held_out: bool
    entered_at: datetime
    values: dict[str, float]
    pre: dict[str, float]


def _windowed(
    journey: _Journey, when: datetime, amount: float, conv: timedelta, keep: timedelta
) -> None:
    start = journey.entered_at
    if start <= when < start + conv:
        journey.values["conversion"] = 1.0
        journey.values["revenue_per_member"] += amount
    elif start + conv <= when < start + keep:
        journey.values["retention"] = 1.0


async def _purchases(
    s: AsyncSession, journeys: list[_Journey], conv: timedelta, keep: timedelta, pre: timedelta
) -> None:
    by_member: dict[int, list[_Journey]] = defaultdict(list)
    for j in journeys:
        by_member[j.member_id].append(j)
    first = min(j.entered_at for j in journeys) - pre
    rows = await s.execute(
        select(
            Purchase.member_id, Purchase.occurred_at, Purchase.total, Purchase.returned_total
        ).where(Purchase.member_id.in_(list(by_member)), Purchase.occurred_at >= first)
    )
    for member_id, when, total, returned in rows:
        amount = float(Decimal(total) - Decimal(returned or 0))
        for j in by_member[member_id]:
            if j.entered_at - pre <= when < j.entered_at:
                j.pre["conversion"] = j.pre["retention"] = 1.0
                j.pre["revenue_per_member"] += amount
            else:
                _windowed(j, when, amount, conv, keep)


async def _redemptions(
    s: AsyncSession, journeys: list[_Journey], conv: timedelta, pre: timedelta
) -> None:
    by_member: dict[int, list[_Journey]] = defaultdict(list)
    for j in journeys:
        by_member[j.member_id].append(j)
    rows = await s.execute(
        select(OutboxEvent.member_id, OutboxEvent.occurred_at).where(
            OutboxEvent.topic == OfferRedeemed.name,
            OutboxEvent.member_id.in_(list(by_member)),
            OutboxEvent.occurred_at >= min(j.entered_at for j in journeys) - pre,
        )
    )
    for member_id, when in rows:
        for j in by_member.get(member_id or 0, []):
            if j.entered_at <= when < j.entered_at + conv:
                j.values["offer_redemption"] += 1
            elif j.entered_at - pre <= when < j.entered_at:
                j.pre["offer_redemption"] += 1


async def _guardrails(
    s: AsyncSession, campaign: Campaign, journeys: list[_Journey]
) -> list[Guardrail]:
    members = sorted({j.member_id for j in journeys})
    entered = {j.member_id: j.entered_at for j in journeys}
    opted_out = {
        c.member_id
        for c in await consents_for(s, members)
        if not c.granted and c.updated_at >= entered[c.member_id]
    }
    given = dict(
        (
            await s.execute(
                select(LedgerEntry.member_id, func.sum(LedgerEntry.points))
                .where(LedgerEntry.actor == f"campaign:{campaign.key}")
                .group_by(LedgerEntry.member_id)
            )
        ).all()
    )

    def share(held: bool, values: dict[int, float]) -> float:
        group = [j for j in journeys if j.held_out == held]
        return sum(values.get(j.member_id, 0) for j in group) / len(group) if group else 0.0

    outs = {m: 1.0 for m in opted_out}
    liability = {m: float(p or 0) for m, p in given.items()}
    return [
        Guardrail("opt_outs", share(False, outs), share(True, outs)),
        Guardrail("points_liability_added", share(False, liability), share(True, liability)),
    ]


async def _expected_share(
    s: AsyncSession, campaign: Campaign, rows: list[CampaignEnrolment]
) -> float:
    shares = {v.version: v.share for v in await s.scalars(select(ControlGroupVersion))}
    holdout = spec_of(campaign).holdout_share
    total = 0.0
    for row in rows:
        control = shares.get(row.control_version, 0.0) if row.control_version else 0.0
        total += control + (1 - control) * holdout
    return total / len(rows) if rows else holdout


async def report(s: AsyncSession, campaign: Campaign) -> Report:
    spec = spec_of(campaign).evaluation
    rows = list(
        await s.scalars(
            select(CampaignEnrolment).where(CampaignEnrolment.campaign_id == campaign.id)
        )
    )
    journeys = [
        _Journey(
            r.member_id,
            r.held_out,
            r.entered_at,
            dict.fromkeys(OUTCOMES, 0.0),
            dict.fromkeys(OUTCOMES, 0.0),
        )
        for r in rows
    ]
    conv, keep = timedelta(days=spec.conversion_days), timedelta(days=spec.retention_days)
    pre = timedelta(days=spec.pre_period_days)
    guardrails: list[Guardrail] = []
    if journeys:
        await _purchases(s, journeys, conv, keep, pre)
        await _redemptions(s, journeys, conv, pre)
        guardrails = await _guardrails(s, campaign, journeys)
    treated = [j for j in journeys if not j.held_out]
    held = [j for j in journeys if j.held_out]
    outcomes = [
        Outcome(
            name,
            uplift(
                [j.values[name] for j in treated],
                [j.values[name] for j in held],
                [j.pre[name] for j in treated],
                [j.pre[name] for j in held],
            ),
        )
        for name in OUTCOMES
    ]
    expected = await _expected_share(s, campaign, rows)
    return Report(
        campaign.key,
        len(treated),
        len(held),
        expected,
        sample_ratio_p(len(treated), len(held), expected),
        sample_ratio_alarm(len(treated), len(held), expected),
        outcomes,
        guardrails,
    )


def as_csv(found: Report) -> str:
    """The report as CSV: one row per outcome, then one per guardrail."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "campaign",
            "kind",
            "name",
            "treated",
            "held_out",
            "uplift",
            "low",
            "high",
            "variance_reduced",
        ]
    )
    for o in found.outcomes:
        r = o.result
        writer.writerow(
            [
                found.campaign_key,
                "outcome",
                o.name,
                r.treated,
                r.held_out,
                r.uplift,
                r.low,
                r.high,
                r.variance_reduced,
            ]
        )
    for g in found.guardrails:
        writer.writerow(
            [found.campaign_key, "guardrail", g.name, g.treated, g.held_out, "", "", "", ""]
        )
    writer.writerow(
        [
            found.campaign_key,
            "split",
            "sample_ratio_p",
            found.treated,
            found.held_out,
            "",
            "",
            "",
            found.sample_ratio_p,
        ]
    )
    return out.getvalue()
