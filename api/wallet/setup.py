"""Building the wallet from the settings, checked at start-up (`api/wiring.py` calls this)."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from api.settings import Settings
from loyalty.auth.secrets import instance_secret
from loyalty.core.clock import Clock
from loyalty.wallet.service import WalletService
from notifications.channels.apns_passes import PassUpdateSender
from wallet.apple.pkpass import PassIssuer
from wallet.apple.push import PassPusher
from wallet.credentials import (
    AppleCredentials,
    GoogleAccount,
    WalletConfigError,
    load_apple_credentials,
    load_google_account,
)
from wallet.devcerts import dev_cert_files, write_dev_certs
from wallet.google.auth import AccessTokens
from wallet.google.callbacks import CallbackKeys
from wallet.google.client import GoogleWalletClient
from wallet.google.service import GoogleWallet
from wallet.links import DownloadLinks
from wallet.service import Wallet
from wallet.updates import WalletUpdates
from wallet.views import PassViews

if TYPE_CHECKING:
    from loyalty.storage.database import Database

log = logging.getLogger("trouw.wallet")


def _apple_files(s: Settings) -> tuple[str, str, str | None] | None:
    """The pass certificate, its key and the WWDR intermediate (None: Apple Wallet is off);
    development certificates are made on first use when a directory for them is set."""
    certificate, key, wwdr = s.wallet_certificate_file, s.wallet_key_file, s.wallet_wwdr_file
    if not (certificate or key) and s.wallet_dev_certs_dir:
        directory = Path(s.wallet_dev_certs_dir)
        files = dev_cert_files(directory)
        if files is None:
            files = write_dev_certs(directory)
            log.warning(
                "made development wallet certificates in %s (not for real passes)", directory
            )
        certificate, key, wwdr = str(files.certificate), str(files.key), str(files.wwdr)
    if not certificate and not key:
        if s.wallet_pass_type_id or s.wallet_wwdr_file:
            raise WalletConfigError(
                "wallet settings are given but not TROUW_WALLET_CERTIFICATE_FILE and "
                "TROUW_WALLET_KEY_FILE"
            )
        return None
    if not certificate or not key:
        raise WalletConfigError(
            "set both TROUW_WALLET_CERTIFICATE_FILE and TROUW_WALLET_KEY_FILE (or neither)"
        )
    return certificate, key, wwdr


def _key_password(s: Settings) -> str | None:
    return s.wallet_key_password.get_secret_value() if s.wallet_key_password else None


def apple_credentials(s: Settings, clock: Clock) -> AppleCredentials | None:
    """The configured Apple key material (None: Apple Wallet is off). Raises
    WalletConfigError with what to fix."""
    files = _apple_files(s)
    if files is None:
        return None
    certificate, key, wwdr = files
    return load_apple_credentials(
        certificate,
        key,
        wwdr,
        clock.now(),
        pass_type_id=s.wallet_pass_type_id,
        team_id=s.wallet_team_id,
        key_password=_key_password(s),
    )


def google_account(s: Settings) -> GoogleAccount | None:
    """The configured Google service account (None: Google Wallet is off). Raises
    WalletConfigError with what to fix."""
    if not s.wallet_google_service_account_file and not s.wallet_google_issuer_id:
        return None
    if not s.wallet_google_service_account_file or not s.wallet_google_issuer_id:
        raise WalletConfigError(
            "set both TROUW_WALLET_GOOGLE_ISSUER_ID and TROUW_WALLET_GOOGLE_SERVICE_ACCOUNT_FILE"
        )
    return load_google_account(s.wallet_google_service_account_file)


def check_wallet(s: Settings, clock: Clock) -> None:
    """Read and check the wallet's key material as the server will, before it starts, so a
    bad setting is one clear message; raises WalletConfigError."""
    apple_credentials(s, clock)
    google_account(s)


def google_wallet(s: Settings, db: Database, clock: Clock) -> GoogleWallet | None:
    """Google Wallet with the configured service account; None when it is not configured."""
    account = google_account(s)
    if account is None or not s.wallet_google_issuer_id:
        return None
    client = GoogleWalletClient(AccessTokens(account), s.wallet_google_base_url)
    passes, views = WalletService(db, clock), PassViews(db, clock)
    keys = CallbackKeys(s.wallet_google_callback_keys_url)
    return GoogleWallet(
        account, client, s.wallet_google_issuer_id, s.wallet_public_url, passes, views, clock, keys
    )


async def build_wallet(s: Settings, db: Database, clock: Clock) -> Wallet | None:
    credentials = apple_credentials(s, clock)
    if credentials is None:
        return None
    secret = await instance_secret(db, "wallet-download-links", clock.now())
    return Wallet(
        passes=WalletService(db, clock),
        views=PassViews(db, clock),
        google=google_wallet(s, db, clock),
        issuer=PassIssuer(credentials, s.wallet_organization_name, f"{s.wallet_public_url}/wallet"),
        links=DownloadLinks(secret.encode(), s.wallet_public_url, s.wallet_link_ttl_seconds, clock),
    )


def wallet_updates(s: Settings, db: Database, clock: Clock) -> WalletUpdates | None:
    """The wallet's background work: Apple pushes and Google object updates, as configured."""
    apple, google = pass_pusher(s, db, clock), google_wallet(s, db, clock)
    return WalletUpdates(apple, google) if apple or google else None


def pass_pusher(s: Settings, db: Database, clock: Clock) -> PassPusher | None:
    """Pass update pushes over APNs, authenticated with the pass type certificate as Apple
    requires for Wallet, the pass type id as the topic; None without wallet passes."""
    credentials, files = apple_credentials(s, clock), _apple_files(s)
    if credentials is None or files is None:
        return None
    certificate, key, _ = files
    sender = PassUpdateSender(
        certificate,
        key,
        credentials.pass_type_id,
        s.apns_base_url,
        ca_file=s.apns_ca_file,
        key_password=_key_password(s),
    )
    return PassPusher(
        WalletService(db, clock),
        clock,
        sender,
        credentials.pass_type_id,
        timedelta(seconds=s.wallet_push_delay_seconds),
    )
