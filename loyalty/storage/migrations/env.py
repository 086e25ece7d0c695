"""Alembic environment: runs on the connection that `loyalty.storage.migrate` hands over."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from loyalty.areas import metadata
from loyalty.storage.types import UTCDateTime

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `trouw migrate`, which supplies the connection")


def render_item(kind: str, item: Any, autogen: AutogenContext) -> str | Literal[False]:
    """Drafted migrations spell our column types as plain SQLAlchemy ones: a migration must
    not depend on code that may change after it."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=connection,
    target_metadata=metadata(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
