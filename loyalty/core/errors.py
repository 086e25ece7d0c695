"""Expected failures of domain operations, each with a stable code clients can rely on.

Every area declares its codes as an `ErrorCode` enum in its `errors.py`; the value is the
string clients see in `userErrors.code`. The API exposes the union of them all as one GraphQL
enum, and docs/error-codes.md lists them (generated, tested)."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Base of every area's error codes (an enum with no members of its own)."""


class CoreError(ErrorCode):
    NOT_FOUND = "NOT_FOUND"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    INVALID_DATE = "INVALID_DATE"
    # Any text input: control characters, NUL bytes or lone surrogates (see loyalty.core.text).
    INVALID_TEXT = "INVALID_TEXT"
    # Any text input over its documented maximum length (docs/security.md).
    TEXT_TOO_LONG = "TEXT_TOO_LONG"
    # A list with more items, or a number with more digits, than any real input has.
    INPUT_TOO_LARGE = "INPUT_TOO_LARGE"


class DomainError(Exception):
    """An expected failure: the API turns it into a `userErrors` entry, never a crash."""

    def __init__(self, code: ErrorCode | str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class NotFound(DomainError):
    def __init__(self, what: str, field: str | None = None) -> None:
        super().__init__(CoreError.NOT_FOUND, f"{what} not found", field)


class ValidationFailed(DomainError):
    """Bad input; carries every problem found, not just the first."""

    def __init__(self, problems: list[DomainError]) -> None:
        first = problems[0]
        super().__init__(first.code, first.message, first.field)
        self.problems = problems


def error_code_enums() -> list[type[ErrorCode]]:
    """Every area's code enum that has been imported (`loyalty.areas` imports them all)."""
    found: list[type[ErrorCode]] = []
    pending = list(ErrorCode.__subclasses__())
    while pending:
        cls = pending.pop(0)
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def all_error_codes() -> dict[str, list[type[ErrorCode]]]:
    """Each code on the wire, with the enums (areas) that use it."""
    codes: dict[str, list[type[ErrorCode]]] = {}
    for enum in error_code_enums():
        for member in enum:
            codes.setdefault(member.value, []).append(enum)
    return dict(sorted(codes.items()))
