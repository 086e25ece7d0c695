"""Error codes of the tiers area."""

from __future__ import annotations

from loyalty.core.errors import ErrorCode


class TiersError(ErrorCode):
    """Why a change of a member's tier was refused."""

    UNKNOWN_TIER = "UNKNOWN_TIER"  # no tier with this key in the programme
