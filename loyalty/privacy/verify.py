"""Check that an erased member's personal data is gone from every table.

Every text, JSON and binary column of every table is read raw (not through the models, so
nothing is decrypted) and searched, case-insensitively and on word boundaries, for the values
that were erased. The values themselves are not kept after erasure: the erasure record holds
their length and a keyed hash (`Keyring.fingerprint`), and each candidate window of each cell
is hashed and compared. Sealed data cannot match (it is ciphertext), and neither can anything
once its key is gone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, LargeBinary, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.personal import Keyring

_TEXT_TYPES = (String, Text, JSON, LargeBinary)


@dataclass
class Finding:
    table: str
    column: str
    row: str


@dataclass
class Verification:
    member_id: int
    erased: bool
    key_deleted: bool
    tables: int = 0
    cells: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.erased and self.key_deleted and not self.findings


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _boundary(text: str, at: int) -> bool:
    return at <= 0 or at >= len(text) or not text[at].isalnum() or not text[at - 1].isalnum()


def matches(text: str, wanted: dict[int, set[str]], keyring: Keyring) -> bool:
    """Whether a window of `text` on word boundaries has one of the wanted fingerprints."""
    folded = text.casefold()
    starts = [i for i in range(len(folded)) if _boundary(folded, i)]
    for length, prints in wanted.items():
        for start in starts:
            end = start + length
            if end > len(folded):
                break
            if _boundary(folded, end) and keyring.fingerprint(folded[start:end]) in prints:
                return True
    return False


def parse(fingerprints: list[str]) -> dict[int, set[str]]:
    wanted: dict[int, set[str]] = {}
    for item in fingerprints:
        length, _, digest = item.partition(":")
        wanted.setdefault(int(length), set()).add(digest)
    return wanted


async def scan_table(
    session: AsyncSession,
    table: Table,
    wanted: dict[int, set[str]],
    keyring: Keyring,
    report: Verification,
) -> None:
    columns = [c for c in table.columns if isinstance(c.type, _TEXT_TYPES)]
    if not columns:
        return
    key = list(table.primary_key.columns)
    result = await session.stream(select(*key, *columns))
    async for row in result:
        for column in columns:
            text = _text(row._mapping[column])
            if text is None:
                continue
            report.cells += 1
            if matches(text, wanted, keyring):
                ident = ",".join(str(row._mapping[k]) for k in key)
                report.findings.append(Finding(table.name, column.name, ident))
