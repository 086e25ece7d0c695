"""Error codes are part of the contract: GraphQL enums built from every area's `ErrorCode`
enum, listed in docs/error-codes.md (generated, and compared here), and raised as enum
members only, never as string literals (scanned here)."""

from __future__ import annotations

import ast
from pathlib import Path

from graphql import GraphQLEnumType, GraphQLObjectType

from api.core.error_docs import error_codes_markdown
from api.core.errors import ApiErrorCode, UserErrorCode, user_error_codes
from api.schema import build_schema
from loyalty.areas import areas
from loyalty.core.errors import CoreError, all_error_codes
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "error-codes.md"
SCANNED = ("loyalty", "api")
RAISERS = {"DomainError", "ApiError"}


def test_docs_list_every_code_as_the_code_has_them() -> None:
    assert DOC.read_text(encoding="utf-8") == error_codes_markdown(), (
        "docs/error-codes.md is out of date: run `trouw export-error-codes`"
    )


def test_user_error_code_is_every_code_of_every_area_by_its_wire_name() -> None:
    areas()
    codes = set(all_error_codes())
    assert {member.name for member in UserErrorCode} == codes
    assert all(member.value == member.name for member in UserErrorCode)
    assert {c.value for c in CoreError} <= codes
    assert user_error_codes()["NOT_FOUND"][0] == "core"


def test_both_enums_are_in_the_schema_with_descriptions() -> None:
    schema = build_schema(make_settings("sqlite+aiosqlite:///:memory:"))._schema
    user_error = schema.get_type("UserError")
    assert isinstance(user_error, GraphQLObjectType)
    assert str(user_error.fields["code"].type) == "UserErrorCode!"
    assert all(f.description for f in user_error.fields.values())
    enums = [schema.get_type(name) for name in ("UserErrorCode", "ApiErrorCode")]
    for enum in enums:
        assert isinstance(enum, GraphQLEnumType) and enum.description
        assert all(value.description for value in enum.values.values()), enum.name
    assert isinstance(enums[1], GraphQLEnumType)
    assert set(enums[1].values) == {c.name for c in ApiErrorCode}


def _literal_codes(source: str, where: str) -> list[str]:
    """`DomainError(...)` / `ApiError(...)` calls whose code is a string, not an enum member."""
    found = []
    for node in ast.walk(ast.parse(source, filename=where)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name not in RAISERS:
            continue
        code = node.args[0] if node.args else None
        code = next((k.value for k in node.keywords if k.arg == "code"), code)
        if isinstance(code, ast.Constant | ast.JoinedStr):
            found.append(f"{where}:{node.lineno}: {name}({ast.unparse(code)}, …)")
    return found


def test_the_scan_finds_string_codes() -> None:
    sample = (
        'raise DomainError("NOT_FOUND", "x")\n'
        'raise errors.ApiError(code=f"X{1}", message="y")\n'
        "raise DomainError(CoreError.NOT_FOUND, 'x')\n"
        "raise ApiError(ApiErrorCode.FORBIDDEN, 'no')\n"
    )
    assert [hit.split(":")[1] for hit in _literal_codes(sample, "sample.py")] == ["1", "2"]


def test_errors_are_raised_with_enum_members_not_strings() -> None:
    offenders = [
        hit
        for package in SCANNED
        for path in sorted((REPO / package).rglob("*.py"))
        if "migrations" not in path.parts
        for hit in _literal_codes(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    ]
    listing = "\n".join(f"  {hit}" for hit in offenders)
    assert not offenders, f"codes must be members of an area's ErrorCode enum:\n{listing}"
