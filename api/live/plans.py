"""Subscription documents compiled once, so an event becomes its JSON without the executor.

Apps send the same one or two subscription documents on every connection. Each distinct
document is parsed and validated once (with the schema's own rules, limits included), and a
subscription whose selection only reads fields stored on the event's objects is compiled into
a plan: which live field it is, its `after` argument, and for every selected field its
response key, how to read it and the GraphQL type that serialises it. Rendering an event is
then a walk over that plan. A document that is not valid, not a subscription, or asks for
something a plan does not cover (a field with a resolver of its own, a directive, arguments
below the root) gets no plan: the transport hands it to Strawberry's executor instead, which
answers it as it always has.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    NonNullTypeNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    parse,
    specified_rules,
)
from strawberry import Schema, relay
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.schema.schema import validate_document
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.private import is_private

from api.core.ids import Sealed
from api.live.payload import PayloadReaders, seal
from notifications.bus import BusMessage

# JSON as the transport writes it; one encoder for all (json.dumps with these options makes
# a new one per call).
to_json: Callable[[Any], str] = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

# A compiled selection: (response key, read the value from the parent, finish it) per field.
Reader = Callable[[Any], Any]
Finish = Callable[[Any], Any]
Compiled = tuple[tuple[str, Reader, Finish], ...]


class _NoPlan(Exception):
    """The document asks for something a plan does not cover."""


@dataclass(frozen=True, slots=True)
class Plan:
    field: str  # the live field: balanceChanged or offersChanged
    key: str  # its response key (an alias, or the field's name)
    after: str | None  # the `after` literal
    after_variable: str | None  # or the variable that carries it
    after_required: bool  # the variable is declared non-null
    selection: Compiled
    # The same selection read straight from a bus message's payload, when the live field
    # says how (`api.live.payload`) for every field selected; else None.
    direct: Compiled | None = None

    def cursor(self, variables: Mapping[str, Any] | None) -> tuple[bool, str | None]:
        """(True, `after`) from the variables; (False, None) when they do not fit its type
        (the executor then answers with the exact coercion error)."""
        if self.after_variable is None:
            return True, self.after
        value = (variables or {}).get(self.after_variable)
        if value is None:
            return not self.after_required, None
        return isinstance(value, str), value if isinstance(value, str) else None

    def data(self, source: Any) -> str:
        """The `payload` of a `next` message for this event, as JSON."""
        return f'{{"data":{{{to_json(self.key)}:{to_json(_complete(self.selection, source))}}}}}'

    def direct_data(self, message: BusMessage) -> str:
        """`data` for the message's event without building it (needs `direct`)."""
        assert self.direct is not None
        return f'{{"data":{{{to_json(self.key)}:{to_json(_complete(self.direct, message))}}}}}'


def _complete(selection: Compiled, source: Any) -> dict[str, Any]:
    return {key: finish(read(source)) for key, read, finish in selection}


class Plans:
    """Plans by document text and operation name; None for a document that gets none."""

    def __init__(self, schema: Schema, live_fields: Mapping[str, object], size: int = 256) -> None:
        self.schema = schema
        self.live_fields = live_fields
        self.size = size
        self._cache: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()
        rules: list[Any] = list(specified_rules)
        self.max_tokens: int | None = None
        for extension in schema.get_extensions():
            if isinstance(extension, AddValidationRules):
                rules.extend(extension.validation_rules)
            if isinstance(extension, MaxTokensLimiter):
                self.max_tokens = extension.max_token_count
        self.rules = tuple(rules)

    def get(self, query: str, operation_name: str | None) -> Plan | None:
        key = (query, operation_name)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        plan = self._compile(query, operation_name)
        self._cache[key] = plan
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return plan

    def _compile(self, query: str, operation_name: str | None) -> Plan | None:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError:
            return None
        if validate_document(self.schema._schema, document, self.rules):
            return None
        try:
            return _Compiler(self, document).plan(operation_name)
        except _NoPlan:
            return None


class _Compiler:
    def __init__(self, plans: Plans, document: DocumentNode) -> None:
        self.schema = plans.schema
        self.live_fields = plans.live_fields
        # While compiling the direct selection: the live field's payload readers.
        self.payload: PayloadReaders | None = None
        definitions = document.definitions
        self.operations = [d for d in definitions if isinstance(d, OperationDefinitionNode)]
        self.fragments = {
            d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)
        }

    def plan(self, operation_name: str | None) -> Plan:
        found = [
            o
            for o in self.operations
            if operation_name is None or (o.name is not None and o.name.value == operation_name)
        ]
        if len(found) != 1 or found[0].operation != OperationType.SUBSCRIPTION:
            raise _NoPlan
        operation = found[0]
        if operation.directives:
            raise _NoPlan
        root_type = self.schema._schema.subscription_type
        assert root_type is not None
        fields = self._collect(operation.selection_set, root_type.name)
        if len(fields) != 1:
            raise _NoPlan
        ((key, nodes),) = fields.items()
        node = nodes[0]
        name = node.name.value
        if name not in self.live_fields or len(nodes) != 1:
            raise _NoPlan
        after, variable = self._after(node)
        # Validation saw to it that the only variable, if any, is the one `after` reads.
        required = False
        for definition in operation.variable_definitions or ():
            if definition.default_value is not None or definition.directives:
                raise _NoPlan
            required = isinstance(definition.type, NonNullTypeNode)
        field_type = root_type.fields[name].type
        selection = self._selection(nodes, field_type)
        return Plan(name, key, after, variable, required, selection, self._direct(name, nodes))

    def _direct(self, name: str, nodes: list[FieldNode]) -> Compiled | None:
        self.payload = getattr(self.live_fields[name], "payload", None)
        if self.payload is None:
            return None
        root_type = self.schema._schema.subscription_type
        assert root_type is not None
        try:
            return self._selection(nodes, root_type.fields[name].type)
        except _NoPlan:
            return None
        finally:
            self.payload = None

    def _after(self, node: FieldNode) -> tuple[str | None, str | None]:
        after: str | None = None
        variable: str | None = None
        for argument in node.arguments or ():
            if argument.name.value != "after":
                raise _NoPlan
            value = argument.value
            if isinstance(value, StringValueNode):
                after = value.value
            elif isinstance(value, VariableNode):
                variable = value.name.value
            elif not isinstance(value, NullValueNode):
                raise _NoPlan
        return after, variable

    def _collect(
        self, selection_set: SelectionSetNode, type_name: str
    ) -> dict[str, list[FieldNode]]:
        """The fields selected on an object type, by response key, fragments flattened."""
        fields: dict[str, list[FieldNode]] = {}
        for selection in selection_set.selections:
            if selection.directives:
                raise _NoPlan
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
                continue
            condition: str | None
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                if fragment.directives:
                    raise _NoPlan
                condition, inner = fragment.type_condition.name.value, fragment.selection_set
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition = (
                    selection.type_condition.name.value if selection.type_condition else None
                )
                inner = selection.selection_set
            if condition not in (None, type_name):
                raise _NoPlan  # an interface or union condition: leave it to the executor
            for key, nodes in self._collect(inner, type_name).items():
                fields.setdefault(key, []).extend(nodes)
        return fields

    def _selection(self, nodes: list[FieldNode], output: GraphQLOutputType) -> Compiled:
        object_type = _named(output)
        if not isinstance(object_type, GraphQLObjectType):
            raise _NoPlan
        definition = self.schema.get_type_by_name(object_type.name)
        if not isinstance(definition, StrawberryObjectDefinition):
            raise _NoPlan
        merged = SelectionSetNode(
            selections=tuple(
                s for n in nodes if n.selection_set for s in n.selection_set.selections
            )
        )
        compiled: list[tuple[str, Reader, Finish]] = []
        for key, fields in self._collect(merged, object_type.name).items():
            name = fields[0].name.value
            if any(f.arguments for f in fields):
                raise _NoPlan
            if name == "__typename":
                typename = object_type.name
                compiled.append((key, _constant(typename), _same))
                continue
            field_type = object_type.fields[name].type
            read = self._reader(definition, object_type.name, name)
            compiled.append((key, read, self._finish(fields, field_type)))
        return tuple(compiled)

    def _reader(self, definition: StrawberryObjectDefinition, type_name: str, name: str) -> Reader:
        converter = self.schema.config.name_converter
        for field in definition.fields:
            if is_private(field.type) or converter.get_graphql_name(field) != name:
                continue
            sealed_id = field.extensions and all(isinstance(e, Sealed) for e in field.extensions)
            if field.permission_classes or (field.extensions and not sealed_id) or field.directives:
                raise _NoPlan
            node_id = field.python_name == "_id" and _plain_node(definition.origin)
            if self.payload is not None and (node_id or not (field.base_resolver or sealed_id)):
                read = self.payload.types.get(type_name, {}).get(name)
                if read is None:
                    raise _NoPlan
                return _sealing(type_name, read) if node_id else read
            if field.base_resolver is None and not sealed_id:
                return attrgetter(field.python_name)
            if node_id:
                return _sealing(type_name, attrgetter(definition.origin.resolve_id_attr()))
            raise _NoPlan
        raise _NoPlan

    def _finish(self, fields: list[FieldNode], output: GraphQLOutputType) -> Finish:
        inner = output.of_type if isinstance(output, GraphQLNonNull) else output
        if isinstance(inner, GraphQLList):
            item = self._finish(fields, inner.of_type)
            return lambda value: None if value is None else [item(v) for v in value]
        if isinstance(inner, GraphQLObjectType):
            selection = self._selection(fields, inner)
            return lambda value: None if value is None else _complete(selection, value)
        coerce = getattr(inner, "coerce_output_value", None)
        if coerce is None:
            raise _NoPlan
        plain = _PLAIN.get(getattr(inner, "name", ""))
        if plain is not None:
            # What the scalar's coercion would return anyway, without the call.
            kind, fits = plain
            return lambda v: v if type(v) is kind and fits(v) else None if v is None else coerce(v)
        return lambda value: None if value is None else coerce(value)


_PLAIN: dict[str, tuple[type, Callable[[Any], bool]]] = {
    "Int": (int, lambda v: -(2**31) <= v < 2**31),
    "String": (str, lambda v: True),
    "Boolean": (bool, lambda v: True),
}


def _named(output: GraphQLOutputType) -> Any:
    while isinstance(output, GraphQLNonNull | GraphQLList):
        output = output.of_type
    return output


def _plain_node(origin: type) -> bool:
    """A relay Node whose id is its NodeID attribute, as relay.Node resolves it by default."""
    if not (isinstance(origin, type) and issubclass(origin, relay.Node)):
        return False
    return (
        origin.resolve_id.__func__ is relay.Node.resolve_id.__func__  # type: ignore[attr-defined]
        and origin.resolve_typename.__func__ is relay.Node.resolve_typename.__func__  # type: ignore[attr-defined]
    )


def _sealing(type_name: str, read_row: Reader) -> Reader:
    """The node's id sealed as the executor's `Sealed` extension would (the installation's
    key), through the cache of sealed ids."""
    return lambda source: seal(type_name, str(read_row(source)))


def _constant(value: str) -> Reader:
    return lambda _: value


def _same(value: Any) -> Any:
    return value
