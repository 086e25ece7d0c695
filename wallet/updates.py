"""The wallet's background work, run beside the notification worker: Apple pass update pushes
and Google Wallet object updates, in one loop that stops with the worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from wallet.apple.push import PassPusher
from wallet.google.service import GoogleWallet

log = logging.getLogger("trouw.wallet")


@dataclass
class WalletUpdates:
    apple: PassPusher | None = None
    google: GoogleWallet | None = None

    async def run_once(self) -> int:
        done = 0
        for part in (self.apple, self.google):
            if part is not None:
                try:
                    done += await part.run_once()
                except Exception:
                    log.exception("wallet update round failed")
        return done

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            if await self.run_once() == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)

    async def close(self) -> None:
        for part in (self.apple, self.google):
            if part is not None:
                await part.close()
