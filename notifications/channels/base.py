"""What the worker hands to a delivery channel, and what comes back.

`PushSender` is implemented by the APNs and FCM clients (`notifications.channels.apns`,
`notifications.channels.fcm`); the worker only calls `send()` and acts on the `PushResult`:
"delivered" ends the delivery, "retry" tries again later with backoff (and dead-letters it
after the maximum attempts), "gone" removes the device and ends the delivery without retry.
A "retry" whose detail starts with "permanent:" (a fault in our configuration or message, not
in the device) is dead-lettered at once: trying the same again cannot help.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol


@dataclass(frozen=True)
class PushMessage:
    title: str | None
    body: str | None
    # String values only: both APNs (custom keys) and FCM (`data`) carry them as is.
    data: dict[str, str]
    # The outbox event this push tells about; the app deduplicates on it (delivery is at
    # least once, so the same event may arrive twice).
    event_id: int
    # Pushes with the same key replace each other on the device (apns-collapse-id /
    # FCM collapse_key).
    collapse_key: str | None = None


@dataclass(frozen=True)
class PushResult:
    status: Literal["delivered", "retry", "gone"]
    detail: str = ""


class PushSender(Protocol):
    platform: str  # "ios" or "android"

    async def send(self, token: str, message: PushMessage) -> PushResult: ...


DeliveryStatus = Literal["delivered", "retry", "failed", "dead", "deferred"]


@dataclass(frozen=True)
class Delivery:
    """The outcome of one attempt to deliver one delivery row.

    - delivered: done.
    - retry: a transient failure; try again after a backoff (dead after the last attempt).
    - failed: will not be delivered, and retrying would not help (device gone, no consent,
      contact pressure, endpoint removed); `detail` says why.
    - dead: a permanent failure at the receiver (e.g. a webhook answering 4xx); kept for an
      operator to look at.
    - deferred: not now, not a failure (quiet hours): try again at `until`, without counting
      this as an attempt.
    """

    status: DeliveryStatus
    detail: str = ""
    until: datetime | None = None
    # Set on "failed" results from push: the device's token is gone and the device must go.
    remove_device: bool = field(default=False)

    @classmethod
    def ok(cls, detail: str = "") -> Delivery:
        return cls("delivered", detail)

    @classmethod
    def retry(cls, detail: str) -> Delivery:
        return cls("retry", detail)

    @classmethod
    def failed(cls, detail: str, *, remove_device: bool = False) -> Delivery:
        return cls("failed", detail, remove_device=remove_device)

    @classmethod
    def dead(cls, detail: str) -> Delivery:
        return cls("dead", detail)

    @classmethod
    def deferred(cls, until: datetime, detail: str = "") -> Delivery:
        return cls("deferred", detail, until=until)
