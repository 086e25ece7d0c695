"""Who may see and do what."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from strawberry.dataloader import DataLoader
from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.base import StrawberryOptional

from api.core.context import Context
from api.core.errors import ApiError, forbidden, unauthenticated
from api.core.ids import row_id
from loyalty.auth.apikeys import Integration
from loyalty.auth.service import MemberPrincipal


def _refused(context: Context) -> ApiError:
    if context.auth_error is not None:
        return ApiError.refused(context.auth_error)
    return unauthenticated()


def require_member(info: Info[Context, None]) -> MemberPrincipal:
    return member_of(info.context)


def member_of(context: Context) -> MemberPrincipal:
    """The signed-in member, or the ApiError that says why there is none."""
    principal = context.principal
    if isinstance(principal, MemberPrincipal):
        return principal
    if principal is not None:
        raise forbidden("Only a signed-in member can do this")
    raise _refused(context)


def require_scope(info: Info[Context, None], scope: str) -> Integration:
    principal = info.context.principal
    if isinstance(principal, Integration):
        if principal.allows(scope):
            return principal
        raise forbidden(f"This API key lacks the `{scope}` scope")
    if principal is not None:
        raise forbidden(f"Needs an API key with the `{scope}` scope")
    raise _refused(info.context)


def may_see_member(context: Context, member_id: int) -> bool:
    """Whether the caller may reach this member by id: the member themselves, or a key with
    the `members` scope. A `pos` key reaches members only by a card scan or member number."""
    principal = context.principal
    if isinstance(principal, MemberPrincipal):
        return principal.member_id == member_id
    return isinstance(principal, Integration) and principal.allows("members")


def till_only(context: Context) -> bool:
    """An integration that may not read members beyond what a till needs."""
    principal = context.principal
    return isinstance(principal, Integration) and not principal.allows("members")


class TillView(FieldExtension):
    """Hides a member's field from keys without the `members` scope: null, or FORBIDDEN
    where the field cannot be null. Attached by `restrict_for_tills`."""

    def __init__(self, nullable: bool) -> None:
        self.nullable = nullable

    def _hidden(self, info: Info[Context, None]) -> bool:
        if not till_only(info.context):
            return False
        if not self.nullable:
            raise forbidden("A till key sees only what a till needs; this needs `members`")
        return True

    def resolve(self, next_: Any, source: Any, info: Info[Context, None], **kwargs: Any) -> Any:
        return None if self._hidden(info) else next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Any, source: Any, info: Info[Context, None], **kwargs: Any
    ) -> Any:
        if self._hidden(info):
            return None
        result = next_(source, info, **kwargs)
        return await result if inspect.isawaitable(result) else result


def restrict_for_tills(type_: type, visible: set[str]) -> None:
    """Every field of `type_` but the `visible` ones (Python names) is for `members` keys."""
    for field in type_.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        if (field.graphql_name or field.python_name) not in visible:
            nullable = isinstance(field.type, StrawberryOptional)
            field.extensions.append(TillView(nullable))


class _Owned(Protocol):
    member_id: int


R = TypeVar("R", bound=_Owned)
N = TypeVar("N")


async def visible_nodes(
    info: Info[Context, None],
    loader: DataLoader[int, R | None],
    node_ids: Iterable[str],
    build: Callable[[R], N],
) -> list[N | None]:
    """Rows by node id through a DataLoader, each only if the caller may see its member."""
    rows = await loader.load_many([row_id(i) for i in node_ids])
    return [
        build(r) if r is not None and may_see_member(info.context, r.member_id) else None
        for r in rows
    ]
