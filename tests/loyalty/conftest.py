"""Fixtures for the domain tests."""

from __future__ import annotations

import pytest

from loyalty.auth.service import AuthService
from loyalty.core.clock import FixedClock
from loyalty.members.service import ProfileService
from loyalty.storage.database import Database
from tests.loyalty.services import make_auth


@pytest.fixture
def auth(db: Database, clock: FixedClock) -> AuthService:
    return make_auth(db, clock)


@pytest.fixture
def profiles(db: Database, clock: FixedClock) -> ProfileService:
    return ProfileService(db, clock)
