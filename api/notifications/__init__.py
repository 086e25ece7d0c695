"""Notifications in the API: push devices and the in-app inbox."""
