"""Configuration from `TROUW_*` environment variables (and an optional `.env` file)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TROUW_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

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
    quiet_hours_start: str = "21:00"
    quiet_hours_end: str = "08:00"
    marketing_push_cap: int = Field(3, ge=0)
    marketing_push_cap_days: int = Field(7, ge=1)
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

    log_level: str = "info"

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes; generate one with `openssl rand -hex 32`")
        return value

    @field_validator("wallet_public_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL, such as https://loyalty.example.com")
        return value.rstrip("/")

    @cached_property
    def idp_enabled(self) -> bool:
        return bool(self.idp_issuer and (self.idp_jwks_url or self.idp_public_key))
