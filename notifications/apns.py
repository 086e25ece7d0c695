"""Moved to `notifications.channels.apns`; kept until `api/` imports it from there."""

from notifications.channels.apns import ApnsSender

__all__ = ["ApnsSender"]
