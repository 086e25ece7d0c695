"""How the offers that fit one purchase combine: pure, deterministic, explained.

Offers without a group all apply. Offers in one group combine by the group's rule:

- `stack`: all of them apply;
- `best`: the one worth most to the member (a discount's money plus the points' money value
  at the programme's `point_value`); ties go to the higher priority, then the lower key;
- `first`: the one with the highest priority, then the lower key.

The result is a list of slots. A slot is what one offer (ungrouped or stacked) or one `best`
/ `first` group may give, as its candidates in order of preference: the till takes the first
candidate whose limits and budget still allow it, so a group whose favourite ran out falls back
to the next one. The same candidates always give the same slots in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

STACK, BEST, FIRST = "stack", "best", "first"


@dataclass(frozen=True)
class Candidate:
    """What one offer would give on this purchase."""

    offer_id: int
    key: str
    group: str | None
    priority: int
    points: int
    discount: Decimal
    worth: Decimal  # to the member, in money: discount + points x point value

    def describe(self) -> str:
        parts = []
        if self.points:
            parts.append(f"{self.points} points")
        if self.discount:
            parts.append(f"{self.discount:.2f} off")
        return " and ".join(parts) or "nothing"


@dataclass(frozen=True)
class Slot:
    """One place in the combination: its candidates in order, and why that order."""

    group: str | None
    rule: str | None
    candidates: tuple[Candidate, ...]

    def explain(self, chosen: Candidate) -> str:
        """Why `chosen` (one of the candidates) is the one that applies."""
        if self.rule is None:
            return "applies"
        if self.rule == STACK:
            return f"stacks in group {self.group}"
        others = [c for c in self.candidates if c is not chosen]
        skipped = self.candidates.index(chosen)
        if self.rule == BEST:
            text = f"best in group {self.group}: {chosen.describe()}"
            if others:
                runner = others[0]
                verb = "ties with" if runner.worth == chosen.worth else "beats"
                text += f" {verb} {runner.describe()} ({runner.key})"
                if runner.worth == chosen.worth:
                    text += ", wins on priority" if runner.priority != chosen.priority else ""
        else:
            text = f"first in group {self.group} by priority {chosen.priority}"
            if others:
                text += f" over {', '.join(c.key for c in others)}"
        if skipped:
            text += f"; {', '.join(c.key for c in self.candidates[:skipped])} could not apply"
        return text


def _by_priority(candidate: Candidate) -> tuple[int, str]:
    return (-candidate.priority, candidate.key)


def _by_worth(candidate: Candidate) -> tuple[Decimal, int, str]:
    return (-candidate.worth, -candidate.priority, candidate.key)


def combine(candidates: Iterable[Candidate], rules: Mapping[str, str]) -> list[Slot]:
    """The slots for these candidates; `rules` maps a group key to its rule (a group the
    programme does not know stacks, which cannot happen with a loaded programme)."""
    grouped: dict[str, list[Candidate]] = {}
    slots: list[Slot] = []
    for candidate in candidates:
        if candidate.group is None:
            slots.append(Slot(None, None, (candidate,)))
        else:
            grouped.setdefault(candidate.group, []).append(candidate)
    for group, members in grouped.items():
        rule = rules.get(group, STACK)
        if rule == STACK:
            slots.extend(Slot(group, STACK, (c,)) for c in members)
        else:
            order = _by_worth if rule == BEST else _by_priority
            slots.append(Slot(group, rule, tuple(sorted(members, key=order))))
    return sorted(slots, key=lambda slot: _by_priority(slot.candidates[0]))


def offer_ids(slots: Sequence[Slot]) -> list[int]:
    """Every candidate offer in the slots, in id order (the order rows are locked in)."""
    return sorted({c.offer_id for slot in slots for c in slot.candidates})
