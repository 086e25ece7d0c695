"""`trouw wallet dev-certs` and the checks of the wallet's key material at start-up."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from api.cli import main
from wallet.credentials import WalletConfigError, load_apple_credentials, load_google_account
from wallet.devcerts import DEV_PASS_TYPE_ID, DEV_TEAM_ID, write_dev_certs

NOW = datetime.now(UTC)


def test_dev_certs_command_writes_a_chain_and_a_service_account(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["wallet", "dev-certs", str(tmp_path / "certs")])
    assert result.exit_code == 0, result.output
    root = x509.load_pem_x509_certificate((tmp_path / "certs/root.pem").read_bytes())
    wwdr = x509.load_pem_x509_certificate((tmp_path / "certs/wwdr.pem").read_bytes())
    cert = x509.load_pem_x509_certificate((tmp_path / "certs/pass.pem").read_bytes())
    wwdr.verify_directly_issued_by(root)
    cert.verify_directly_issued_by(wwdr)
    credentials = load_apple_credentials(
        tmp_path / "certs/pass.pem", tmp_path / "certs/pass.key", tmp_path / "certs/wwdr.pem", NOW
    )
    assert (credentials.pass_type_id, credentials.team_id) == (DEV_PASS_TYPE_ID, DEV_TEAM_ID)
    account = load_google_account(tmp_path / "certs/google-service-account.json")
    assert account.client_email.endswith(".iam.gserviceaccount.com")


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return write_dev_certs(tmp_path_factory.mktemp("wallet"))


def test_ids_that_are_not_the_certificates_are_refused(dev) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WalletConfigError, match=r"PASS_TYPE_ID 'pass\.other'"):
        load_apple_credentials(dev.certificate, dev.key, dev.wwdr, NOW, pass_type_id="pass.other")
    with pytest.raises(WalletConfigError, match="TEAM_ID 'OTHERTEAM1'"):
        load_apple_credentials(dev.certificate, dev.key, dev.wwdr, NOW, team_id="OTHERTEAM1")


def test_an_expired_certificate_is_refused(dev) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WalletConfigError, match="expired on"):
        load_apple_credentials(dev.certificate, dev.key, dev.wwdr, NOW + timedelta(days=400))


def test_a_missing_or_wrong_wwdr_is_refused(dev, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WalletConfigError, match="WWDR intermediate certificate is missing"):
        load_apple_credentials(dev.certificate, dev.key, None, NOW)
    with pytest.raises(WalletConfigError, match="not issued by the WWDR"):
        load_apple_credentials(dev.certificate, dev.key, dev.root, NOW)
    other = write_dev_certs(tmp_path / "other")
    with pytest.raises(WalletConfigError, match="does not belong"):
        load_apple_credentials(dev.certificate, other.key, dev.wwdr, NOW)
    with pytest.raises(WalletConfigError, match="cannot be read"):
        load_apple_credentials(tmp_path / "nope.pem", dev.key, dev.wwdr, NOW)


def test_an_unreadable_service_account_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "account.json"
    path.write_text(json.dumps({"client_email": "x@example.com"}))
    with pytest.raises(WalletConfigError, match="unreadable"):
        load_google_account(path)


def test_half_configured_wallet_settings_are_refused(dev, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from api.wallet.setup import apple_credentials, google_wallet
    from loyalty.core.clock import SystemClock
    from loyalty.storage.database import Database
    from tests.conftest import make_settings

    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    only_cert = make_settings(url, wallet_certificate_file=str(dev.certificate))
    with pytest.raises(WalletConfigError, match="set both TROUW_WALLET_CERTIFICATE_FILE"):
        apple_credentials(only_cert, SystemClock())
    assert apple_credentials(make_settings(url), SystemClock()) is None
    only_issuer = make_settings(url, wallet_google_issuer_id="3388")
    with pytest.raises(WalletConfigError, match="TROUW_WALLET_GOOGLE_SERVICE_ACCOUNT_FILE"):
        google_wallet(only_issuer, Database(url), SystemClock())
    made = make_settings(url, wallet_dev_certs_dir=str(tmp_path / "dev"))
    credentials = apple_credentials(made, SystemClock())
    assert credentials is not None and credentials.pass_type_id == DEV_PASS_TYPE_ID
    assert (tmp_path / "dev" / "root.pem").is_file()


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("expired", "bad wallet configuration: the pass certificate expired on"),
        ("team", "bad wallet configuration: TROUW_WALLET_TEAM_ID 'OTHERTEAM1' does not match"),
        ("type", "TROUW_WALLET_PASS_TYPE_ID 'pass.other' does not match"),
        ("no wwdr", "the WWDR intermediate certificate is missing"),
        ("google", "the Google service-account key (TROUW_WALLET_GOOGLE_SERVICE_ACCOUNT_FILE)"),
    ],
)
def test_serve_and_worker_refuse_to_start_with_a_clear_message(
    dev, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problem: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    expired = write_dev_certs(tmp_path / "old", now=NOW - timedelta(days=30), days=10)
    files = expired if problem == "expired" else dev
    environment = {
        "TROUW_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'trouw.db'}",
        "TROUW_WALLET_CERTIFICATE_FILE": str(files.certificate),
        "TROUW_WALLET_KEY_FILE": str(files.key),
        "TROUW_WALLET_WWDR_FILE": str(files.wwdr),
    }
    if problem == "team":
        environment["TROUW_WALLET_TEAM_ID"] = "OTHERTEAM1"
    if problem == "type":
        environment["TROUW_WALLET_PASS_TYPE_ID"] = "pass.other"
    if problem == "no wwdr":
        del environment["TROUW_WALLET_WWDR_FILE"]
    if problem == "google":
        (tmp_path / "account.json").write_text("{not json")
        environment["TROUW_WALLET_GOOGLE_ISSUER_ID"] = "3388000000022222222"
        environment["TROUW_WALLET_GOOGLE_SERVICE_ACCOUNT_FILE"] = str(tmp_path / "account.json")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for command in (["serve"], ["worker"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 1, result.output
        assert message in result.output
    assert not (tmp_path / "trouw.db").exists()  # refused before touching the database
