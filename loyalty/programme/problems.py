"""What is wrong with a programme file, said so that it can be fixed: each problem has the
path of the value, its line and column, and a message."""

from __future__ import annotations

from dataclasses import dataclass

from yaml.error import Mark

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a programme file; line and column are 1-based."""

    path: str  # where in the data, e.g. "programme.locales[1]"; "" for the file as a whole
    line: int | None
    column: int | None
    message: str

    def render(self, source: str) -> str:
        where = [source] + [str(n) for n in (self.line, self.column) if n is not None]
        what = f"{self.path}: {self.message}" if self.path else self.message
        return f"{':'.join(where)}: {what}"


class ProgrammeFileError(Exception):
    """The programme file cannot be used; `problems` lists everything found wrong with it."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        super().__init__(source, problems)
        self.source = source
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join(problem.render(self.source) for problem in self.problems)


def file_error(source: str, message: str, line: int | None = None) -> ProgrammeFileError:
    """An error about the file as a whole rather than one value in it."""
    return ProgrammeFileError(source, [Problem("", line, None, message)])


def at(mark: Mark | None, loc: Loc, message: str) -> Problem:
    if mark is None:
        return Problem(dotted(loc), None, None, message)
    return Problem(dotted(loc), mark.line + 1, mark.column + 1, message)


def dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
