"""Every argument of every field is checked here before a resolver sees it: text for length,
control characters, NUL bytes and lone surrogates; dates for a sane range; numbers and lists
for size. One field extension, attached by `guard_inputs` to each field that takes arguments,
so a new input cannot be forgotten, and both databases get the same, already checked, values.

A mutation answers a refused input with its payload's `userErrors` (codes `INVALID_TEXT`,
`TEXT_TOO_LONG`, `INVALID_DATE`, `INPUT_TOO_LARGE`); a query or subscription with a top-level
error with that code. The limits are documented in docs/security.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn

from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.base import StrawberryList, StrawberryOptional, has_object_definition
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.types.union import StrawberryUnion
from strawberry.utils.str_converters import to_camel_case

from api.core.errors import ApiError, UserError, UserErrorCode
from loyalty.core.errors import CoreError
from loyalty.core.text import text_problem

# The longest text any input takes, by input field name; every other text input takes at most
# DEFAULT_MAX_LENGTH characters. Counted in characters, the same on SQLite and PostgreSQL.
DEFAULT_MAX_LENGTH = 200
MAX_LENGTHS = {
    "description": 2_000,
    "terms": 5_000,
    "text": 2_000,
    "reason": 500,
    "image_url": 2_048,
    "email": 254,
    "password": 1_024,
    "refresh_token": 512,
    "token": 4_096,
}
# Text inside JSON inputs (segment rules, survey questions, event properties).
JSON_TEXT_MAX_LENGTH = 2_000
MAX_ITEMS = 1_000  # in any list, and in all of one JSON input together
EARLIEST, LATEST = date(1800, 1, 1), date(2999, 12, 31)
MAX_NUMBER = Decimal(10) ** 12
MAX_DECIMAL_PLACES = 6


@dataclasses.dataclass(frozen=True)
class InputProblem:
    path: list[str]
    code: CoreError
    message: str


def problems(
    value: Any, path: list[str], name: str, budget: list[int] | None = None
) -> Iterator[InputProblem]:
    """Every problem in one argument (walked into input objects, lists and JSON)."""
    budget = budget if budget is not None else [MAX_ITEMS]
    if isinstance(value, str):
        limit = MAX_LENGTHS.get(name, DEFAULT_MAX_LENGTH) if name else JSON_TEXT_MAX_LENGTH
        reason = text_problem(value, limit)
        if reason is not None:
            code = CoreError.TEXT_TOO_LONG if len(value) > limit else CoreError.INVALID_TEXT
            yield InputProblem(path, code, reason)
    elif isinstance(value, date):
        day = value.date() if isinstance(value, datetime) else value
        if not EARLIEST <= day <= LATEST:
            yield InputProblem(
                path, CoreError.INVALID_DATE, f"Give a date from {EARLIEST} to {LATEST}"
            )
    elif isinstance(value, Decimal):
        if not _sane_number(value):
            yield InputProblem(
                path,
                CoreError.INPUT_TOO_LARGE,
                f"Give a number below {MAX_NUMBER:,} with at most {MAX_DECIMAL_PLACES} decimals",
            )
    elif isinstance(value, dict):  # only JSON arguments are dicts
        yield from _json(value, path, budget)
    elif isinstance(value, list):
        if len(value) > MAX_ITEMS:
            yield InputProblem(path, CoreError.INPUT_TOO_LARGE, f"At most {MAX_ITEMS} items")
            return
        for index, item in enumerate(value):
            yield from problems(item, [*path, str(index)], name, budget)
    elif has_object_definition(value):
        for field in value.__strawberry_definition__.fields:
            inner = getattr(value, field.python_name, None)
            if inner is not None:
                key = field.graphql_name or to_camel_case(field.python_name)
                yield from problems(inner, [*path, key], field.python_name, budget)


def _json(value: Any, path: list[str], budget: list[int]) -> Iterator[InputProblem]:
    """JSON arguments: every key and string, and at most MAX_ITEMS values in all."""
    budget[0] -= 1
    if budget[0] < 0:
        if budget[0] == -1:
            yield InputProblem(path, CoreError.INPUT_TOO_LARGE, f"At most {MAX_ITEMS} values")
        return
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from problems(str(key), [*path, str(key)[:50]], "", budget)
            yield from _json(inner, [*path, str(key)[:50]], budget)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _json(inner, [*path, str(index)], budget)
    elif isinstance(value, str):
        yield from problems(value, path, "", budget)


def _sane_number(value: Decimal) -> bool:
    if not value.is_finite() or abs(value) >= MAX_NUMBER:
        return False
    exponent = value.normalize().as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -MAX_DECIMAL_PLACES


def first_problems(kwargs: dict[str, Any]) -> list[InputProblem]:
    found: list[InputProblem] = []
    for name, value in kwargs.items():
        if name == "info" or value is None:
            continue
        for problem in problems(value, [to_camel_case(name)], name):
            found.append(problem)
            if len(found) >= 10:  # enough to fix the request; no need to list thousands
                return found
    return found


def check_arguments(**kwargs: Any) -> None:
    """The same check for arguments that reach no field extension (a subscription's, whose
    root resolvers are async generators): raises the first problem as a top-level error."""
    found = first_problems(kwargs)
    if found:
        _raise_first(found)


def _raise_first(found: list[InputProblem]) -> NoReturn:
    first = found[0]
    raise ApiError(first.code, f"`{'.'.join(first.path)}`: {first.message}")


class InputCheck(FieldExtension):
    """Refuses a field's arguments when any of them is not fit to store."""

    def __init__(self, payload: type | None = None) -> None:
        self.payload = payload  # a mutation's payload type, which has `user_errors`

    def _refused(self, kwargs: dict[str, Any]) -> Any:
        found = first_problems(kwargs)
        if not found:
            return None
        if self.payload is not None:
            return self.payload(user_errors=[_user_error(p) for p in found])
        _raise_first(found)

    def resolve(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        refused = self._refused(kwargs)
        return refused if refused is not None else next_(source, info, **kwargs)

    async def resolve_async(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        refused = self._refused(kwargs)
        if refused is not None:
            return refused
        result = next_(source, info, **kwargs)
        return await result if hasattr(result, "__await__") else result


def _user_error(problem: InputProblem) -> UserError:
    return UserError(field=problem.path, message=problem.message, code=UserErrorCode(problem.code))


def _unwrap(type_: Any) -> list[Any]:
    if isinstance(type_, StrawberryOptional | StrawberryList):
        return _unwrap(type_.of_type)
    if isinstance(type_, LazyType):
        return _unwrap(type_.resolve_type())
    if isinstance(type_, StrawberryUnion):
        return [t for inner in type_.types for t in _unwrap(inner)]
    return [type_]


def _takes_arguments(field: StrawberryField) -> bool:
    return bool(field.arguments) and not any(isinstance(e, InputCheck) for e in field.extensions)


def guard_inputs(query: type, mutation: type, subscription: type | None = None) -> None:
    """Attach the check to every field with arguments reachable from the root types; each
    mutation answers with its payload type, which must take `user_errors` alone."""
    for field in mutation.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        if _takes_arguments(field):
            payload = _unwrap(field.type)[0]
            payload(user_errors=[])  # fails at start-up, not at the first bad input
            field.extensions.append(InputCheck(payload))
    seen: set[type] = set()
    pending = [query, mutation, *([subscription] if subscription else [])]
    while pending:
        current = pending.pop()
        if current in seen or not has_object_definition(current):
            continue
        seen.add(current)
        for field in current.__strawberry_definition__.fields:
            if _takes_arguments(field) and current is not subscription:
                field.extensions.append(InputCheck())
            pending.extend(_unwrap(field.type))
