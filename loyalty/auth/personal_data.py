"""What auth holds about a member: their sessions (with the app's user agent) and refresh
tokens. Deleted on erasure, which signs the member out everywhere."""

from __future__ import annotations

from loyalty.auth.models import AuthSession
from loyalty.core.personal_data import Holding, PersonalDataRegistry, delete_rows, rows_of


def register(registry: PersonalDataRegistry) -> None:
    registry.add(
        Holding(
            "auth",
            "sessions",
            ("auth_sessions", "refresh_tokens"),
            rows_of(AuthSession),
            delete_rows(AuthSession),
            erasure="deleted, with their refresh tokens",
        )
    )
