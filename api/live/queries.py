"""No queries: live updates are subscriptions only (`subscriptions.py`)."""
