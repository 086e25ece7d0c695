"""How much one run of a job takes on: a job that touched a full batch runs again at once."""

from __future__ import annotations

BATCH = 500
