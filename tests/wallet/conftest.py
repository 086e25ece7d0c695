"""A server with wallet passes on, over a database of each backend for the test alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loyalty.core.clock import FixedClock
from tests.conftest import make_settings
from tests.support.data import install
from tests.support.server import ServerHandle, start_server
from tests.wallet.helpers import dev_certs
from wallet.devcerts import DevCertFiles


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DevCertFiles:
    return dev_certs(tmp_path_factory.mktemp("wallet-certs"))


@pytest.fixture
def wallet_clock(server_clock: FixedClock) -> FixedClock:
    return FixedClock(server_clock.now())


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
