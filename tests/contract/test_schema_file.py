"""schema.graphql is exported from the code and must not drift from it."""

from __future__ import annotations

from pathlib import Path

from api.schema import schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_sdl(), (
        "schema.graphql is out of date: run `trouw export-schema` (or `make schema`)"
    )
