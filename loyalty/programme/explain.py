"""Turning pydantic's validation errors into problems a programme manager can act on: each
is traced back to the YAML node at its path, and said in plain words."""

from __future__ import annotations

import difflib
from datetime import date
from decimal import Decimal
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from loyalty.programme.problems import Loc, Problem, at
from loyalty.programme.spec import ProgrammeFile


def from_pydantic(root: MappingNode, error: ErrorDetails) -> Problem:
    loc = tuple(error["loc"])
    # An unknown field is best shown at its key; everything else at its value.
    node = _locate(root, loc, want_key=error["type"] == "extra_forbidden")
    return at(node.start_mark, loc, _message(error, loc))


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
