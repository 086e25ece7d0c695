"""Reading a programme file, with errors that point at the line and column to fix.

The YAML is composed into a node tree first, so every value keeps its position; plain data is
built from that tree (`_DataBuilder`) and validated with pydantic, and each validation error
is traced back to the node at its path (`loyalty.programme.explain`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from loyalty.programme.explain import from_pydantic
from loyalty.programme.problems import Loc, Problem, ProgrammeFileError, at, file_error
from loyalty.programme.spec import ProgrammeFile

__all__ = ["Problem", "ProgrammeFileError", "load_programme", "parse_programme"]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"


def load_programme(path: str | os.PathLike[str]) -> ProgrammeFile:
    source = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise file_error(source, "file not found") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise file_error(source, "not valid UTF-8 text", line=line) from None
    except OSError as exc:
        raise file_error(source, f"cannot read the file: {exc.strerror or exc}") from None
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
        problems = [from_pydantic(root, error) for error in exc.errors()]
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))  # in reading order
        raise ProgrammeFileError(source, problems) from exc


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
        problem = at(mark, (), f"invalid YAML: {_yaml_message(exc)}")
        raise ProgrammeFileError(source, [problem]) from None
    if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL_TAG):
        raise file_error(source, "the file is empty; it needs a 'programme:' section")
    if not isinstance(root, MappingNode):
        message = f"the file must be a mapping of sections such as 'programme:', not {_kind(root)}"
        raise ProgrammeFileError(source, [at(root.start_mark, (), message)])
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
        self.problems.append(at(node.start_mark, loc, message))
