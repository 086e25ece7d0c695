"""Reading a programme file, with errors that point at the line and column to fix.

The YAML is composed into a node tree first, so every value keeps its position; plain data is
built from that tree and validated with pydantic, and each validation error is traced back to
the node at its path.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from loyalty.programme.spec import ProgrammeFile

Loc = tuple[str | int, ...]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"


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


def load_programme(path: str | os.PathLike[str]) -> ProgrammeFile:
    source = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _error(source, "file not found") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise _error(source, "not valid UTF-8 text", line=line) from None
    except OSError as exc:
        raise _error(source, f"cannot read the file: {exc.strerror or exc}") from None
    return parse_programme(text, source)


def parse_programme(text: str, source: str = "<programme>") -> ProgrammeFile:
    """Parse and validate programme YAML; `source` names the file in error messages."""
    root = _compose(text, source)
    builder = _DataBuilder()
    data = builder.build(root, ())
    if builder.problems:
        raise ProgrammeFileError(source, builder.problems)
    try:
        return ProgrammeFile.model_validate(data)
    except ValidationError as exc:
        problems = [_from_pydantic(root, error) for error in exc.errors()]
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))  # in reading order
        raise ProgrammeFileError(source, problems) from exc


def _error(source: str, message: str, line: int | None = None) -> ProgrammeFileError:
    """An error about the file as a whole rather than one value in it."""
    return ProgrammeFileError(source, [Problem("", line, None, message)])


def _at(mark: Mark | None, loc: Loc, message: str) -> Problem:
    if mark is None:
        return Problem(_dotted(loc), None, None, message)
    return Problem(_dotted(loc), mark.line + 1, mark.column + 1, message)


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


# --- YAML -> nodes -> plain data ---------------------------------------------------------------


def _compose(text: str, source: str) -> MappingNode:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        message = f"invalid YAML: character U+{exc.character:04X} is not allowed"
        raise ProgrammeFileError(source, [Problem("", line, column, message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = _at(mark, (), f"invalid YAML: {_yaml_message(exc)}")
        raise ProgrammeFileError(source, [problem]) from None
    if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL_TAG):
        raise _error(source, "the file is empty; it needs a 'programme:' section")
    if not isinstance(root, MappingNode):
        message = f"the file must be a mapping of sections such as 'programme:', not {_kind(root)}"
        raise ProgrammeFileError(source, [_at(root.start_mark, (), message)])
    return root


# PyYAML names tokens in its messages; say what they mean in the text instead.
_TOKEN_NAMES = {
    "<block end>": "the end of the indented block",
    "<block mapping start>": "a key at a different indentation",
    "<block sequence start>": "a list at a different indentation",
    "<stream end>": "the end of the file",
    "<document start>": "'---'",
    "<scalar>": "a value",
}


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    problem, context = exc.problem or "", exc.context or ""
    context_mark, problem_mark = exc.context_mark, exc.problem_mark
    if problem.startswith("but "):  # "expected a single document" "but found another one"
        message = f"{context} {problem}"
    elif context and context_mark and problem_mark and context_mark.line != problem_mark.line:
        message = f"{problem} ({context} on line {context_mark.line + 1})"
    else:
        message = problem or context
    for token, meaning in _TOKEN_NAMES.items():
        message = message.replace(f"'{token}'", meaning).replace(token, meaning)
    if "<block" in problem:
        message += "; check the indentation"
    return message


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "a single value"


class _DataBuilder:
    """Turns a node tree into dicts, lists and scalars, collecting structural problems."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._scalars = SafeConstructor()
        # Aliases share nodes: build each node once, and notice aliases that contain themselves.
        self._built: dict[int, Any] = {}
        self._building: set[int] = set()

    def build(self, node: Node, loc: Loc) -> Any:
        node_id = id(node)
        if node_id in self._built:
            return self._built[node_id]
        if node_id in self._building:
            self._report(node, loc, "an alias here refers to a value that contains it")
            return None
        self._building.add(node_id)
        try:
            value = self._build(node, loc)
        finally:
            self._building.discard(node_id)
        self._built[node_id] = value
        return value

    def _build(self, node: Node, loc: Loc) -> Any:
        if isinstance(node, ScalarNode):
            return self._scalar(node, loc)
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            self._report(node, loc, f"unsupported YAML tag {node.tag!r}")
            return None
        if isinstance(node, SequenceNode):
            return [self.build(item, (*loc, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, MappingNode)  # the only other kind of node
        return self._mapping(node, loc)

    def _scalar(self, node: ScalarNode, loc: Loc) -> Any:
        try:
            return self._scalars.construct_object(node, deep=True)
        # Explicitly tagged scalars (`!!int x`, `!custom y`) fail in assorted ways.
        except Exception:
            self._report(node, loc, f"cannot read {node.value!r} as YAML tag {node.tag!r}")
            return None

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self._report(key_node, loc, "merge keys ('<<') are not supported")
                continue
            if not isinstance(key_node, ScalarNode):
                self._report(key_node, loc, "a key must be a plain name, not a list or mapping")
                continue
            # Keys are names: keep the text as written, so `no:` or `1:` stay strings.
            key = key_node.value
            if key in seen:
                first_line = seen[key].start_mark.line + 1
                message = f"duplicate key '{key}' (first used on line {first_line})"
                self._report(key_node, (*loc, key), message)
                continue
            seen[key] = key_node
            result[key] = self.build(value_node, (*loc, key))
        return result

    def _report(self, node: Node, loc: Loc, message: str) -> None:
        self.problems.append(_at(node.start_mark, loc, message))


# --- pydantic errors -> problems -------------------------------------------------------------


def _from_pydantic(root: MappingNode, error: ErrorDetails) -> Problem:
    loc = tuple(error["loc"])
    # An unknown field is best shown at its key; everything else at its value.
    node = _locate(root, loc, want_key=error["type"] == "extra_forbidden")
    return _at(node.start_mark, loc, _message(error, loc))


def _locate(root: Node, loc: Loc, *, want_key: bool) -> Node:
    """The node at `loc`, or the nearest ancestor that exists (e.g. for a missing field)."""
    node = root
    for depth, part in enumerate(loc, start=1):
        child = _child(node, part)
        if child is None:
            return node
        key_node, node = child
        if want_key and depth == len(loc):
            return key_node
    return node


def _child(node: Node, part: str | int) -> tuple[Node, Node] | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == str(part):
                return key_node, value_node
    elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part], node.value[part]
    return None


def _message(error: ErrorDetails, loc: Loc) -> str:
    kind = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    got = _describe(error["input"])
    match kind:
        case "missing":
            return "field required"
        case "extra_forbidden":
            return _unknown_field(loc)
        case "value_error":
            return str(ctx["error"])
        case "string_type":
            hint = "; put it in quotes" if isinstance(error["input"], int | float) else ""
            return f"must be text, got {got}{hint}"
        case "string_too_short" if ctx["min_length"] == 1:
            return "must not be empty"
        case "string_too_short":
            return f"must be at least {ctx['min_length']} characters"
        case "string_too_long":
            return f"must be at most {ctx['max_length']} characters"
        case "decimal_type" | "decimal_parsing" | "float_type" | "float_parsing":
            return f"must be a number, got {got}"
        case "int_type" | "int_parsing" | "int_from_float":
            return f"must be a whole number, got {got}"
        case "finite_number":
            return "must be a finite number"
        case "decimal_max_places":
            return f"must have at most {ctx['decimal_places']} decimal places"
        case "greater_than":
            return f"must be greater than {ctx['gt']}"
        case "greater_than_equal":
            return f"must be at least {ctx['ge']}"
        case "less_than":
            return f"must be less than {ctx['lt']}"
        case "less_than_equal":
            return f"must be at most {ctx['le']}"
        case "bool_type" | "bool_parsing":
            return f"must be true or false, got {got}"
        case "list_type":
            return f"must be a list, got {got}"
        case "too_short" if ctx["min_length"] == 1:
            return "must list at least one item"
        case "too_short":
            return f"must list at least {ctx['min_length']} items"
        case "too_long":
            return f"must list at most {ctx['max_length']} items"
        case "model_type" | "model_attributes_type" | "dict_type":
            return f"must be a mapping of fields, got {got}"
        case "literal_error" | "enum":
            return f"must be {ctx['expected']}"
    text = error["msg"]
    return text[:1].lower() + text[1:]


def _describe(value: Any) -> str:
    match value:
        case None:
            return "an empty value"
        case bool():
            return "true" if value else "false"
        case int() | float() | Decimal():
            return "a number"
        case str():
            return "text"
        case list():
            return "a list"
        case dict():
            return "a mapping"
        case date():
            return "a date"
    return f"a {type(value).__name__}"


def _unknown_field(loc: Loc) -> str:
    message = f"unknown field '{loc[-1]}'"
    close = difflib.get_close_matches(str(loc[-1]), _field_names(ProgrammeFile, loc[:-1]), n=1)
    return f"{message} (did you mean '{close[0]}'?)" if close else message


def _field_names(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the model found at `loc`; [] when the path leads elsewhere."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(part, str) and _is_model(annotation):
            field = annotation.model_fields.get(part)
            annotation = field.annotation if field else None
        elif isinstance(part, int) and get_origin(annotation) in (list, tuple):
            annotation = get_args(annotation)[0]
        else:
            return []
    annotation = _unwrap(annotation)
    if not _is_model(annotation):
        return []
    return [field.alias or name for name, field in annotation.model_fields.items()]


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` to `X`."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (Union, UnionType):
            options = [arg for arg in get_args(annotation) if arg is not NoneType]
            if len(options) == 1:
                annotation = options[0]
                continue
        return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
