"""Checks on text from outside that every area shares."""

from __future__ import annotations

import unicodedata


def has_control_characters(text: str) -> bool:
    """Whether `text` holds control characters other than line breaks and tabs: no database
    should get them (PostgreSQL refuses a NUL in text)."""
    return any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in text)
