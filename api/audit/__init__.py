"""The audit log in the API: every admin and till mutation is recorded (`extension.py`), and
admins read the log (`queries.py`)."""
