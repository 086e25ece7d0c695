"""DataLoaders of the inbox: pages and counts of many members, messages by id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

if TYPE_CHECKING:
    from loyalty.messaging.inbox import Counts, MessageRow
    from loyalty.messaging.models import InboxMessage
    from loyalty.messaging.read import InboxPage, MessagingReads


class NotificationLoaders:
    def __init__(self, reads: MessagingReads, *, cache: bool = True) -> None:
        self.inbox_page: DataLoader[InboxPage, list[MessageRow]] = DataLoader(
            load_fn=reads.inbox_pages, cache=cache
        )
        self.inbox_counts: DataLoader[int, Counts] = DataLoader(
            load_fn=reads.inbox_counts, cache=cache
        )
        self.message: DataLoader[int, InboxMessage | None] = DataLoader(
            load_fn=reads.messages, cache=cache
        )

    def forget(self) -> None:
        """After a change to the inbox, so the same request reads what it wrote."""
        for loader in (self.inbox_page, self.inbox_counts, self.message):
            loader.clear_all()
