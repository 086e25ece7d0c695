"""Expected failures of domain operations, each with a stable code clients can rely on."""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure: the API turns it into a `userErrors` entry, never a crash."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class NotFound(DomainError):
    def __init__(self, what: str, field: str | None = None) -> None:
        super().__init__("NOT_FOUND", f"{what} not found", field)


class ValidationFailed(DomainError):
    """Bad input; carries every problem found, not just the first."""

    def __init__(self, problems: list[DomainError]) -> None:
        first = problems[0]
        super().__init__(first.code, first.message, first.field)
        self.problems = problems
