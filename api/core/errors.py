"""How failures reach clients: userErrors for expected ones, coded errors for auth, a mask
over everything unexpected.

Both kinds of code are GraphQL enums, so clients can generate them: `UserErrorCode` is every
code of every area's `ErrorCode` enum (their union, built when this module is imported) and
`ApiErrorCode` the codes of top-level errors. The names are the strings on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError

from loyalty.areas import areas
from loyalty.core.errors import DomainError, ErrorCode, ValidationFailed, all_error_codes

USER_ERROR_CODE_DESCRIPTION = (
    "Why a mutation did not do what was asked: stable codes to branch on, one per expected "
    "failure, declared by the area of the domain that raises them."
)
API_ERROR_CODE_DESCRIPTION = (
    "`extensions.code` of a top-level error (in `errors`, not in `userErrors`). When sent "
    "credentials are refused, the code is the reason from the auth area instead (for example "
    "`TOKEN_EXPIRED` or `INVALID_API_KEY`, see `UserErrorCode`)."
)


@strawberry.enum(description=API_ERROR_CODE_DESCRIPTION)
class ApiErrorCode(Enum):
    UNAUTHENTICATED = strawberry.enum_value(
        "UNAUTHENTICATED", description="No credentials were sent, and this needs them."
    )
    FORBIDDEN = strawberry.enum_value(
        "FORBIDDEN", description="The caller is known but may not do or see this."
    )
    BAD_USER_INPUT = strawberry.enum_value(
        "BAD_USER_INPUT",
        description="An argument is out of range or not from this API (a page size, cursor or id).",
    )
    SLOW_CONSUMER = strawberry.enum_value(
        "SLOW_CONSUMER",
        description="A subscriber fell too far behind; reconnect with the last cursor.",
    )


def area_of(enum: type[ErrorCode]) -> str:
    """The area that declares a code enum: `loyalty.points.errors` → `points`."""
    parts = enum.__module__.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "loyalty" else enum.__module__


def user_error_codes() -> Mapping[str, list[str]]:
    """Every code a `userErrors` entry may carry, with the areas that declare it."""
    areas()  # imports every area's errors.py
    return {
        code: sorted({area_of(enum) for enum in enums}) for code, enums in all_error_codes().items()
    }


def _user_error_code_enum() -> type[Enum]:
    values = {
        code: strawberry.enum_value(code, description=f"Raised by: {', '.join(names)}.")
        for code, names in user_error_codes().items()
    }
    enum = Enum("UserErrorCode", values)  # type: ignore[misc]
    return strawberry.enum(enum, description=USER_ERROR_CODE_DESCRIPTION)


UserErrorCode = _user_error_code_enum()


class ApiError(Exception):
    """An expected top-level error (authentication, permission, bad arguments) with a stable
    `extensions.code`; unlike unexpected exceptions it is shown to the client as is."""

    def __init__(self, code: ApiErrorCode | ErrorCode, message: str) -> None:
        super().__init__(message)
        wire = code.name if isinstance(code, ApiErrorCode) else str(code)
        self.extensions: dict[str, Any] = {"code": wire}

    @classmethod
    def refused(cls, reason: DomainError) -> ApiError:
        """Credentials were refused: the auth area's reason becomes the code."""
        error = cls(ApiErrorCode.UNAUTHENTICATED, reason.message)
        error.extensions["code"] = str(reason.code)
        return error


def unauthenticated(message: str = "Sign in to see this") -> ApiError:
    return ApiError(ApiErrorCode.UNAUTHENTICATED, message)


def forbidden(message: str = "Not allowed") -> ApiError:
    return ApiError(ApiErrorCode.FORBIDDEN, message)


def bad_input(message: str) -> ApiError:
    return ApiError(ApiErrorCode.BAD_USER_INPUT, message)


@strawberry.type(
    description="An expected failure of a mutation: nothing was changed, and `code` says why."
)
class UserError:
    field: list[str] | None = strawberry.field(
        description='The path to the input field at fault, such as `["input", "email"]`; '
        "null when the failure is not about one field."
    )
    message: str = strawberry.field(
        description="What went wrong, in English, for people; branch on `code`, not on this."
    )
    code: Enum = strawberry.field(
        graphql_type=UserErrorCode, description="Why, as a stable code to branch on."
    )


def user_errors(exc: DomainError) -> list[UserError]:
    problems = exc.problems if isinstance(exc, ValidationFailed) else [exc]
    return [
        UserError(
            field=["input", p.field] if p.field else None,
            message=p.message,
            # A code outside every area's enum is a bug: it fails here, masked and logged.
            code=UserErrorCode(str(p.code)),
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
