"""Error codes of the campaigns area (the admin API's changes, reports, late deliveries)."""

from __future__ import annotations

from loyalty.core.errors import ErrorCode


class CampaignsError(ErrorCode):
    """Why a campaign change, a report or a late delivery was refused (nothing changed)."""

    CAMPAIGN_NOT_FOUND = "CAMPAIGN_NOT_FOUND"
    INVALID_CAMPAIGN = "INVALID_CAMPAIGN"  # a definition the programme file would refuse
    CAMPAIGN_KEY_TAKEN = "CAMPAIGN_KEY_TAKEN"
    CAMPAIGN_FROM_PROGRAMME = "CAMPAIGN_FROM_PROGRAMME"  # changed in the programme file
    CAMPAIGN_ENDED = "CAMPAIGN_ENDED"  # an ended campaign does not change any more
    VERSION_CONFLICT = "VERSION_CONFLICT"  # changed by someone else since that version
    INVALID_STATE = "INVALID_STATE"
    INVALID_ORDER_ID = "INVALID_ORDER_ID"
    INVALID_DAYS_LATE = "INVALID_DAYS_LATE"
    CONTROL_VERSION_USED = "CONTROL_VERSION_USED"  # a control group version is never reused
