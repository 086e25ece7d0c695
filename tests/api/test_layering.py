"""One way into the domain: the API's resolvers, types and loaders read through the read models
and change things through the services, both built by the composition root. They open no
unit of work, import nothing from `loyalty.storage`, and name model classes only for type
annotations (under `if TYPE_CHECKING:`)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "api"
# The composition root and the command line build and run things on the database.
COMPOSITION = ("api/wiring.py", "api/running.py", "api/app.py", "api/cli/")
STORAGE_CALLS = {"unit_of_work", "reader"}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return name == "TYPE_CHECKING"


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.stmt | ast.expr]:
    """Every node, except those under `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(tree):
        if not isinstance(child, ast.stmt | ast.expr):
            yield from _runtime_nodes(child)
            continue
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


def _offences(source: str, where: str) -> list[str]:
    found = []
    for node in _runtime_nodes(ast.parse(source, filename=where)):
        for module in _imported(node):
            parts = module.split(".")
            if parts[:2] == ["loyalty", "storage"] and not where.startswith(COMPOSITION):
                found.append(f"{where}:{node.lineno}: imports {module}")
            if parts[0] == "loyalty" and parts[-1] == "models":
                found.append(f"{where}:{node.lineno}: imports {module} outside TYPE_CHECKING")
        if (
            isinstance(node, ast.Attribute)
            and node.attr in STORAGE_CALLS
            and not where.startswith(COMPOSITION)
        ):
            found.append(f"{where}:{node.lineno}: opens a transaction (.{node.attr})")
    return found


def test_the_scan_sees_storage_models_and_transactions() -> None:
    sample = (
        "from typing import TYPE_CHECKING\n"
        "from loyalty.storage.database import Database\n"
        "from loyalty.members.models import Member\n"
        "if TYPE_CHECKING:\n"
        "    from loyalty.points.models import LedgerEntry\n"
        "async def f(db):\n"
        "    async with db.unit_of_work(write=False) as uow:\n"
        "        from loyalty.rewards.models import Reward\n"
    )
    found = _offences(sample, "api/members/queries.py")
    assert [hit.split(":")[1] for hit in found] == ["2", "3", "7", "8"]
    # The composition root may use storage, but names models for annotations only too.
    assert [hit.split(":")[1] for hit in _offences(sample, "api/wiring.py")] == ["3", "8"]


def test_the_api_reaches_the_domain_one_way() -> None:
    offenders = []
    for path in sorted(API.rglob("*.py")):
        where = str(path.relative_to(ROOT))
        offenders += _offences(path.read_text(encoding="utf-8"), where)
    listing = "\n".join(f"  {hit}" for hit in offenders)
    assert not offenders, f"read through the read models, write through the services:\n{listing}"
