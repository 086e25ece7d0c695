"""Splitting a file of GraphQL operations into the documents clients send: each named
operation with the fragments it uses (directly or through other fragments), in file order.

The contract tests send these, and the persisted documents are their hashes, so both agree on
the text byte for byte."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    Node,
    OperationDefinitionNode,
    Visitor,
    parse,
    print_ast,
    visit,
)


@dataclass(frozen=True)
class OperationDocument:
    name: str
    kind: str  # query, mutation or subscription
    document: DocumentNode

    @property
    def text(self) -> str:
        return print_ast(self.document)


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.names.add(node.name.value)


def _used(node: Node, fragments: dict[str, FragmentDefinitionNode]) -> list[str]:
    """The fragments `node` spreads, directly or through other fragments, in file order."""
    seen: set[str] = set()
    pending = [node]
    while pending:
        spreads = _Spreads()
        visit(pending.pop(), spreads)
        for name in spreads.names - seen:
            seen.add(name)
            pending.append(fragments[name])
    return [name for name in fragments if name in seen]


def operations_of(source: str) -> list[OperationDocument]:
    """Every named operation of a file, each as its own document."""
    document = parse(source)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return [
        OperationDocument(
            definition.name.value,
            definition.operation.value,
            DocumentNode(
                definitions=(definition, *(fragments[n] for n in _used(definition, fragments)))
            ),
        )
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode) and definition.name
    ]
