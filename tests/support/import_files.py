"""Member import files for the import's tests and benchmark: N members with a profile,
consents, an opening balance of one or two dated lots and, for some, a tier floor."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HEADER = (
    "external_id",
    "email",
    "first_name",
    "last_name",
    "birth_date",
    "phone",
    "locale",
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


def member_row(i: int, today: date) -> dict[str, Any]:
    """Row i: every third keyed by email only; balances of one lot or, every fifth, two."""
    row: dict[str, Any] = {
        "external_id": f"old-{i}" if i % 3 else "",
        "email": f"member{i}@import.example",
        "first_name": f"Voornaam{i}",
        "last_name": "de Import",
        "birth_date": date(1960 + i % 40, 1 + i % 12, 1 + i % 28).isoformat(),
        "phone": f"+3161{i % 10_000_000:07d}" if i % 2 else "",
        "locale": "nl-NL",
        "interests": "koffie;gebak" if i % 4 == 0 else "",
        "consents": "email;push" if i % 2 else "in_app",
        "joined_at": (today - timedelta(days=100 + i % 900)).isoformat(),
        "tier": "zilver" if i % 7 == 0 else "",
        "tier_until": (today + timedelta(days=200)).isoformat() if i % 7 == 0 else "",
    }
    if i % 5 == 0:
        lots = [
            {"points": 100 + i % 50, "earned_at": (today - timedelta(days=30)).isoformat()},
            {
                "points": 40,
                "earned_at": (today - timedelta(days=10)).isoformat(),
                "expires_at": (today + timedelta(days=60)).isoformat(),
            },
        ]
        row.update(lots=json.dumps(lots), points="", points_earned_at="", points_expire_at="")
    else:
        row.update(
            lots="",
            points=str(10 + i % 500),
            points_earned_at=(today - timedelta(days=20)).isoformat(),
            points_expire_at=(today + timedelta(days=300)).isoformat(),
        )
    return row


def expected_points(i: int) -> int:
    return 100 + i % 50 + 40 if i % 5 == 0 else 10 + i % 500


def write_csv(path: Path, count: int, today: date, extra: Sequence[dict[str, Any]] = ()) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=HEADER)
        writer.writeheader()
        for i in range(count):
            writer.writerow(member_row(i, today))
        for row in extra:
            writer.writerow(row)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path
