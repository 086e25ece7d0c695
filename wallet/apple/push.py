"""Telling Apple Wallet that passes changed: an empty push (`{}`) to every device registered
for a changed pass, with the pass type id as the APNs topic. The device then asks the web
service which passes changed and fetches them.

Bursts are merged: a pass is pushed once its first change not yet pushed is `delay` old, so
ten purchases in a minute give each device one push, and the pass it then fetches shows the
final balance. A change that arrives while the devices are being pushed is pushed next round.
APNs answering that a token is gone (410 Unregistered, BadDeviceToken) removes the
registration; other failures are tried again next round (the push stays pending).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Protocol

from loyalty.core.clock import Clock
from loyalty.wallet.service import DuePush, WalletService
from notifications.channels.base import PushResult

log = logging.getLogger("trouw.wallet")
RETRY_BASE = timedelta(seconds=5)
RETRY_CAP = timedelta(minutes=30)


class RawPushSender(Protocol):
    async def send_raw(self, token: str, topic: str, payload: dict[str, object]) -> PushResult: ...

    async def close(self) -> None: ...


class PassPusher:
    def __init__(
        self,
        passes: WalletService,
        clock: Clock,
        sender: RawPushSender,
        pass_type_id: str,
        delay: timedelta,
    ) -> None:
        self.passes = passes
        self.clock = clock
        self.sender = sender
        self.pass_type_id = pass_type_id
        self.delay = delay
        # Passes whose last push failed: when to try again, and how often it failed.
        self._backoff: dict[int, tuple[datetime, int]] = {}

    async def run_once(self) -> int:
        """Push every pass whose changes are due; returns how many passes were pushed."""
        now = self.clock.now()
        due = await self.passes.due_pushes(now - self.delay)
        done = 0
        for push in due:
            if push.pass_id in self._backoff and self._backoff[push.pass_id][0] > now:
                continue
            done += await self._push(push)
        return done

    async def _push(self, push: DuePush) -> int:
        results = await asyncio.gather(
            *(self.sender.send_raw(token, self.pass_type_id, {}) for token in push.push_tokens)
        )
        gone = [t for t, r in zip(push.push_tokens, results, strict=True) if r.status == "gone"]
        await self.passes.forget_push_tokens(gone)
        failed = [r.detail for r in results if r.status == "retry"]
        if failed:
            attempts = self._backoff.get(push.pass_id, (self.clock.now(), 0))[1] + 1
            wait = min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP)
            self._backoff[push.pass_id] = (self.clock.now() + wait, attempts)
            log.warning("pass update push failed, trying again in %s: %s", wait, failed[0])
            return 0
        self._backoff.pop(push.pass_id, None)
        await self.passes.pushed(push.pass_id, push.update_tag)
        return 1

    async def close(self) -> None:
        await self.sender.close()
