"""The ways a notification reaches someone: app pushes (`apns`, `fcm`), the brand's webhooks
(`webhooks`), and what a push or inbox message says (`texts`). The types every channel shares
are in `base`; this module re-exports them and the texts."""

from notifications.channels.base import (
    Delivery,
    DeliveryStatus,
    PushMessage,
    PushResult,
    PushSender,
)
from notifications.channels.texts import EventFacts, Text, language_of, push_data, text_for

__all__ = [
    "Delivery",
    "DeliveryStatus",
    "EventFacts",
    "PushMessage",
    "PushResult",
    "PushSender",
    "Text",
    "language_of",
    "push_data",
    "text_for",
]
