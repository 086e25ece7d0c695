"""Error codes of the rewards area (redeeming rewards, codes at the till, cancelling)."""

from __future__ import annotations

from loyalty.core.errors import ErrorCode


class RewardsError(ErrorCode):
    """Why a redemption, a code or a cancellation was refused."""

    INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"
    REWARD_NOT_AVAILABLE = "REWARD_NOT_AVAILABLE"  # unknown, switched off or not on show now
    OUT_OF_STOCK = "OUT_OF_STOCK"
    LIMIT_REACHED = "LIMIT_REACHED"  # the member's limit for this reward in its period
    MEMBER_NOT_ACTIVE = "MEMBER_NOT_ACTIVE"
    TIER_REQUIRED = "TIER_REQUIRED"  # the reward is for members of a higher tier
    CODE_NOT_FOUND = "CODE_NOT_FOUND"
    CODE_ALREADY_USED = "CODE_ALREADY_USED"
    CODE_CANCELLED = "CODE_CANCELLED"
    CODE_EXPIRED = "CODE_EXPIRED"
    NOT_CANCELLABLE = "NOT_CANCELLABLE"  # the code was already used or cancelled
