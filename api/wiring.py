"""The composition root: the one place that builds the reactions, the services, the relay and
the worker from the settings, for `serve`, `worker` and every CLI command alike."""

from __future__ import annotations

from loyalty.areas import register_reactions
from loyalty.core.reactions import Reactions
from loyalty.storage.database import Database


def build_reactions() -> Reactions:
    """Every area's reactions (`loyalty.areas`), then those of the packages around the domain."""
    return register_reactions(Reactions())


def wire_database(db: Database, reactions: Reactions | None = None) -> Reactions:
    """Make every writing unit of work on `db` run the in-transaction reactions."""
    reactions = reactions or build_reactions()
    db.before_commit.append(reactions.run_in_transaction)
    return reactions
