"""Checking one import row: its key, email, profile (the members area's own checks), consents,
join date, opening balance and tier floor. Every problem of a row is collected, so that one
pass over a file lists all that must be fixed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.core.identifiers import client_key
from loyalty.imports.rows import (
    MAX_LOT_POINTS,
    MAX_LOTS,
    ImportProblem,
    ImportRow,
    Reason,
    Record,
    Rejection,
    RowRules,
)
from loyalty.members import service as members
from loyalty.members.contact import normalise_email
from loyalty.points.opening import OpeningLot
from loyalty.points.timeline import local_midnight

T = TypeVar("T")
_PROFILE = ("first_name", "last_name", "birth_date", "phone", "locale", "preferred_channel")


def check_row(record: Record, rules: RowRules) -> ImportRow | Rejection:
    """The row, cleaned, or every reason it cannot be imported."""
    checker = RowChecker(record.values, rules)
    row = checker.row(record.line)
    if checker.problems:
        return Rejection(record.line, tuple(checker.problems))
    return row


def as_reasons(exc: DomainError) -> list[Reason]:
    problems = exc.problems if isinstance(exc, ValidationFailed) else [exc]
    return [Reason(str(getattr(p.code, "value", p.code)), p.field, p.message) for p in problems]


def parse_instant(raw: object, zone: ZoneInfo, *, end_of_day: bool = False) -> datetime:
    """An ISO date or date-time; a date is the start of that day in the programme's zone (or,
    for an end such as an expiry, the start of the day after: the points last all that day);
    a date-time without an offset is read in the programme's zone."""
    text = str(raw).strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return local_midnight(day + timedelta(days=1) if end_of_day else day, zone)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date (2024-05-31) or date-time") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def _listed(raw: object) -> list[str]:
    """A list from JSON, or from CSV text separated by `;`."""
    if isinstance(raw, list):
        return [str(item) for item in raw]
    return [part.strip() for part in str(raw).split(";") if part.strip()]


class RowChecker:
    def __init__(self, values: dict[str, Any], rules: RowRules) -> None:
        self.values = values
        self.rules = rules
        self.problems: list[Reason] = []

    def _problem(self, code: str, name: str | None, message: str) -> None:
        self.problems.append(Reason(str(code), name, message))

    def _check(self, name: str, clean: Callable[[Any], T], code: str) -> T | None:
        raw = self.values.get(name)
        if raw is None:
            return None
        try:
            return clean(raw)
        except DomainError as exc:
            self.problems.extend(as_reasons(exc))
        except (ValueError, TypeError) as exc:
            self._problem(code, name, str(exc))
        return None

    def row(self, line: int) -> ImportRow:
        external_id = self._check("external_id", _clean_key, ImportProblem.INVALID_EXTERNAL_ID)
        email = self._check("email", lambda v: normalise_email(str(v)), ImportProblem.INVALID_VALUE)
        if "external_id" not in self.values and "email" not in self.values:
            self._problem(ImportProblem.MISSING_KEY, None, "an external_id or an email is needed")
        joined_at = self._instant("joined_at")
        if joined_at is not None and joined_at > self.rules.now:
            self._problem(ImportProblem.INVALID_DATE, "joined_at", "joined_at is in the future")
        return ImportRow(
            line=line,
            external_id=external_id,
            email=email,
            profile=self._profile(),
            consents=self._consents(),
            joined_at=joined_at,
            lots=self._lots(joined_at),
            tier=self._tier(),
            tier_until=self._future("tier_until"),
        )

    def _instant(self, name: str, *, end_of_day: bool = False) -> datetime | None:
        zone = self.rules.zone
        return self._check(
            name,
            lambda v: parse_instant(v, zone, end_of_day=end_of_day),
            ImportProblem.INVALID_DATE,
        )

    def _future(self, name: str, code: str = ImportProblem.INVALID_DATE) -> datetime | None:
        moment = self._instant(name, end_of_day=True)
        if moment is not None and moment <= self.rules.now:
            self._problem(code, name, f"{name} has already passed")
            return None
        return moment

    def _profile(self) -> dict[str, object]:
        given: dict[str, Any] = {k: str(self.values[k]) for k in _PROFILE if k in self.values}
        if "birth_date" in given:
            try:
                given["birth_date"] = date.fromisoformat(given["birth_date"].strip())
            except ValueError:
                self._problem(ImportProblem.INVALID_DATE, "birth_date", "not an ISO date")
                del given["birth_date"]
        if "interests" in self.values:
            given["interests"] = _listed(self.values["interests"])
        today = self.rules.now.astimezone(self.rules.zone).date()
        try:
            return members.clean_profile(
                members.ProfileInput(**given), today=today, country=self.rules.country
            )
        except DomainError as exc:
            self.problems.extend(as_reasons(exc))
            return {}

    def _consents(self) -> dict[str, bool]:
        raw = self.values.get("consents")
        if raw is None:
            return {}
        if isinstance(raw, dict):
            granted = {str(k): bool(v) for k, v in raw.items()}
        else:
            granted = {channel: True for channel in _listed(raw)}
        unknown = sorted(set(granted) - set(members.CONSENT_CHANNELS))
        if unknown:
            channels = ", ".join(members.CONSENT_CHANNELS)
            message = f"unknown channel {', '.join(unknown)} (known: {channels})"
            self._problem(ImportProblem.INVALID_VALUE, "consents", message)
        return granted

    def _tier(self) -> str | None:
        tier = self.values.get("tier")
        if tier is None:
            return None
        if str(tier) not in self.rules.tiers:
            known = ", ".join(sorted(self.rules.tiers)) or "none"
            self._problem(ImportProblem.UNKNOWN_TIER, "tier", f"no tier {tier!r} (known: {known})")
            return None
        return str(tier)

    def _lots(self, joined_at: datetime | None) -> tuple[OpeningLot, ...]:
        if "lots" in self.values and "points" in self.values:
            self._problem(ImportProblem.INVALID_VALUE, "lots", "give points or lots, not both")
            return ()
        if "points" in self.values:
            raw = [
                {
                    "points": self.values["points"],
                    "earned_at": self.values.get("points_earned_at"),
                    "expires_at": self.values.get("points_expire_at"),
                }
            ]
        else:
            raw = self._lot_list()
        lots = [self._lot(item, joined_at) for item in raw]
        return tuple(lot for lot in lots if lot is not None)

    def _lot_list(self) -> list[Any]:
        raw = self.values.get("lots")
        if raw is None:
            return []
        try:
            found = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            self._problem(ImportProblem.INVALID_VALUE, "lots", f"not a JSON list: {exc.msg}")
            return []
        if not isinstance(found, list) or not all(isinstance(i, dict) for i in found):
            self._problem(ImportProblem.INVALID_VALUE, "lots", "a list of {points, earned_at…}")
            return []
        if len(found) > MAX_LOTS:
            self._problem(ImportProblem.INVALID_VALUE, "lots", f"at most {MAX_LOTS} lots")
            return []
        return found

    def _lot(self, item: dict[str, Any], joined_at: datetime | None) -> OpeningLot | None:
        before = len(self.problems)
        points = self._points(item.get("points"))
        nested = RowChecker({k: v for k, v in item.items() if v not in (None, "")}, self.rules)
        earned_at = nested._instant("earned_at") or joined_at or self.rules.now
        expires_at = nested._future("expires_at", ImportProblem.EXPIRED_LOT)
        self.problems.extend(nested.problems)
        if earned_at > self.rules.now:
            self._problem(ImportProblem.INVALID_DATE, "points_earned_at", "earned in the future")
        if len(self.problems) > before or points is None:
            return None
        return OpeningLot(points, earned_at, expires_at)

    def _points(self, raw: object) -> int | None:
        try:
            points = int(str(raw).strip())
        except ValueError:
            points = -1
        if points == 0:
            return None
        if not 0 < points <= MAX_LOT_POINTS:
            message = f"points must be a whole number from 1 to {MAX_LOT_POINTS}"
            self._problem(ImportProblem.INVALID_POINTS, "points", message)
            return None
        return points


def _clean_key(raw: object) -> str:
    return client_key(str(raw), "external_id", ImportProblem.INVALID_EXTERNAL_ID, max_length=180)
