"""GraphQL over HTTP: the `application/graphql-response+json` response type with 4xx for
requests that fail before execution, `application/json` with 200 for older clients, and the
graphql-http server audit with no errors and no warnings."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.core.media import accepts_graphql_response
from tests.conftest import IN_CI
from tests.support.server import ServerHandle

GRAPHQL_RESPONSE = "application/graphql-response+json"
AUDIT = Path(__file__).parent / "node" / "audit.mjs"
GRAPHQL_HTTP_VERSION = "1.23.1"


def post(server: ServerHandle, body: Any, accept: str | None) -> httpx.Response:
    headers = {"accept": accept} if accept else {}
    return httpx.post(server.graphql_url, json=body, headers=headers, timeout=10)


@pytest.mark.parametrize(
    "body",
    [
        {"query": "{ me { id "},  # does not parse
        {"query": "{ noSuchField }"},  # does not validate
        {"query": "query ($n: Int!) { rewards(first: $n) { totalCount } }"},  # variable missing
    ],
    ids=["parse", "validation", "variables"],
)
def test_a_request_refused_before_execution_is_a_400_without_data(
    server: ServerHandle, body: dict[str, Any]
) -> None:
    response = post(server, body, f"{GRAPHQL_RESPONSE}, application/json;q=0.9")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    result = response.json()
    assert "data" not in result and result["errors"]
    # Older clients get what they always got.
    legacy = post(server, body, "application/json")
    assert legacy.status_code == 200
    assert legacy.headers["content-type"].startswith("application/json")
    assert legacy.json()["errors"]


def test_an_error_inside_a_field_is_a_result_not_a_refusal(server: ServerHandle) -> None:
    response = post(server, {"query": "{ me { id } }"}, GRAPHQL_RESPONSE)  # not signed in
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    result = response.json()
    assert "data" in result and result["errors"][0]["path"] == ["me"]


def test_accept_header_reading() -> None:
    assert accepts_graphql_response("application/graphql-response+json")
    assert accepts_graphql_response("application/json;q=0.9, Application/GraphQL-Response+JSON")
    assert not accepts_graphql_response("application/graphql-response+json;q=0")
    assert not accepts_graphql_response("application/json")
    assert not accepts_graphql_response(None)
    assert not accepts_graphql_response("*/*")


@pytest.fixture(scope="session")
def graphql_http(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The npm package `graphql-http`, installed for the audit (node and npm must be there)."""
    if not (shutil.which("node") and shutil.which("npm")):
        reason = "node and npm are needed for the graphql-http audit"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("graphql-http")
    shutil.copy(AUDIT, directory / "audit.mjs")
    subprocess.run(
        [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            f"graphql-http@{GRAPHQL_HTTP_VERSION}",
            "graphql@16",
        ],
        cwd=directory,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return directory


def test_the_graphql_http_audit_finds_nothing(server: ServerHandle, graphql_http: Path) -> None:
    audit = subprocess.run(
        ["node", "audit.mjs", server.graphql_url],
        cwd=graphql_http,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    outcome = json.loads(audit.stdout.strip().splitlines()[-1])
    assert outcome["findings"] == []
    assert (outcome["error"], outcome["warn"]) == (0, 0)
    assert outcome["ok"] >= 50
