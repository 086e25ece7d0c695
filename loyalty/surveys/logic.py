"""The survey's logic, evaluated on the server: conditions over earlier answers, profile
fields, hidden values and variables; what comes after an answered question.

After a question is answered (or an optional one passed by), its rules are read in order.
Each rule whose condition holds sets its variables and skips its questions; the first such
rule that jumps decides the next question ("end" ends the survey). Without a jump the next
question in order that was not skipped comes next, or the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loyalty.programme.surveys_spec import END, AllOf, AnyOf, Leaf, SurveySpec

Value = Any


@dataclass
class Situation:
    """What conditions may read: the answers so far (by question key), the member's profile,
    the hidden values and the variables set by earlier rules."""

    answers: dict[str, Value] = field(default_factory=dict)
    profile: dict[str, Value] = field(default_factory=dict)
    hidden: dict[str, Value] = field(default_factory=dict)
    variables: dict[str, Value] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)

    def read(self, leaf: Leaf) -> Value:
        if leaf.answer is not None:
            return self.answers.get(leaf.answer)
        if leaf.profile is not None:
            return self.profile.get(leaf.profile)
        if leaf.hidden is not None:
            return self.hidden.get(leaf.hidden)
        assert leaf.variable is not None
        return self.variables.get(leaf.variable)


def _number(value: Value) -> float | str | None:
    """A comparable form: numbers as floats, dates (ISO text) as text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return None


def _compare(actual: Value, expected: Value, greater: bool) -> bool:
    a, b = _number(actual), _number(expected)
    if a is None or b is None or type(a) is not type(b):
        return False
    return a > b if greater else a < b  # type: ignore[operator]


def _contains(actual: Value, expected: Value) -> bool:
    if isinstance(actual, list):
        return expected in actual
    if isinstance(actual, str) and isinstance(expected, str):
        return expected.casefold() in actual.casefold()
    return False


def holds_leaf(leaf: Leaf, situation: Situation) -> bool:
    actual = situation.read(leaf)
    expected = leaf.value
    match leaf.op:
        case "is_answered":
            wanted = True if expected is None else bool(expected)
            return (actual is not None and actual != []) == wanted
        case "equals":
            if isinstance(actual, list) and isinstance(expected, list):
                return sorted(map(str, actual)) == sorted(map(str, expected))
            return actual == expected
        case "not_equals":
            return actual != expected
        case "one_of":
            options = expected if isinstance(expected, list) else []
            if isinstance(actual, list):
                return any(item in options for item in actual)
            return actual in options
        case "greater_than":
            return _compare(actual, expected, greater=True)
        case "less_than":
            return _compare(actual, expected, greater=False)
        case "contains":
            return _contains(actual, expected)
    return False


def holds(condition: Leaf | AllOf | AnyOf | None, situation: Situation) -> bool:
    if condition is None:
        return True
    if isinstance(condition, AllOf):
        return all(holds(part, situation) for part in condition.all)
    if isinstance(condition, AnyOf):
        return any(holds(part, situation) for part in condition.any)
    return holds_leaf(condition, situation)


def after(survey: SurveySpec, key: str, situation: Situation) -> str | None:
    """The question that follows `key` (None: the end), updating the situation's variables
    and skipped questions by the rules that hold."""
    question = survey.question(key)
    assert question is not None
    for rule in question.logic:
        if not holds(rule.when, situation):
            continue
        situation.variables.update(rule.set)
        situation.skipped.update(rule.skip)
        if rule.jump is not None:
            return None if rule.jump == END else rule.jump
    keys = [q.key for q in survey.questions]
    for later in keys[keys.index(key) + 1 :]:
        if later not in situation.skipped:
            return later
    return None


def remaining(survey: SurveySpec, key: str | None, skipped: set[str]) -> int:
    """Questions from `key` on that the member may still be asked (by the order, not yet
    knowing where the logic jumps): the rest of the progress bar."""
    if key is None:
        return 0
    keys = [q.key for q in survey.questions]
    return sum(1 for later in keys[keys.index(key) :] if later not in skipped)
