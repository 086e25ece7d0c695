"""Building the notification worker and its push senders from the settings."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from api.settings import Settings
from loyalty.core.clock import Clock
from loyalty.storage.database import Database
from notifications.apns import ApnsSender
from notifications.channels import PushSender
from notifications.config import (
    ContactPressure,
    NotificationConfig,
    QuietHours,
    Retry,
    parse_webhooks,
)
from notifications.fcm import FcmSender
from notifications.worker import Worker


def notification_config(s: Settings) -> NotificationConfig:
    """Raises ValueError with a readable reason for bad settings."""
    return NotificationConfig(
        webhooks=parse_webhooks(s.webhooks),
        push_enabled=s.push_enabled,
        quiet_hours=QuietHours.parse(s.quiet_hours_start, s.quiet_hours_end),
        contact_pressure=(
            ContactPressure(s.marketing_push_cap, timedelta(days=s.marketing_push_cap_days))
            if s.marketing_push_cap
            else None
        ),
        retry=Retry(
            timedelta(seconds=s.delivery_backoff_base_seconds),
            timedelta(seconds=s.delivery_backoff_cap_seconds),
            s.delivery_max_attempts,
        ),
        webhook_timeout=s.webhook_timeout_seconds,
        push_ttl=timedelta(hours=s.push_ttl_hours),
        lease=timedelta(seconds=s.worker_lease_seconds),
        batch_size=s.worker_batch_size,
        concurrency=s.worker_concurrency,
    )


def push_senders(s: Settings) -> dict[str, PushSender]:
    senders: dict[str, PushSender] = {}
    key = (
        s.apns_private_key.get_secret_value()
        if s.apns_private_key
        else Path(s.apns_private_key_file).read_text()
        if s.apns_private_key_file
        else None
    )
    if s.apns_team_id and s.apns_key_id and s.apns_topic and key:
        senders["ios"] = ApnsSender(
            s.apns_team_id,
            s.apns_key_id,
            key,
            s.apns_topic,
            s.apns_base_url,
            ca_file=s.apns_ca_file,
        )
    account = (
        s.fcm_service_account.get_secret_value()
        if s.fcm_service_account
        else Path(s.fcm_service_account_file).read_text()
        if s.fcm_service_account_file
        else None
    )
    if account:
        senders["android"] = FcmSender(json.loads(account), s.fcm_base_url)
    return senders


def build_worker(s: Settings, db: Database, clock: Clock) -> Worker:
    return Worker(db, clock, notification_config(s), push_senders(s), http=None)


async def close_worker(worker: Worker) -> None:
    await worker.aclose()
    for sender in worker.push_senders.values():
        await sender.close()  # type: ignore[attr-defined]


def worker_in_serve(s: Settings, db: Database) -> bool:
    return s.worker_in_serve if s.worker_in_serve is not None else db.is_sqlite
