"""A server with wallet passes on, over a database of each backend for the test alone; the
Google Wallet stand-in, and a server that uses it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from loyalty.core.clock import FixedClock
from tests.conftest import make_settings
from tests.support.data import install
from tests.support.google_wallet_standin import GoogleWalletStandIn
from tests.support.server import ServerHandle, start_server
from tests.wallet.helpers import dev_certs
from wallet.devcerts import DevCertFiles

ISSUER = "3388000000022222222"


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DevCertFiles:
    return dev_certs(tmp_path_factory.mktemp("wallet-certs"))


@pytest.fixture
def wallet_clock(server_clock: FixedClock) -> FixedClock:
    return FixedClock(server_clock.now())


def google_settings(google: GoogleWalletStandIn, tmp: Path) -> dict[str, object]:
    """The settings that send Google Wallet (and its callback keys) to the stand-in."""
    return {
        "wallet_google_issuer_id": ISSUER,
        "wallet_google_service_account_file": str(account_file(google, tmp)),
        "wallet_google_base_url": google.url,
        "wallet_google_callback_keys_url": google.keys_url,
    }


def wallet_settings(database_url: str, certs: DevCertFiles, **overrides: object):  # type: ignore[no-untyped-def]
    return make_settings(
        database_url,
        wallet_certificate_file=str(certs.certificate),
        wallet_key_file=str(certs.key),
        wallet_wwdr_file=str(certs.wwdr),
        wallet_public_url="https://loyalty.example.com",
        **overrides,
    )


@pytest.fixture
def wallet_server(
    private_database: str, certs: DevCertFiles, wallet_clock: FixedClock
) -> Iterator[ServerHandle]:
    install(private_database)
    handle = start_server(wallet_settings(private_database, certs), wallet_clock)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def google() -> Iterator[GoogleWalletStandIn]:
    with GoogleWalletStandIn() as standin:
        yield standin


def account_file(standin: GoogleWalletStandIn, tmp_path: Path) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(standin.service_account))
    return path


@pytest.fixture
def google_server(
    private_database: str,
    certs: DevCertFiles,
    wallet_clock: FixedClock,
    google: GoogleWalletStandIn,
    tmp_path: Path,
) -> Iterator[ServerHandle]:
    """A server with Apple and Google Wallet on; Google and its callback keys stood in for."""
    install(private_database)
    settings = wallet_settings(private_database, certs, **google_settings(google, tmp_path))
    handle = start_server(settings, wallet_clock)
    try:
        yield handle
    finally:
        handle.stop()
