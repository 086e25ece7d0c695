"""Persisted documents: operations known in advance, sent by their SHA-256 instead of their text.

Clients send Apollo's `persistedQuery` extension (`{"version": 1, "sha256Hash": "…"}`),
with or without the text. The documents registered at start-up (the contract's operations in
`persisted-documents.json`, and any manifests the brand adds) are always known; with
`persisted_only` they are the only documents accepted, so a production server runs nothing it
was not shipped with. Otherwise a client may register a document by sending its hash with its
text once (automatic persisted queries), kept in a bounded in-memory table.

A manifest is Apollo's persisted query manifest: `{"format": "apollo-persisted-query-manifest",
"version": 1, "operations": [{"id": sha256, "name", "type", "body"}]}`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from graphql import GraphQLError
from strawberry.http import GraphQLRequestData

from api.core.documents import OperationDocument, operations_of

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
_HASH = re.compile(r"[0-9a-f]{64}")
LEARNED_MAX = 1000


class PersistedRefusal(StrEnum):
    """Why a request's document was not run (the error's `extensions.code`)."""

    # Apollo clients answer this one by sending the text with the hash.
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
    PERSISTED_QUERY_INVALID = "PERSISTED_QUERY_INVALID"
    PERSISTED_QUERY_REQUIRED = "PERSISTED_QUERY_REQUIRED"  # persisted_only: not registered


MESSAGES = {
    PersistedRefusal.PERSISTED_QUERY_NOT_FOUND: "PersistedQueryNotFound",
    PersistedRefusal.PERSISTED_QUERY_HASH_MISMATCH: "The sha256Hash is not the hash of the query",
    PersistedRefusal.PERSISTED_QUERY_INVALID: "persistedQuery needs version 1 and a sha256Hash",
    PersistedRefusal.PERSISTED_QUERY_REQUIRED: "This server runs registered documents only",
}


@dataclass(frozen=True)
class Refused:
    reason: PersistedRefusal

    @property
    def message(self) -> str:
        return MESSAGES[self.reason]

    def error(self) -> GraphQLError:
        return GraphQLError(self.message, extensions={"code": str(self.reason)})


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def manifest(documents: Iterable[OperationDocument]) -> dict[str, Any]:
    """A manifest of these documents."""
    operations = [
        {"id": sha256_of(op.text), "name": op.name, "type": op.kind, "body": op.text}
        for op in documents
    ]
    return {"format": MANIFEST_FORMAT, "version": 1, "operations": operations}


def contract_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of every operation in the `.graphql` files under `directory`."""
    return manifest(
        op
        for path in sorted(directory.rglob("*.graphql"))
        for op in operations_of(path.read_text(encoding="utf-8"))
    )


def read_manifest(path: Path) -> dict[str, str]:
    """hash → text of a manifest file; raises ValueError naming the file when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format is not {MANIFEST_FORMAT!r}")
        found = {str(op["id"]): str(op["body"]) for op in data["operations"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a persisted query manifest ({exc})") from None
    wrong = [h for h, text in found.items() if sha256_of(text) != h]
    if wrong:
        raise ValueError(f"{path}: id is not the SHA-256 of the body for {wrong[0]}")
    return found


class PersistedDocuments:
    def __init__(self, registered: Mapping[str, str], only_registered: bool = False) -> None:
        self.registered = dict(registered)
        self.only_registered = only_registered
        self._learned: OrderedDict[str, str] = OrderedDict()

    def resolve(self, data: GraphQLRequestData) -> GraphQLRequestData | Refused:
        """The request with its document's text, or why it is refused."""
        extension = (data.extensions or {}).get("persistedQuery")
        if extension is None:
            if self.only_registered and (
                data.query is None or sha256_of(data.query) not in self.registered
            ):
                return Refused(PersistedRefusal.PERSISTED_QUERY_REQUIRED)
            return data
        wanted = extension.get("sha256Hash") if isinstance(extension, dict) else None
        version = extension.get("version") if isinstance(extension, dict) else None
        if version != 1 or not isinstance(wanted, str) or not _HASH.fullmatch(wanted):
            return Refused(PersistedRefusal.PERSISTED_QUERY_INVALID)
        if data.query is not None:
            return self._with_text(data, wanted)
        text = self.registered.get(wanted) or self._learned.get(wanted)
        if text is None:
            if self.only_registered:
                return Refused(PersistedRefusal.PERSISTED_QUERY_REQUIRED)
            return Refused(PersistedRefusal.PERSISTED_QUERY_NOT_FOUND)
        return replace(data, query=text)

    def _with_text(self, data: GraphQLRequestData, wanted: str) -> GraphQLRequestData | Refused:
        assert data.query is not None
        if sha256_of(data.query) != wanted:
            return Refused(PersistedRefusal.PERSISTED_QUERY_HASH_MISMATCH)
        if wanted in self.registered:
            return data
        if self.only_registered:
            return Refused(PersistedRefusal.PERSISTED_QUERY_REQUIRED)
        self._learned[wanted] = data.query
        self._learned.move_to_end(wanted)
        while len(self._learned) > LEARNED_MAX:
            self._learned.popitem(last=False)
        return data
