"""`trouw programme`: apply keeps every version with who applied it, rollback applies an
earlier one as a new version, plan prints the changes and the replay and writes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from loyalty.demo.data import DEMO_PROGRAMME
from loyalty.programme import store
from loyalty.programme.versions import versions
from loyalty.storage.database import Database


def read_versions(url: str) -> list[tuple[int, str | None, str | None, str]]:
    async def work() -> list[tuple[int, str | None, str | None, str]]:
        db = Database(url)
        try:
            async with db.unit_of_work(write=False) as uow:
                return [
                    (v.version, v.applied_by, v.note, v.spec["earning"]["base"]["points_per_unit"])
                    for v in await versions(uow.session)
                ]
        finally:
            await db.dispose()

    return asyncio.run(work())


def test_apply_versions_rollback_and_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'trouw.db'}"
    monkeypatch.setenv("TROUW_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"]).exit_code == 0
    first = DEMO_PROGRAMME.read_text(encoding="utf-8")
    second = tmp_path / "second.yaml"
    second.write_text(first.replace("points_per_unit: 10 ", "points_per_unit: 12 ", 1))
    ran = runner.invoke(main, ["programme", "apply", str(DEMO_PROGRAMME), "--by", "Mira"])
    assert ran.exit_code == 0, ran.output
    store._known.clear()
    planned = runner.invoke(main, ["programme", "plan", str(second), "--days", "7"])
    assert planned.exit_code == 0, planned.output
    assert "~ earning: points_per_unit: '10' -> '12'" in planned.output
    assert "points issued" in planned.output
    assert len(read_versions(url)) == 1  # planning applies nothing
    ran = runner.invoke(main, ["programme", "apply", str(second), "--by", "Joost"])
    assert ran.exit_code == 0, ran.output
    ran = runner.invoke(main, ["programme", "rollback", "1", "--by", "Mira"])
    assert ran.exit_code == 0, ran.output
    assert read_versions(url) == [
        (1, "Mira", "applied from programme.yaml", "10"),
        (2, "Joost", "applied from second.yaml", "12"),
        (3, "Mira", "rollback to version 1", "10"),
    ]
    listed = runner.invoke(main, ["programme", "versions"])
    assert listed.exit_code == 0 and "rollback to version 1" in listed.output
    missing = runner.invoke(main, ["programme", "rollback", "9"])
    assert missing.exit_code != 0 and "No programme version 9" in missing.output
