"""The codes of the programme area's expected failures."""

from __future__ import annotations

from loyalty.core.errors import ErrorCode


class ProgrammeError(ErrorCode):
    # The installation runs another programme (one installation, one programme key).
    PROGRAMME_MISMATCH = "PROGRAMME_MISMATCH"
