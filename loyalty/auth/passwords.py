"""Password hashing (Argon2id) and the rules a new password must meet."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

import argon2
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
MIN_EMAIL_LOCAL_PART = 4  # shorter local parts ("jan") collide with ordinary words
_ZXCVBN_MIN_SCORE = 3  # 0..4; 3 is "safely unguessable" against an offline attack
# zxcvbn slows down sharply on long input; 4.5 also refuses passwords over 72 characters.
_ZXCVBN_MAX_PASSWORD = 72
_ZXCVBN_MAX_INPUT = 100
# zxcvbn keeps the user inputs in a module-level dict while it scores, so calls from several
# threads must not overlap or one user's inputs leak into another's check.
_ZXCVBN_LOCK = threading.Lock()
_WORD_SPLIT = re.compile(r"[\W_]+")
_NAME_SEPARATORS = ("", ".", "-", "_", " ")


class PasswordHasher:
    """Argon2id hashes in PHC string format ("$argon2id$v=19$m=...")."""

    def __init__(
        self,
        *,
        time_cost: int | None = None,
        memory_cost: int | None = None,
        parallelism: int | None = None,
    ) -> None:
        # Library defaults unless told otherwise; tests pass cheap values for speed.
        options = {"time_cost": time_cost, "memory_cost": memory_cost, "parallelism": parallelism}
        chosen: dict[str, Any] = {
            name: value for name, value in options.items() if value is not None
        }
        self._hasher = argon2.PasswordHasher(type=argon2.Type.ID, **chosen)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, hash: str, password: str) -> bool:
        """True only if `password` matches; a wrong password or a malformed hash is False."""
        try:
            return self._hasher.verify(hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, hash: str) -> bool:
        """True when `hash` was made with other parameters (or cannot be read at all)."""
        try:
            return self._hasher.check_needs_rehash(hash)
        except InvalidHashError:
            return True


def password_problem(password: str, *, user_inputs: Sequence[str] = ()) -> str | None:
    """Why `password` is not acceptable, or None if it is.

    `user_inputs` are things about the user (email address, names) that must not carry the
    password; the email address is recognised by its "@".
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters long."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Password must be at most {MAX_PASSWORD_LENGTH} characters long."
    lowered = password.casefold()
    for item in user_inputs:
        local_part = _email_local_part(item)
        if len(local_part) >= MIN_EMAIL_LOCAL_PART and local_part in lowered:
            return "Password must not contain your email address."
    words = _personal_words(user_inputs)
    with _ZXCVBN_LOCK:
        result = zxcvbn(password[:_ZXCVBN_MAX_PASSWORD], user_inputs=words)
    if result["score"] < _ZXCVBN_MIN_SCORE:
        feedback = result["feedback"]
        hint = feedback["warning"] or next(iter(feedback["suggestions"]), "")
        return f"Password is too easy to guess. {hint or 'Try a few unrelated words.'}"
    return None


def _email_local_part(item: str) -> str:
    local, at, _domain = item.strip().casefold().rpartition("@")
    return local if at else ""


def _personal_words(user_inputs: Sequence[str]) -> list[str]:
    """What zxcvbn should treat as known words: the inputs, the email local part, and the
    name parts alone and joined ("jan", "jansen", "janjansen", "jan.jansen", ...), because
    zxcvbn only matches a user input when it appears in the password as one piece."""
    words: list[str] = []
    parts: list[str] = []
    for item in user_inputs:
        item = item.strip().casefold()[:_ZXCVBN_MAX_INPUT]
        if not item:
            continue
        words.append(item)
        local_part = _email_local_part(item)
        if local_part:
            words.append(local_part)
        # Name parts come from names and the email local part, never from the domain.
        parts.extend(part for part in _WORD_SPLIT.split(local_part or item) if part)
    parts = list(dict.fromkeys(parts))
    runs = [parts[i : i + 2] for i in range(len(parts) - 1)]
    if len(parts) > 2:
        runs.append(parts)
    words.extend(part for part in parts if len(part) >= 3)
    words.extend(separator.join(run) for run in runs for separator in _NAME_SEPARATORS)
    return list(dict.fromkeys(words))  # unique, in order
