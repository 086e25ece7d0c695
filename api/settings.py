"""Configuration from `TROUW_*` environment variables (and an optional `.env` file)."""

from __future__ import annotations

import importlib.util
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from notifications.config import parse_webhooks

LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]
_TIME_OF_DAY = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TROUW_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # production: every secret must be configured; nothing is generated on first start.
    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./trouw.db"
    redis_url: str | None = None
    # Channel prefix in Redis, so several installations can share one server.
    redis_prefix: str = "trouw:"
    # Publish committed events from this process (any number of processes may).
    relay: bool = True

    # Signs member access tokens (HS256). Unset: a random key is generated on first start and
    # kept in the database, so every process of the installation shares it.
    secret_key: SecretStr | None = None
    access_token_ttl_seconds: int = Field(900, ge=60, le=86_400)
    # How long a verified API key is trusted without reading it again (0: read every time);
    # a revoked key stops working within this time in every process.
    api_key_cache_seconds: float = Field(5.0, ge=0, le=60)
    refresh_token_ttl_seconds: int = Field(30 * 86_400, ge=3_600)
    session_lifetime_seconds: int = Field(180 * 86_400, ge=3_600)

    # The brand's own identity provider, whose access tokens Trouw may accept as well.
    idp_issuer: str | None = None
    idp_audience: str | None = None
    idp_jwks_url: str | None = None
    idp_public_key: str | None = None
    idp_algorithms: list[str] = ["RS256", "ES256"]

    graphiql: bool = True
    introspection: bool = True
    max_query_depth: int = Field(12, ge=2)
    max_aliases: int = Field(30, ge=1)
    max_tokens: int = Field(4_000, ge=100)
    max_page_size: int = Field(100, ge=1)
    # Persisted documents (docs/api-conventions.md): manifests added to the contract's own,
    # separated by commas, and whether only registered documents may run.
    persisted_documents: str | None = None
    persisted_only: bool = False
    # How often an idle websocket gets a ping, so proxies and phones keep it open.
    ws_keepalive_seconds: float = Field(15.0, gt=0, le=300)

    # Sign-in limits (docs/security.md): wrong passwords per account and client address,
    # attempts per client address, and the account's growing delay (never a lock).
    signin_window_seconds: int = Field(900, ge=1)
    signin_failures_per_pair: int = Field(5, ge=1)
    signin_attempts_per_client: int = Field(30, ge=1)
    signin_account_delay_after: int = Field(10, ge=1)
    signin_account_delay_cap_seconds: int = Field(60, ge=1, le=3_600)
    # Proxies (addresses or networks, e.g. ["10.0.0.0/8"]) whose X-Forwarded-For is believed;
    # from any other peer the header is ignored and the peer's address is the client's.
    trusted_proxies: list[str] = []
    # Browser origins that may call the API (CORS); none by default. ["*"] allows any origin.
    cors_origins: list[str] = []
    # Strict-Transport-Security max-age; 0 (the default) sends none. Set it behind HTTPS.
    hsts_seconds: int = Field(0, ge=0)

    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65_536, ge=8)

    # Notifications: the worker (`trouw worker`, or inside `trouw serve`).
    # None: run the worker loop inside `trouw serve` on SQLite, not on PostgreSQL.
    worker_in_serve: bool | None = None
    webhooks: list[dict[str, Any]] = []
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60)
    push_enabled: bool = True
    push_ttl_hours: int = Field(24, ge=1)
    # The contact budget when the programme file has no `campaigns.contact` (which wins):
    # quiet hours and the caps per local day and ISO week (0: no such cap), for campaign
    # messages, marketing pushes and surveys alike.
    quiet_hours_start: str = "21:00"
    quiet_hours_end: str = "08:00"
    marketing_daily_cap: int = Field(0, ge=0)
    marketing_push_cap: int = Field(3, ge=0)
    delivery_max_attempts: int = Field(8, ge=1)
    delivery_backoff_base_seconds: float = Field(5.0, gt=0)
    delivery_backoff_cap_seconds: float = Field(3600.0, gt=0)
    worker_lease_seconds: float = Field(60.0, gt=0)
    worker_batch_size: int = Field(100, ge=1)
    worker_concurrency: int = Field(16, ge=1)
    worker_interval_seconds: float = Field(1.0, gt=0)
    # Apple push (token auth with a .p8 key).
    apns_team_id: str | None = None
    apns_key_id: str | None = None
    apns_private_key: SecretStr | None = None
    apns_private_key_file: str | None = None
    apns_topic: str | None = None
    apns_base_url: str = "https://api.push.apple.com"
    apns_ca_file: str | None = None
    # Firebase Cloud Messaging (HTTP v1): the service account JSON, or a path to it.
    fcm_service_account: SecretStr | None = None
    fcm_service_account_file: str | None = None
    fcm_base_url: str = "https://fcm.googleapis.com"

    # Wallet passes (docs/wallet.md). Apple: the Pass Type ID certificate, its key and the WWDR
    # intermediate; the ids default to those in the certificate. None of them set and
    # `wallet_dev_certs_dir` set: development key material is made there on first start.
    wallet_pass_type_id: str | None = None
    wallet_team_id: str | None = None
    wallet_certificate_file: str | None = None
    wallet_key_file: str | None = None
    wallet_key_password: SecretStr | None = None
    wallet_wwdr_file: str | None = None
    wallet_dev_certs_dir: str | None = None
    wallet_organization_name: str = "Trouw"
    # Where Apple Wallet and the download links reach this server (no trailing slash).
    wallet_public_url: str = "http://127.0.0.1:8000"
    wallet_link_ttl_seconds: int = Field(600, ge=30, le=86_400)
    # Changes within this window after the first are merged into one push per device.
    wallet_push_delay_seconds: float = Field(60.0, ge=0, le=3_600)
    # Google Wallet: the issuer id and the service account's JSON key file.
    wallet_google_issuer_id: str | None = None
    wallet_google_service_account_file: str | None = None
    wallet_google_base_url: str = "https://walletobjects.googleapis.com"
    # Google's root keys that sign the save and delete callbacks.
    wallet_google_callback_keys_url: str = "https://pay.google.com/gp/m/issuer/keys"

    log_level: LogLevel = "info"
    # text: readable lines (development); json: one JSON object per line, for log collectors.
    log_format: Literal["text", "json"] = "text"
    # Prometheus metrics at /metrics; with a token set, scrapes must send it as a bearer token.
    metrics: bool = True
    metrics_token: SecretStr | None = None
    # OpenTelemetry traces (docs/operations.md#traces; needs `pip install 'trouw[otel]'`).
    otel_enabled: bool = False
    # Personal data (docs/privacy.md). Master keys `id:base64key,…` (32 bytes each, the first
    # wraps new member keys, the others stay readable until re-wrapped) and the blind-index
    # key (base64, at least 32 bytes). Unset in development: a generated keyring is kept in
    # `privacy_key_file`, by default next to the SQLite database.
    privacy_master_keys: SecretStr | None = None
    privacy_index_key: SecretStr | None = None
    privacy_key_file: str | None = None
    # Days between a request to erase a member and the erasure, in which it can be cancelled.
    erasure_grace_days: int = Field(30, ge=0, le=365)
    # Where clients reach this server (data export links); default: `wallet_public_url`.
    public_url: str | None = None
    # How long a data export can be downloaded.
    export_ttl_hours: int = Field(24, ge=1, le=24 * 30)

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes; generate one with `openssl rand -hex 32`")
        return value

    @model_validator(mode="after")
    def _production_keys(self) -> Settings:
        if (self.privacy_master_keys is None) != (self.privacy_index_key is None):
            raise ValueError("set TROUW_PRIVACY_MASTER_KEYS and TROUW_PRIVACY_INDEX_KEY together")
        if self.environment == "production" and self.privacy_master_keys is None:
            raise ValueError(
                "TROUW_ENVIRONMENT=production needs TROUW_PRIVACY_MASTER_KEYS and "
                "TROUW_PRIVACY_INDEX_KEY (docs/privacy.md: `trouw privacy new-keys` makes them)"
            )
        return self

    @field_validator("wallet_public_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL, such as https://loyalty.example.com")
        return value.rstrip("/")

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("redis_url")
    @classmethod
    def _redis_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix") or not (parts.netloc or parts.path):
            raise ValueError("must be a Redis URL, such as redis://127.0.0.1:6379/0")
        return value

    @field_validator("quiet_hours_start", "quiet_hours_end")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if value and not _TIME_OF_DAY.fullmatch(value):
            raise ValueError("must be a time of day HH:MM from 00:00 to 23:59, such as 21:00")
        return value

    @field_validator("webhooks")
    @classmethod
    def _webhooks(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        parse_webhooks(value)  # raises ValueError with the reason
        return value

    @field_validator(
        "apns_private_key_file",
        "apns_ca_file",
        "fcm_service_account_file",
        "wallet_certificate_file",
        "wallet_key_file",
        "wallet_wwdr_file",
        "wallet_google_service_account_file",
    )
    @classmethod
    def _readable_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"no readable file at {value}")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_sends(self) -> Settings:
        if self.worker_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError(
                f"TROUW_WORKER_LEASE_SECONDS ({self.worker_lease_seconds:g}) must be longer than "
                f"TROUW_WEBHOOK_TIMEOUT_SECONDS ({self.webhook_timeout_seconds:g}), so a "
                "delivery is not taken by a second worker while the first still sends it"
            )
        return self

    @field_validator("otel_enabled")
    @classmethod
    def _otel_installed(cls, value: bool) -> bool:
        if value and importlib.util.find_spec("opentelemetry.sdk") is None:
            raise ValueError("needs the OpenTelemetry extra: pip install 'trouw[otel]'")
        return value

    @cached_property
    def idp_enabled(self) -> bool:
        return bool(self.idp_issuer and (self.idp_jwks_url or self.idp_public_key))
