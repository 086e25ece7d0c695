"""Who may see and do what."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from strawberry.dataloader import DataLoader
from strawberry.types import Info

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
    principal = context.principal
    if isinstance(principal, MemberPrincipal):
        return principal.member_id == member_id
    return isinstance(principal, Integration) and principal.allows("pos")


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
