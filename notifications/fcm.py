"""Moved to `notifications.channels.fcm`; kept until `api/` imports it from there."""

from notifications.channels.fcm import FcmSender

__all__ = ["FcmSender"]
