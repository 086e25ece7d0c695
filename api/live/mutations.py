"""No mutations: live updates are subscriptions only (`subscriptions.py`)."""
