"""Size limits for the code: small modules and small functions keep the map readable.

Every module under the packages below has at most MAX_MODULE_LINES lines, and every function
(or method, nested ones included) at most MAX_FUNCTION_LINES, counted from its `def` line to
its last line. Migrations are history, not code that is read and changed, so they are left out.
The failure lists every offender at once, so one run says everything there is to split.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("loyalty", "api", "notifications", "wallet")
EXCLUDED = (Path("loyalty/storage/migrations"),)
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True)
class Offender:
    path: Path
    what: str
    lines: int
    limit: int

    def __str__(self) -> str:
        return f"{self.path}: {self.what} has {self.lines} lines (at most {self.limit})"


def modules() -> list[Path]:
    found: list[Path] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if not any(relative.is_relative_to(excluded) for excluded in EXCLUDED):
                found.append(relative)
    return found


def offenders_in(relative: Path, source: str) -> list[Offender]:
    found: list[Offender] = []
    module_lines = len(source.splitlines())
    if module_lines > MAX_MODULE_LINES:
        found.append(Offender(relative, "the module", module_lines, MAX_MODULE_LINES))
    for node in ast.walk(ast.parse(source, filename=str(relative))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno if node.end_lineno is not None else node.lineno
            lines = end - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                what = f"function {node.name} (line {node.lineno})"
                found.append(Offender(relative, what, lines, MAX_FUNCTION_LINES))
    return found


def test_the_scan_sees_every_package() -> None:
    scanned = {path.parts[0] for path in modules()}
    assert scanned == set(PACKAGES)
    assert not any(path.is_relative_to("loyalty/storage/migrations") for path in modules())


def test_the_scan_counts_a_function_from_def_to_its_last_line() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    source = f"def long() -> None:\n{body}\n\n\ndef short() -> None:\n    pass\n"
    found = offenders_in(Path("example.py"), source)
    assert [(o.what, o.lines) for o in found] == [
        ("function long (line 1)", MAX_FUNCTION_LINES + 1)
    ]


def test_modules_and_functions_stay_small() -> None:
    offenders: list[Offender] = []
    for relative in modules():
        offenders.extend(offenders_in(relative, (ROOT / relative).read_text(encoding="utf-8")))
    listing = "\n".join(f"  {offender}" for offender in offenders)
    assert not offenders, f"{len(offenders)} over the size limits; split them:\n{listing}"
