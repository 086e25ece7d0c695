"""What the `campaigns:` section names, checked against the rest of the file: events,
segments, offers, templates, tiers and other steps; waits with no way out; loops of steps.
Each problem is reported at its own line (`ProgrammeFile` turns them into errors)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from loyalty.core.events import BY_NAME
from loyalty.programme.campaigns_spec import (
    EXIT,
    NOT_ENTRY_EVENTS,
    CampaignSpec,
    CampaignsSection,
    Loc,
    StepSpec,
    successors,
)
from loyalty.programme.spec_base import _require_unique


@dataclass(frozen=True)
class Known:
    """The keys a campaign may name."""

    segments: set[str]
    offers: set[str]
    tiers: set[str]
    templates: set[str]


def _event_problem(name: str, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if name not in BY_NAME or name in NOT_ENTRY_EVENTS:
        names = ", ".join(sorted(set(BY_NAME) - NOT_ENTRY_EVENTS))
        yield loc, f"no event is called {name!r} here (a campaign may use: {names})"


def _step_names(step: StepSpec, known: Known, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if step.wait_for is not None:
        yield from _event_problem(step.wait_for.event, (*loc, "wait_for", "event"))
        if step.wait_for.timeout_hours is None:
            where = (*loc, "wait_for")
            yield where, "a wait for an event needs `timeout_hours`: otherwise it may never end"
    if step.split is not None:
        when = step.split.when
        if when.segment is not None and when.segment not in known.segments:
            yield (*loc, "split", "if"), f"unknown segment {when.segment!r}"
        if when.tier is not None and when.tier not in known.tiers:
            yield (*loc, "split", "if", "tier"), f"unknown tier {when.tier!r}"
    if step.grant_offer is not None and step.grant_offer.offer not in known.offers:
        yield (*loc, "grant_offer", "offer"), f"unknown offer {step.grant_offer.offer!r}"
    if step.send is not None and step.send.template not in known.templates:
        yield (*loc, "send", "template"), f"unknown template {step.send.template!r}"


def _loops(spec: CampaignSpec, loc: Loc) -> Iterator[tuple[Loc, str]]:
    """A step that can come back to itself: the journey could go round for ever."""
    index = {step.key: i for i, step in enumerate(spec.steps)}
    state: dict[int, str] = {}

    def visit(i: int) -> int | None:
        state[i] = "open"
        for _, target in successors(spec, i):
            j = index.get(target)
            if j is None:
                continue
            if state.get(j) == "open":
                return j
            if j not in state and (found := visit(j)) is not None:
                return found
        state[i] = "done"
        return None

    for start in range(len(spec.steps)):
        if start not in state and (found := visit(start)) is not None:
            key = spec.steps[found].key
            yield (*loc, "steps", found), f"loop: the journey can come back to step {key!r}"
            return


def campaign_problems(section: CampaignsSection, known: Known) -> Iterator[tuple[Loc, str]]:
    """(location, message) for each problem of each campaign; raises ValueError for keys
    used twice (said at the section)."""
    _require_unique([c.key for c in section.definitions], "campaign")
    _require_unique([t.key for t in section.templates], "template")
    known = Known(known.segments, known.offers, known.tiers, {t.key for t in section.templates})
    for number, spec in enumerate(section.definitions):
        yield from one_campaign_problems(spec, known, ("campaigns", "definitions", number))


def one_campaign_problems(spec: CampaignSpec, known: Known, base: Loc) -> Iterator[tuple[Loc, str]]:
    _require_unique([s.key for s in spec.steps], f"campaign {spec.key}: step")
    if spec.entry.event is not None:
        yield from _event_problem(spec.entry.event, (*base, "entry", "event"))
    if spec.entry.segment is not None and spec.entry.segment not in known.segments:
        yield (*base, "entry", "segment"), f"unknown segment {spec.entry.segment!r}"
    keys = {s.key for s in spec.steps}
    for i, step in enumerate(spec.steps):
        loc = (*base, "steps", i)
        yield from _step_names(step, known, loc)
        for how, target in successors(spec, i):
            if target != EXIT and target not in keys:
                yield (*loc, how), f"there is no step {target!r} in campaign {spec.key}"
    yield from _loops(spec, base)
