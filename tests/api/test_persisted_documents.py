"""Persisted documents: the contract's operations by their hash, automatic persisted queries,
and a server that runs registered documents only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from strawberry.http import GraphQLRequestData

from api.core.persisted import (
    PersistedDocuments,
    PersistedRefusal,
    Refused,
    contract_manifest,
    read_manifest,
    sha256_of,
)
from api.wiring import CONTRACT_DOCUMENTS
from tests.conftest import CONTRACT_DIR
from tests.contract.operations import operation
from tests.support.flows import sign_up
from tests.support.server import ServerHandle

PROFILE = operation("member-app/profile.graphql", "Profile")


def _post(server: ServerHandle, body: dict[str, Any], token: str) -> dict[str, Any]:
    response = httpx.post(
        server.graphql_url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _persisted(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_of(text)}}


def _codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


def test_the_shipped_manifest_is_the_contract() -> None:
    shipped = json.loads(CONTRACT_DOCUMENTS.read_text(encoding="utf-8"))
    assert shipped == contract_manifest(CONTRACT_DIR), "run `trouw export-persisted-documents`"
    assert sha256_of(PROFILE) in read_manifest(CONTRACT_DOCUMENTS)


def test_documents_by_hash_over_http(server: ServerHandle) -> None:
    client = server.client()
    token = sign_up(client, "persisted@example.com", firstName="Pim")["session"]["accessToken"]
    # A contract operation by its hash alone.
    known = _post(server, {"extensions": _persisted(PROFILE)}, token)
    assert known["data"]["me"]["firstName"] == "Pim"

    # Automatic persisted queries: unknown hash, then hash with text, then the hash alone.
    text = "query Mine { me { firstName } }"
    missing = _post(server, {"extensions": _persisted(text)}, token)
    assert _codes(missing) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert missing["errors"][0]["message"] == "PersistedQueryNotFound"
    learned = _post(server, {"query": text, "extensions": _persisted(text)}, token)
    assert learned["data"] == {"me": {"firstName": "Pim"}}
    again = _post(server, {"extensions": _persisted(text)}, token)
    assert again["data"] == {"me": {"firstName": "Pim"}}

    forged = _post(server, {"query": "{ me { id } }", "extensions": _persisted(text)}, token)
    assert _codes(forged) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    odd = _post(server, {"extensions": {"persistedQuery": {"version": 2}}}, token)
    assert _codes(odd) == ["PERSISTED_QUERY_INVALID"]


def _request(query: str | None, extensions: dict[str, Any] | None = None) -> GraphQLRequestData:
    return GraphQLRequestData(
        query=query, variables=None, operation_name=None, extensions=extensions
    )


def test_registered_only_runs_nothing_else() -> None:
    registered = read_manifest(CONTRACT_DOCUMENTS)
    strict = PersistedDocuments(registered, only_registered=True)
    by_hash = strict.resolve(_request(None, _persisted(PROFILE)))
    assert not isinstance(by_hash, Refused) and by_hash.query == PROFILE
    assert strict.resolve(_request(PROFILE)) == _request(PROFILE)  # registered text is fine
    adhoc = "{ me { id } }"
    for request in (
        _request(adhoc),
        _request(adhoc, _persisted(adhoc)),
        _request(None, _persisted(adhoc)),
    ):
        assert strict.resolve(request) == Refused(PersistedRefusal.PERSISTED_QUERY_REQUIRED)
    # Nor did trying teach it anything.
    assert strict.resolve(_request(None, _persisted(adhoc))) == Refused(
        PersistedRefusal.PERSISTED_QUERY_REQUIRED
    )


def test_a_manifest_whose_ids_are_not_the_hashes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "brand.json"
    body = "query Brand { me { id } }"
    good = {"format": "apollo-persisted-query-manifest", "version": 1, "operations": []}
    good["operations"] = [{"id": sha256_of(body), "name": "Brand", "type": "query", "body": body}]
    path.write_text(json.dumps(good))
    assert read_manifest(path) == {sha256_of(body): body}
    good["operations"][0]["id"] = "0" * 64
    path.write_text(json.dumps(good))
    with pytest.raises(ValueError, match="not the SHA-256"):
        read_manifest(path)
    path.write_text("[]")
    with pytest.raises(ValueError, match="not a persisted query manifest"):
        read_manifest(path)
