"""The audit log's one table. Rows are only ever added: the code has no path that updates or
deletes them, and on PostgreSQL a trigger (migration 0014) refuses UPDATE and DELETE."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    # Who: "api_key" (with the key's row id and name), "operator" (the command line) or
    # "system"; never a member's personal data.
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(200), index=True)
    # What: the operation (a mutation's name, or e.g. `apiKey.created`), its outcome ("ok" or
    # the userErrors' codes), the objects it touched ("Member:5") and a summary of the input
    # without secrets or personal data.
    action: Mapped[str] = mapped_column(String(100), index=True)
    outcome: Mapped[str] = mapped_column(String(200))
    targets: Mapped[list[str]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    # From where.
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
