"""Google Wallet against a stand-in on 127.0.0.1: the class and the member's object made with
a valid bearer token before the save link is handed out, a skinny RS256 save JWT with the
claims Google requires, and at most three notifications for twenty changes in an hour."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import jwt

from loyalty.core.clock import FixedClock
from loyalty.demo.data import DEMO_PROGRAMME
from loyalty.members.service import create_member
from loyalty.members.signals import NO_SIGNALS
from loyalty.programme.install import install_programme
from loyalty.programme.loader import load_programme
from loyalty.storage.database import Database
from loyalty.wallet.service import WalletService, mark_changed
from tests.support.flows import sign_up
from tests.support.google_wallet_standin import GoogleWalletStandIn
from tests.support.server import ServerHandle, free_port
from tests.wallet.conftest import ISSUER, account_file
from tests.wallet.test_webservice import WALLET_PASS
from wallet.credentials import load_google_account
from wallet.google.auth import AccessTokens
from wallet.google.client import GoogleWalletClient
from wallet.google.service import GoogleWallet
from wallet.views import PassViews


def test_the_save_link_is_a_skinny_signed_jwt_to_an_object_made_first(
    google_server: ServerHandle, google: GoogleWalletStandIn
) -> None:
    client = google_server.client()
    client.token = sign_up(client, "google@example.com", firstName="Sem")["session"]["accessToken"]
    found = client.data(WALLET_PASS)["me"]["walletPass"]
    link = found["googleWalletSaveUrl"]
    assert link.startswith("https://pay.google.com/gp/v/save/")
    assert len(link) < 1800
    token = link.rsplit("/", 1)[1]
    claims = jwt.decode(
        token, google.key.public_key(), algorithms=["RS256"], audience="google"
    )  # verifies with the service account's public key
    assert claims["iss"] == google.service_account["client_email"]
    assert claims["typ"] == "savetowallet"
    assert claims["origins"] == ["https://loyalty.example.com"]
    object_id = f"{ISSUER}.{found['serialNumber']}"
    assert claims["payload"] == {"loyaltyObjects": [{"id": object_id}]}
    made = google.resources[("loyaltyObject", object_id)]
    assert made["accountName"] == "Sem"
    assert made["loyaltyPoints"]["balance"] == {"int": 0}
    assert made["classId"] in {rid for kind, rid in google.resources if kind == "loyaltyClass"}
    assert all(r.authorised for r in google.requests)
    # Asking again does not make the object again.
    posts = sum(r.method == "POST" for r in google.requests)
    assert client.data(WALLET_PASS)["me"]["walletPass"]["googleWalletSaveUrl"]
    assert sum(r.method == "POST" for r in google.requests) == posts


async def test_twenty_changes_in_an_hour_notify_the_member_at_most_three_times(
    db: Database, clock: FixedClock, google: GoogleWalletStandIn, tmp_path: Path
) -> None:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, load_programme(DEMO_PROGRAMME), clock.now())
        member = await create_member(
            uow.session,
            signals=NO_SIGNALS, now=clock.now(), email="notify@example.com", password_hash=None,
            profile={"first_name": "Lot"}, consents={},
        )  # fmt: skip
        await uow.commit()
    passes = WalletService(db, clock)
    account = load_google_account(account_file(google, tmp_path))
    client = GoogleWalletClient(AccessTokens(account), google.url)
    views = PassViews(db, clock)
    wallet = GoogleWallet(account, client, ISSUER, "https://x.example", passes, views, clock)
    try:
        state = await passes.pass_of(member.id)
        assert await wallet.save_url(state)
        before = len(google.notifications())
        patches = sum(r.method == "PATCH" for r in google.requests)
        for tag in range(1, 21):  # twenty changes, three minutes apart
            async with db.unit_of_work() as uow:
                await mark_changed(uow.session, member.id, 1_000 + tag, clock.now())
                await uow.commit()
            assert await wallet.run_once() == 1
            clock.advance(timedelta(minutes=3))
        assert sum(r.method == "PATCH" for r in google.requests) - patches == 20
        assert len(google.notifications()) - before == 3
        assert await wallet.run_once() == 0  # up to date
        # A day after the first notification the member may be told again.
        clock.advance(timedelta(hours=24))
        async with db.unit_of_work() as uow:
            await mark_changed(uow.session, member.id, 2_000, clock.now())
            await uow.commit()
        await wallet.run_once()
        assert len(google.notifications()) - before == 4
    finally:
        await wallet.close()


async def test_without_google_there_is_no_save_link_and_nothing_else_breaks(
    db: Database, clock: FixedClock, google: GoogleWalletStandIn, tmp_path: Path
) -> None:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, load_programme(DEMO_PROGRAMME), clock.now())
        member = await create_member(
            uow.session,
            signals=NO_SIGNALS, now=clock.now(), email="down@example.com", password_hash=None,
            profile={}, consents={},
        )  # fmt: skip
        await uow.commit()
    passes = WalletService(db, clock)
    account = load_google_account(account_file(google, tmp_path))
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = GoogleWalletClient(AccessTokens(account), closed)
    views = PassViews(db, clock)
    wallet = GoogleWallet(account, client, ISSUER, "https://x.example", passes, views, clock)
    try:
        state = await passes.pass_of(member.id)
        assert await wallet.save_url(state) is None
        assert (await passes.pass_of(member.id)).google_synced_tag is None  # tried again later
    finally:
        await wallet.close()
