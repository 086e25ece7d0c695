"""The unit of work: one transaction that writes nothing unless it is committed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession


class UnitOfWork:
    """One transaction. Nothing is written unless `commit()` is called; leaving the block
    without it rolls everything back."""

    def __init__(
        self,
        session: AsyncSession,
        listeners: list[Callable[[], None]] | None = None,
        before_commit: list[Callable[[AsyncSession], Awaitable[None]]] | None = None,
    ) -> None:
        self.session = session
        self._listeners = listeners or []
        self._before_commit = before_commit or []

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing rolls back whatever was not committed; unlike rollback() it leaves the
        # objects read in this transaction usable (detached, not expired) by the caller.
        await self.session.close()

    async def commit(self) -> None:
        for hook in self._before_commit:
            await hook(self.session)
        await self.session.commit()
        for listener in self._listeners:
            listener()
