"""How failures reach clients: userErrors for expected ones, coded errors for auth, a mask
over everything unexpected."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from loyalty.core.errors import DomainError, ValidationFailed


class ApiError(Exception):
    """An expected top-level error (authentication, permission, bad arguments) with a stable
    `extensions.code`; unlike unexpected exceptions it is shown to the client as is."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.extensions = {"code": code}


def unauthenticated(message: str = "Sign in to see this") -> ApiError:
    return ApiError("UNAUTHENTICATED", message)


def forbidden(message: str = "Not allowed") -> ApiError:
    return ApiError("FORBIDDEN", message)


@strawberry.type
class UserError:
    field: list[str] | None
    message: str
    code: str


def user_errors(exc: DomainError) -> list[UserError]:
    problems = exc.problems if isinstance(exc, ValidationFailed) else [exc]
    return [
        UserError(
            field=["input", p.field] if p.field else None,
            message=p.message,
            code=p.code,
        )
        for p in problems
    ]


def should_mask(error: GraphQLError) -> bool:
    """Mask errors raised by unexpected exceptions; keep syntax, validation and ApiErrors.

    An error that points into the document but not at a resolved field is about the request
    itself (a variable or literal that does not fit its type, e.g. a malformed date): kept."""
    original = error.original_error
    if original is None or isinstance(original, (ApiError, GraphQLError)):
        return False
    return error.path is not None or not error.nodes
