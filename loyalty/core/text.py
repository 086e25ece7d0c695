"""Checks on text from outside that every area shares."""

from __future__ import annotations

import unicodedata


def has_control_characters(text: str) -> bool:
    """Whether `text` holds control characters other than line breaks and tabs: no database
    should get them (PostgreSQL refuses a NUL in text)."""
    return any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in text)


def has_lone_surrogates(text: str) -> bool:
    """Whether `text` holds a UTF-16 surrogate on its own (JSON's `"\\ud800"`): it cannot be
    encoded as UTF-8, so no database can store it."""
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def text_problem(text: str, max_length: int) -> str | None:
    """Why `text` may not be stored, or None: the one check of every text input."""
    if len(text) > max_length:
        return f"At most {max_length} characters"
    if has_lone_surrogates(text):
        return "The text has a lone surrogate (not valid Unicode)"
    if has_control_characters(text):
        return "The text has control characters (such as a NUL byte)"
    return None
