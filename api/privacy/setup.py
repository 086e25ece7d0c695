"""Building the privacy service for the composition root (`api/wiring.py`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

from api.settings import Settings
from loyalty.areas import register_personal_data
from loyalty.auth.passwords import PasswordHasher
from loyalty.core.clock import Clock
from loyalty.core.personal_data import PersonalDataRegistry
from loyalty.privacy.service import PrivacyPolicy, PrivacyService

if TYPE_CHECKING:
    from loyalty.storage.database import Database


def build_privacy(
    settings: Settings, db: Database, clock: Clock, hasher: PasswordHasher
) -> PrivacyService:
    """Exports and erasure over every area's holdings of personal data (the registry)."""

    async def check_password(stored: str, password: str) -> bool:
        return await asyncio.to_thread(hasher.verify, stored, password)

    return PrivacyService(
        db,
        clock,
        register_personal_data(PersonalDataRegistry()),
        PrivacyPolicy(
            grace=timedelta(days=settings.erasure_grace_days),
            export_ttl=timedelta(hours=settings.export_ttl_hours),
        ),
        check_password,
    )
