"""Reading an import file and checking its rows: CSV with a header line, or JSON lines (one
object per line). Each row is read into an `ImportRow` or refused with every reason at once,
by its line number in the file. Nothing here touches the database.

The columns (docs/cli.md lists them with examples): `external_id`, `email` (at least one of
the two), the profile (`first_name`, `last_name`, `birth_date`, `phone`, `locale`,
`preferred_channel`, `interests`), `consents` (the channels granted), `joined_at`, the
opening balance (`points` with `points_earned_at` and `points_expire_at`, or `lots`: a list
of `{points, earned_at, expires_at}`) and the tier floor (`tier`, `tier_until`)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.points.opening import OpeningLot

COLUMNS = (
    "external_id",
    "email",
    "first_name",
    "last_name",
    "birth_date",
    "phone",
    "locale",
    "preferred_channel",
    "interests",
    "consents",
    "joined_at",
    "points",
    "points_earned_at",
    "points_expire_at",
    "lots",
    "tier",
    "tier_until",
)
MAX_LOT_POINTS = 10_000_000
MAX_LOTS = 100
FORMATS = ("csv", "jsonl")


class ImportProblem(StrEnum):
    """Why a row was refused, besides the members area's own codes (INVALID_EMAIL…)."""

    UNREADABLE_ROW = "UNREADABLE_ROW"
    MISSING_KEY = "MISSING_KEY"
    INVALID_EXTERNAL_ID = "INVALID_EXTERNAL_ID"
    INVALID_VALUE = "INVALID_VALUE"
    INVALID_DATE = "INVALID_DATE"
    INVALID_POINTS = "INVALID_POINTS"
    EXPIRED_LOT = "EXPIRED_LOT"
    UNKNOWN_TIER = "UNKNOWN_TIER"
    DUPLICATE_ROW = "DUPLICATE_ROW"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    REFUSED = "REFUSED"


@dataclass(frozen=True)
class Reason:
    code: str
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f" {self.field}" if self.field else ""
        return f"{self.code}{where}: {self.message}"


@dataclass(frozen=True)
class Rejection:
    line: int
    reasons: tuple[Reason, ...]

    def __str__(self) -> str:
        return f"line {self.line}: " + "; ".join(str(r) for r in self.reasons)


@dataclass(frozen=True)
class Record:
    """A row as read from the file, before any check."""

    line: int
    values: dict[str, Any]


@dataclass(frozen=True)
class ImportRow:
    line: int
    external_id: str | None
    email: str | None
    profile: dict[str, object]
    consents: dict[str, bool]
    joined_at: datetime | None
    lots: tuple[OpeningLot, ...] = ()
    tier: str | None = None
    tier_until: datetime | None = None


@dataclass(frozen=True)
class RowRules:
    """What a row is checked against: the moment of the import and the programme."""

    now: datetime
    zone: ZoneInfo
    country: str
    tiers: frozenset[str] = field(default_factory=frozenset)


class FileProblem(Exception):
    """The file as a whole cannot be imported (unknown format or columns)."""


def format_of(path: Path, given: str | None) -> str:
    if given:
        return given
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise FileProblem(f"cannot tell the format of {path.name}: use --format csv or jsonl")


def read_records(path: Path, fmt: str) -> Iterator[Record | Rejection]:
    """The file's rows in order, with their line numbers; lines that are no row at all (bad
    JSON) come as rejections."""
    if fmt == "csv":
        yield from _csv_records(path)
    else:
        yield from _json_records(path)


def _csv_records(path: Path) -> Iterator[Record | Rejection]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        _check_columns(list(reader.fieldnames or []))
        start = reader.line_num + 1
        for row in reader:
            values = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
            if None in row:
                yield Rejection(start, (_reason(ImportProblem.UNREADABLE_ROW, "too many cells"),))
            elif values:
                yield Record(start, values)
            start = reader.line_num + 1


def _json_records(path: Path) -> Iterator[Record | Rejection]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                values = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Rejection(number, (_reason(ImportProblem.UNREADABLE_ROW, exc.msg),))
                continue
            if not isinstance(values, dict):
                yield Rejection(number, (_reason(ImportProblem.UNREADABLE_ROW, "not an object"),))
                continue
            unknown = sorted(set(values) - set(COLUMNS))
            if unknown:
                message = f"unknown field {', '.join(unknown)}"
                yield Rejection(number, (_reason(ImportProblem.INVALID_VALUE, message),))
                continue
            yield Record(number, {k: v for k, v in values.items() if v not in (None, "")})


def _check_columns(names: list[str]) -> None:
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise FileProblem(f"unknown column {', '.join(unknown)} (known: {', '.join(COLUMNS)})")
    if "external_id" not in names and "email" not in names:
        raise FileProblem("the file needs an external_id or an email column")


def _reason(code: str, message: str, name: str | None = None) -> Reason:
    return Reason(str(code), name, message)


def count_records(path: Path, fmt: str) -> int:
    """How many rows the file has (for the progress bar)."""
    return sum(1 for _ in read_records(path, fmt))
