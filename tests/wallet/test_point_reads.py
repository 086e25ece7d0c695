"""The pass read the PassKit web service does on every request: on SQLite straight from the
file (`loyalty.wallet.point_reads`), on PostgreSQL through the engine; either way the same
pass, with the same types, and never an older state than the database holds."""

from __future__ import annotations

from datetime import timedelta

from loyalty.core.clock import FixedClock
from loyalty.members.service import create_member
from loyalty.members.signals import NO_SIGNALS
from loyalty.storage.database import Database
from loyalty.wallet.point_reads import PointReads
from loyalty.wallet.service import _BY_SERIAL, WalletService, mark_changed


async def test_a_pass_reads_the_same_either_way_and_at_once_after_a_change(
    db: Database, clock: FixedClock
) -> None:
    async with db.unit_of_work() as uow:
        member = await create_member(
            uow.session, signals=NO_SIGNALS, now=clock.now(), email="point@example.com",
            password_hash=None,
            profile={}, consents={},
        )  # fmt: skip
        await uow.commit()
    passes = WalletService(db, clock)
    made = await passes.pass_of(member.id)
    assert await passes.by_serial(made.serial_number) == made
    assert made.modified_at.tzinfo is not None
    assert await passes.by_serial("no-such-serial") is None

    clock.advance(timedelta(minutes=5))
    async with db.unit_of_work() as uow:
        await mark_changed(uow.session, member.id, 77, clock.now())
        await uow.commit()
    changed = await passes.by_serial(made.serial_number)
    assert changed is not None
    assert (changed.update_tag, changed.modified_at) == (77, clock.now())
    assert await passes.authorised(made.serial_number, made.authentication_token) == changed
    assert await passes.authorised(made.serial_number, "x" * 32) is None

    direct = PointReads(db).first(_BY_SERIAL, {"serial": made.serial_number})
    if db.is_sqlite:
        assert direct is not None and direct[0] is not None and direct[0][5] == clock.now()
    else:
        assert direct is None  # the engine answers on PostgreSQL
