"""The `surveys:` section of a programme file.

A survey is a list of questions (single or multiple choice, a rating scale, NPS 0-10, free
text, a date), each required or optional, with logic evaluated on the server: after a
question is answered its rules are read in order; a rule whose condition holds may set
variables, skip later questions and jump to a later question or to the end. Conditions are
nested `all`/`any` groups over earlier answers, profile fields, hidden values (what the app or
the trigger passed in, such as the purchase) and variables.

Whether the logic can loop or reach a dead end is checked when the file is loaded
(`survey_problems`, called by `ProgrammeFile`), each problem at its own line.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

from loyalty.programme.spec_base import DisplayName, Key, SpecModel, _require_unique

QuestionKind = Literal["single_choice", "multiple_choice", "rating", "nps", "text", "date"]
Operator = Literal[
    "equals", "not_equals", "one_of", "greater_than", "less_than", "is_answered", "contains"
]
# Profile fields a condition may read, and those an answer may fill in.
PROFILE_FIELDS = ("interests", "preferred_channel", "locale", "birth_date", "days_since_joining")
ProfileTarget = Literal["interests", "preferred_channel", "birth_date"]
SurveyState = Literal["draft", "live", "paused", "closed"]
END = "end"
NPS_MIN, NPS_MAX = 0, 10
MAX_TEXT = 4000
Scalar = str | int | float | bool
Loc = tuple[str | int, ...]


class Choice(SpecModel):
    key: Key
    label: DisplayName


class Scale(SpecModel):
    min: int = Field(1, ge=0, le=100)
    max: int = Field(5, ge=1, le=100)
    min_label: Annotated[str, StringConstraints(max_length=60)] | None = None
    max_label: Annotated[str, StringConstraints(max_length=60)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.min >= self.max:
            raise ValueError("a scale's `min` must be below its `max`")
        return self


class Leaf(SpecModel):
    """One test on one value: an earlier `answer`, a `profile` field, a `hidden` value or a
    `variable` set by earlier logic."""

    answer: Key | None = None
    profile: (
        Literal["interests", "preferred_channel", "locale", "birth_date", "days_since_joining"]
        | None
    ) = None
    hidden: Key | None = None
    variable: Key | None = None
    op: Operator
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Leaf:
        given = [n for n in ("answer", "profile", "hidden", "variable") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("a condition reads exactly one of answer, profile, hidden, variable")
        if self.op == "one_of" and not isinstance(self.value, list):
            raise ValueError("`one_of` needs a list as `value`")
        if self.op in ("greater_than", "less_than") and (
            isinstance(self.value, bool | list) or self.value is None
        ):
            raise ValueError(f"`{self.op}` needs a number or a date as `value`")
        if self.op not in ("is_answered", "one_of") and self.value is None:
            raise ValueError(f"`{self.op}` needs a `value`")
        return self


def _shape(value: Any) -> str:
    """Which kind of condition: a mapping when read, a model when written back."""
    if isinstance(value, dict):
        return "all" if "all" in value else "any" if "any" in value else "leaf"
    return {"AllOf": "all", "AnyOf": "any"}.get(type(value).__name__, "leaf")


Condition = Annotated[
    Annotated[Leaf, Tag("leaf")] | Annotated["AllOf", Tag("all")] | Annotated["AnyOf", Tag("any")],
    Discriminator(_shape),
]


class AllOf(SpecModel):
    all: Annotated[list[Condition], Field(min_length=1)]


class AnyOf(SpecModel):
    any: Annotated[list[Condition], Field(min_length=1)]


AllOf.model_rebuild()
AnyOf.model_rebuild()


class Rule(SpecModel):
    """`if` (optional: no condition always holds), then any of `set`, `skip`, `jump`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    when: Condition | None = Field(None, alias="if")
    jump: Key | None = None  # a later question's key, or "end"
    skip: list[Key] = []
    set: dict[Key, Scalar] = {}

    @model_validator(mode="after")
    def _does_something(self) -> Rule:
        if self.jump is None and not self.skip and not self.set:
            raise ValueError("a rule needs `jump`, `skip` or `set`")
        return self


class QuestionSpec(SpecModel):
    key: Key
    prompt: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    kind: QuestionKind
    required: bool = True
    choices: list[Choice] = []
    min_picks: int | None = Field(None, ge=0)
    max_picks: int | None = Field(None, ge=1)
    scale: Scale | None = None
    max_length: int = Field(500, ge=1, le=MAX_TEXT)
    # A rating at or below this is "very low" (a detractor); default: the scale's lowest.
    low_at_most: int | None = None
    # The profile field the answer fills in (recorded with the survey and the time).
    profile_field: ProfileTarget | None = None
    logic: list[Rule] = []

    @model_validator(mode="after")
    def _fits_kind(self) -> QuestionSpec:
        choosing = self.kind in ("single_choice", "multiple_choice")
        if choosing and len(self.choices) < 2:
            raise ValueError(f"a {self.kind} question needs at least two `choices`")
        if not choosing and self.choices:
            raise ValueError(f"a {self.kind} question has no `choices`")
        _require_unique([c.key for c in self.choices], "choice")
        if self.kind != "multiple_choice" and (self.min_picks or self.max_picks):
            raise ValueError("`min_picks` and `max_picks` are for multiple_choice questions")
        if self.kind == "multiple_choice" and self.picks[0] > self.picks[1]:
            raise ValueError("`min_picks` must not exceed `max_picks` (or the choices)")
        if self.kind == "multiple_choice" and self.picks[1] > len(self.choices):
            raise ValueError("`max_picks` exceeds the number of choices")
        if self.scale is not None and self.kind != "rating":
            raise ValueError("only a rating question has a `scale` (NPS is always 0-10)")
        _fits_profile(self)
        return self

    @property
    def picks(self) -> tuple[int, int]:
        low = self.min_picks if self.min_picks is not None else (1 if self.required else 0)
        return low, self.max_picks if self.max_picks is not None else len(self.choices)

    @property
    def range(self) -> tuple[int, int]:
        if self.kind == "nps":
            return NPS_MIN, NPS_MAX
        scale = self.scale or Scale()
        return scale.min, scale.max

    @property
    def low_score(self) -> int:
        """Scores at or below this are very low (NPS: a detractor, 0-6)."""
        if self.kind == "nps":
            return 6
        return self.low_at_most if self.low_at_most is not None else self.range[0]


def _fits_profile(question: QuestionSpec) -> None:
    target = question.profile_field
    if target is None:
        return
    if target == "birth_date" and question.kind != "date":
        raise ValueError("`profile_field: birth_date` needs a date question")
    if target == "interests" and question.kind not in ("single_choice", "multiple_choice"):
        raise ValueError("`profile_field: interests` needs a choice question")
    if target == "preferred_channel":
        channels = {"email", "sms", "push", "in_app"}
        if question.kind != "single_choice" or not {c.key for c in question.choices} <= channels:
            raise ValueError(
                "`profile_field: preferred_channel` needs a single_choice question whose "
                "choice keys are channels (email, sms, push, in_app)"
            )


class Targeting(SpecModel):
    """Who is asked and how often. `after`: only after a purchase or an event (`event`), from
    `delay_hours` after it until `within_hours` after that; `repeat_every_days`: ask again this
    long after the last time (omitted: once per member); `sample_percent`: the same members
    every time (decided from the member and the survey); `segment`: only members in this
    segment (a key of the `segments:` section)."""

    segment: Key | None = None
    after: Literal["purchase", "event"] | None = None
    event: Annotated[str, StringConstraints(min_length=1, max_length=63)] | None = None
    delay_hours: int = Field(0, ge=0, le=24 * 90)
    within_hours: int = Field(24 * 7, ge=1, le=24 * 365)
    repeat_every_days: int | None = Field(None, ge=1, le=3650)
    sample_percent: int = Field(100, ge=1, le=100)
    starts: datetime | None = None
    ends: datetime | None = None

    @model_validator(mode="after")
    def _complete(self) -> Targeting:
        if (self.after == "event") != (self.event is not None):
            raise ValueError("`after: event` and `event` go together")
        if self.starts and self.ends and self.starts >= self.ends:
            raise ValueError("`starts` must be before `ends`")
        return self


class SurveySpec(SpecModel):
    key: Key
    title: DisplayName
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    state: SurveyState = "live"
    incentive_points: int = Field(0, ge=0, le=1_000_000)
    # Names of values the trigger or the app passes in, which conditions may read.
    hidden: list[Key] = []
    targeting: Targeting = Targeting()
    questions: Annotated[list[QuestionSpec], Field(min_length=1, max_length=100)]

    def question(self, key: str) -> QuestionSpec | None:
        return next((q for q in self.questions if q.key == key), None)


class SurveysSection(SpecModel):
    """Every survey, and the rules that hold across them."""

    # At least this long between two surveys asked of one member (any surveys).
    cooldown_days: int = Field(14, ge=0, le=3650)
    # An unfinished response expires this long after it started.
    expire_after_hours: int = Field(72, ge=1, le=24 * 90)
    definitions: list[SurveySpec] = []


# -- logic checks -----------------------------------------------------------------------------


def _leaves(condition: Leaf | AllOf | AnyOf | None, loc: Loc) -> Iterator[tuple[Loc, Leaf]]:
    if isinstance(condition, Leaf):
        yield loc, condition
    elif isinstance(condition, AllOf):
        for i, part in enumerate(condition.all):
            yield from _leaves(part, (*loc, "all", i))
    elif isinstance(condition, AnyOf):
        for i, part in enumerate(condition.any):
            yield from _leaves(part, (*loc, "any", i))


def _edges(survey: SurveySpec) -> dict[str, set[str]]:
    """Where the flow may go after each question (END for the end)."""
    keys = [q.key for q in survey.questions]
    edges: dict[str, set[str]] = {}
    for index, question in enumerate(survey.questions):
        targets: set[str] = set()
        falls_through = True
        for rule in question.logic:
            if rule.jump is not None:
                targets.add(rule.jump)
                if rule.when is None:
                    falls_through = False
                    break
        if falls_through:
            targets.add(keys[index + 1] if index + 1 < len(keys) else END)
        edges[question.key] = targets
    return edges


def _reachable(survey: SurveySpec, edges: dict[str, set[str]]) -> set[str]:
    first = survey.questions[0].key
    seen, stack = {first}, [first]
    while stack:
        for target in edges.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _rule_problems(
    survey: SurveySpec, index: int, rule: Rule, loc: Loc, variables: set[str]
) -> Iterator[tuple[Loc, str]]:
    position = {q.key: i for i, q in enumerate(survey.questions)}
    for where, leaf in _leaves(rule.when, (*loc, "if")):
        if leaf.answer is not None and position.get(leaf.answer, len(position)) > index:
            yield where, f"the condition reads {leaf.answer!r}, which is not an earlier question"
        elif leaf.answer is not None:
            yield from _choice_problems(survey.questions[position[leaf.answer]], leaf, where)
        if leaf.hidden is not None and leaf.hidden not in survey.hidden:
            yield where, f"hidden value {leaf.hidden!r} is not listed in the survey's `hidden`"
        if leaf.variable is not None and leaf.variable not in variables:
            yield where, f"variable {leaf.variable!r} is not set by any earlier rule"
    if rule.jump is not None and rule.jump != END and rule.jump not in position:
        yield (*loc, "jump"), f"dead end: there is no question {rule.jump!r} to jump to"
    elif rule.jump is not None and rule.jump != END and position[rule.jump] <= index:
        yield (*loc, "jump"), f"loop: {rule.jump!r} is not after this question"
    for skipped in rule.skip:
        if position.get(skipped, -1) <= index:
            yield (*loc, "skip"), f"{skipped!r} is not a later question, so it cannot be skipped"


def _choice_problems(question: QuestionSpec, leaf: Leaf, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if not question.choices or leaf.op in ("is_answered", "greater_than", "less_than"):
        return
    values = leaf.value if isinstance(leaf.value, list) else [leaf.value]
    known = {c.key for c in question.choices}
    unknown = sorted(str(v) for v in values if v not in known)
    if unknown:
        yield (*loc, "value"), f"{question.key!r} has no choice(s) {', '.join(unknown)}"


def survey_segment_problems(
    section: SurveysSection, segments: set[str]
) -> Iterator[tuple[Loc, str]]:
    """(location, message) for each survey whose targeting names an unknown segment."""
    for number, survey in enumerate(section.definitions):
        segment = survey.targeting.segment
        if segment is not None and segment not in segments:
            where: Loc = ("surveys", "definitions", number, "targeting", "segment")
            yield where, f"survey {survey.key} names unknown segment {segment!r}"


def survey_problems(section: SurveysSection) -> Iterator[tuple[Loc, str]]:
    """(location, message) for each survey whose logic reads what it cannot know yet, can loop
    or reaches a dead end; raises ValueError for keys used twice (said at the section)."""
    _require_unique([s.key for s in section.definitions], "survey")
    for number, survey in enumerate(section.definitions):
        base: Loc = ("surveys", "definitions", number)
        _require_unique([q.key for q in survey.questions], f"survey {survey.key}: question")
        variables: set[str] = set()
        for index, question in enumerate(survey.questions):
            for r, rule in enumerate(question.logic):
                loc = (*base, "questions", index, "logic", r)
                yield from _rule_problems(survey, index, rule, loc, variables)
                variables |= set(rule.set)
        # Jumps only go forward (a backward one is refused above), so no path loops.
        edges = _edges(survey)
        reached = _reachable(survey, edges)
        for index, question in enumerate(survey.questions):
            if question.key not in reached:
                where = (*base, "questions", index)
                yield where, f"dead end: no path through the logic reaches {question.key!r}"
