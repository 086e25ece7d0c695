"""Google Wallet for the members: save links to objects made first, and updates.

Updates PATCH the member's object whenever the pass changed. Google allows at most three
update notifications per pass in 24 hours: a change is patched with `notifyPreference:
notifyOnUpdate` only while fewer than three were sent in the last 24 hours; later changes in
that window are patched silently, so the object still shows the latest state and the member
is not told more often than Google allows.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from loyalty.core.clock import Clock
from loyalty.wallet.service import PassState, WalletService
from wallet.credentials import GoogleAccount
from wallet.google.callbacks import CallbackKeys, CallbackMessage
from wallet.google.client import GoogleWalletClient, GoogleWalletError
from wallet.google.objects import loyalty_class, loyalty_object, object_id
from wallet.google.save import save_link
from wallet.views import PassViews

log = logging.getLogger("trouw.wallet")
NOTIFICATIONS_PER_DAY = 3
CALLBACK_PATH = "/wallet/google/callbacks"
DAY = timedelta(hours=24)


def may_notify(notices: tuple[str, ...], now: datetime) -> bool:
    recent = [n for n in notices if now - datetime.fromisoformat(n) < DAY]
    return len(recent) < NOTIFICATIONS_PER_DAY


class GoogleWallet:
    def __init__(
        self,
        account: GoogleAccount,
        client: GoogleWalletClient,
        issuer_id: str,
        public_url: str,
        passes: WalletService,
        views: PassViews,
        clock: Clock,
        callback_keys: CallbackKeys | None = None,
    ) -> None:
        self.account = account
        self.client = client
        self.issuer_id = issuer_id
        self.public_url = public_url
        self.passes = passes
        self.views = views
        self.clock = clock
        self.callback_keys = callback_keys or CallbackKeys()
        self._class_made = False

    async def _ensure_class(self) -> None:
        if not self._class_made:
            programme = await self.views.programme()
            logo = f"{self.public_url}/wallet/images/logo@3x.png"
            callbacks = f"{self.public_url}{CALLBACK_PATH}"
            made = loyalty_class(self.issuer_id, programme, logo, callbacks)
            await self.client.ensure("loyaltyClass", made)
            self._class_made = True

    async def save_url(self, state: PassState) -> str | None:
        """The save link of the member's object, made (or brought up to date) first."""
        try:
            if state.google_synced_tag is None:
                view = await self.views.view(state)
                if view is None:
                    return None
                await self._ensure_class()
                await self.client.ensure("loyaltyObject", loyalty_object(self.issuer_id, view))
                await self.passes.google_synced(state.id, state.update_tag)
        except GoogleWalletError as exc:
            log.warning("Google Wallet object not made: %s", exc)
            return None
        found = object_id(self.issuer_id, state.serial_number)
        return save_link(self.account, found, [self.public_url])

    async def update(self, state: PassState) -> bool:
        """PATCH the member's object with the pass as it is now; True when done."""
        view = await self.views.view(state)
        if view is None:
            return False
        now = self.clock.now()
        body = loyalty_object(self.issuer_id, view)
        notify = may_notify(state.google_notices, now)
        if notify:
            body["notifyPreference"] = "notifyOnUpdate"
        try:
            await self.client.patch("loyaltyObject", body["id"], body)
        except GoogleWalletError as exc:
            log.warning("Google Wallet update failed, trying again: %s", exc)
            return False
        await self.passes.google_synced(state.id, state.update_tag, now if notify else None)
        return True

    async def run_once(self) -> int:
        done = 0
        for state in await self.passes.google_due():
            done += await self.update(state)
        return done

    async def callback(self, body: bytes) -> CallbackMessage:
        """A save or delete callback from Google: verified (else CallbackRejected, and nothing
        changes), then recorded on the member's pass."""
        message = await self.callback_keys.verify(body, self.issuer_id, self.clock.now())
        prefix = f"{self.issuer_id}."
        serial = message.object_id.removeprefix(prefix)
        known = message.object_id.startswith(prefix) and await self.passes.google_saved(
            serial, message.saved
        )
        if not known:
            log.warning("Google Wallet callback for an object we do not have: %s", message)
        return message

    async def close(self) -> None:
        await self.client.close()
        await self.callback_keys.close()
