"""Error codes of the segments area (making and changing segments through the admin API)."""

from __future__ import annotations

from loyalty.core.errors import ErrorCode


class SegmentsError(ErrorCode):
    SEGMENT_NOT_FOUND = "SEGMENT_NOT_FOUND"
    SEGMENT_KEY_TAKEN = "SEGMENT_KEY_TAKEN"
    INVALID_SEGMENT = "INVALID_SEGMENT"  # a key, name or rule the programme file would refuse
    SEGMENT_FROM_PROGRAMME = "SEGMENT_FROM_PROGRAMME"  # change it in the programme file
