"""Importing members from another platform, a chunk of rows per transaction.

Each new member joins through `members.create_members` like every other way in (so the
referrals' fraud checks see them, with the signals an import has: none beyond the member's
own email and phone), with the activity `member_imported`, the opening balance as dated lots
(points ledger) and the tier floor (tiers). A row is all or nothing.

A re-run changes nothing for rows already imported: a row with an `external_id` is found by
the activity's id (`trouw-import:id:<external_id>`), a row with only an email by the email's
blind index and that member's `member_imported` activity. A row whose email belongs to a member
who did not come from this import is refused, as is a row repeating an earlier row's key.

Rows are checked before any is written; should a chunk still fail at the database (a race with
a sign-up of the same address), it is split in halves and each tried again, down to the row
that fails: that row is refused, the others are imported.

A chunk costs a few statements per table however many rows it has: the members, their
consents, accounts, activities, ledger entries, lots, tier rows, events and the referral
checks' fingerprints and codes are each written in one batch (`members.create_members`,
`points.opening.open_accounts`, `tiers.set_floors`; the in-transaction reactions to the
chunk's `member.signed_up` run once for the run of them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError
from loyalty.imports.fields import as_reasons, check_row
from loyalty.imports.rows import ImportProblem, ImportRow, Reason, Record, Rejection, RowRules
from loyalty.members import service as members
from loyalty.members.signals import SignUpSignals
from loyalty.points.activities import Activity, members_by_activity, members_with_activity
from loyalty.points.opening import Opening, open_accounts
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file, current_settings
from loyalty.storage.database import Database
from loyalty.storage.numbering import flush_many
from loyalty.tiers import service as tiers

ACTOR = "import"
ACTIVITY = "member_imported"
CHUNK = 500
Progress = Callable[[int], None]


def key_of_id(external_id: str) -> str:
    return f"trouw-import:id:{external_id}"


def key_of_member(member_id: int) -> str:
    return f"trouw-import:member:{member_id}"


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    existing: int = 0
    rejected: list[Rejection] = field(default_factory=list)


@dataclass
class _Outcome:
    fresh: list[ImportRow] = field(default_factory=list)
    existing: int = 0
    rejected: list[Rejection] = field(default_factory=list)


async def import_members(
    db: Database,
    clock: Clock,
    records: Iterable[Record | Rejection],
    *,
    progress: Progress | None = None,
    chunk_size: int = CHUNK,
) -> ImportReport:
    """Import the rows (idempotent); `progress` is told how many rows each chunk handled."""
    async with db.unit_of_work(write=False) as uow:
        file = await current_file(uow.session)
        settings = await current_settings(uow.session)
    levels = file.tiers.levels if file.tiers else []
    rules = RowRules(
        clock.now(), settings.zone, settings.country, frozenset(lv.key for lv in levels)
    )
    report = ImportReport()
    seen: dict[str, int] = {}
    for chunk in _chunks(records, chunk_size):
        rows = []
        for record in chunk:
            checked = record if isinstance(record, Rejection) else check_row(record, rules)
            if isinstance(checked, ImportRow):
                checked = _first_of_its_key(checked, seen)
            if isinstance(checked, Rejection):
                report.rejected.append(checked)
            else:
                rows.append(checked)
        await _import_chunk(db, clock, rows, file, report)
        report.rows += len(chunk)
        if progress is not None:
            progress(len(chunk))
    report.rejected.sort(key=lambda r: r.line)
    return report


def _chunks(records: Iterable[Record | Rejection], size: int) -> Iterator[list[Record | Rejection]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk


def _first_of_its_key(row: ImportRow, seen: dict[str, int]) -> ImportRow | Rejection:
    keys = [f"id:{row.external_id}"] if row.external_id else []
    keys += [f"email:{row.email}"] if row.email else []
    for key in keys:
        if key in seen:
            what = "external_id" if key.startswith("id:") else "email"
            message = f"the same {what} as line {seen[key]}"
            return Rejection(row.line, (Reason(ImportProblem.DUPLICATE_ROW, what, message),))
    for key in keys:
        seen[key] = row.line
    return row


async def _import_chunk(
    db: Database, clock: Clock, rows: list[ImportRow], file: ProgrammeFile, report: ImportReport
) -> None:
    """The rows in one transaction; should it fail (rolled back, nothing written), each half
    is tried again on its own, down to the row that fails, so its chunk-mates still commit."""
    try:
        _count(report, await _attempt(db, clock, rows, file))
        return
    except (DomainError, IntegrityError) as exc:
        if len(rows) > 1:
            half = len(rows) // 2
            await _import_chunk(db, clock, rows[:half], file, report)
            await _import_chunk(db, clock, rows[half:], file, report)
            return
        report.rejected.append(Rejection(rows[0].line, _reasons(exc)))


def _reasons(exc: DomainError | IntegrityError) -> tuple[Reason, ...]:
    if isinstance(exc, DomainError):
        return tuple(as_reasons(exc))
    first = str(exc.orig).strip().splitlines()[0]
    return (Reason(ImportProblem.REFUSED, None, f"the database refused it: {first}"),)


def _count(report: ImportReport, outcome: _Outcome) -> None:
    report.created += len(outcome.fresh)
    report.existing += outcome.existing
    report.rejected.extend(outcome.rejected)


async def _attempt(
    db: Database, clock: Clock, rows: list[ImportRow], file: ProgrammeFile
) -> _Outcome:
    """One transaction: sort the rows out, create the new members, commit."""
    async with db.unit_of_work() as uow:
        outcome = await _sort_out(uow.session, rows)
        if outcome.fresh:
            await _create(uow.session, outcome.fresh, file, clock.now())
        await uow.commit()
    return outcome


async def _sort_out(s: AsyncSession, rows: Sequence[ImportRow]) -> _Outcome:
    """Which rows are new, which were imported before, which collide with a member of ours
    (three queries for the whole chunk)."""
    by_email = await members.member_ids_by_email(s, [r.email for r in rows if r.email])
    by_id = await members_by_activity(s, [key_of_id(r.external_id) for r in rows if r.external_id])
    imported = await members_with_activity(s, ACTIVITY, list(by_email.values()))
    outcome = _Outcome()
    for row in rows:
        owner = by_email.get(row.email) if row.email else None
        if (row.external_id and key_of_id(row.external_id) in by_id) or (
            row.external_id is None and owner is not None and owner in imported
        ):
            outcome.existing += 1
        elif owner is not None:
            message = "belongs to a member who was not brought in by this row"
            reason = Reason(ImportProblem.EMAIL_TAKEN, "email", message)
            outcome.rejected.append(Rejection(row.line, (reason,)))
        else:
            outcome.fresh.append(row)
    return outcome


async def _create(
    s: AsyncSession, rows: list[ImportRow], file: ProgrammeFile, now: datetime
) -> None:
    """The new members, a few statements for the whole chunk: each joins like any other
    (`member.signed_up`, the referral checks); an import knows no device, client address or
    referral code, so the checks keep the members' email and phone prints and give them
    their own code."""
    new = [
        members.NewMember(row.email, row.profile, row.consents, row.joined_at or now)
        for row in rows
    ]
    joined = await members.create_members(
        s, new, signals=SignUpSignals(), consent_source=members.IMPORTED
    )
    openings = [
        Opening(member, Activity(_key(row, member.id), ACTIVITY, now), row.lots)
        for row, member in zip(rows, joined, strict=True)
    ]
    await open_accounts(s, openings, file=file, now=now, actor=ACTOR)
    floors = [
        tiers.Floor(member.id, row.tier, row.tier_until)
        for row, member in zip(rows, joined, strict=True)
        if row.tier is not None
    ]
    await tiers.set_floors(s, floors, file, now)
    await flush_many(s)  # the events


def _key(row: ImportRow, member_id: int) -> str:
    return key_of_id(row.external_id) if row.external_id else key_of_member(member_id)
