"""Property-based fuzzing of the GraphQL API (hypothesis-graphql): generated queries and
mutations, valid and one schema violation away, with a member token and with a till key,
against a running server on SQLite and PostgreSQL. Whatever comes in: no 5xx, no
"Unexpected error.", no traceback in the server's log.

The run is derandomised (the same requests every time) and bounded by `EXAMPLES`, so the suite
stays quick: about 2,400 requests over both backends.
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

from api.schema import schema_sdl
from loyalty.core.clock import FixedClock
from tests.api.helpers import api_key
from tests.support.data import install
from tests.support.flows import sign_up
from tests.support.server import ServerHandle

EXAMPLES = 150  # per backend, principal and kind of operation: 8 runs of it per backend

TEXT = st.text(max_size=40)
SCALARS = {
    "Date": st.one_of(st.dates().map(lambda d: d.isoformat()), TEXT).map(nodes.String),
    "DateTime": st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()), TEXT
    ).map(nodes.String),
    "Time": st.one_of(st.times().map(lambda t: t.isoformat()), TEXT).map(nodes.String),
    "Decimal": st.one_of(st.decimals(allow_nan=True, allow_infinity=True).map(str), TEXT).map(
        nodes.String
    ),
    "JSON": st.one_of(TEXT.map(nodes.String), st.integers(-(10**9), 10**9).map(nodes.Int)),
}
# Signing out would end the fuzzing member's session and leave the rest of the run anonymous.
MUTATIONS = [
    name
    for name in graphql.build_schema(schema_sdl()).mutation_type.fields  # type: ignore[union-attr]
    if name != "signOut"
]
SDL = schema_sdl()


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _describe(record: logging.LogRecord) -> str:
    trace = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
    return f"{record.name}: {record.getMessage()}\n{trace[-600:]}"


@pytest.fixture
def principals(server: ServerHandle, server_clock: FixedClock, database_url: str) -> Any:
    install(database_url)
    member = sign_up(server.client(), "fuzz@example.com", firstName="Fuzz")
    till = api_key(database_url, ["pos"], server_clock.now(), "fuzz till")
    return {"member": member["session"]["accessToken"], "till": till}


def _fuzz(
    server: ServerHandle, token: str, strategy: st.SearchStrategy[Any], errors: _Errors
) -> None:
    http = httpx.Client(timeout=30, headers={"authorization": f"Bearer {token}"})

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one(document: str) -> None:
        response = http.post(server.graphql_url, json={"query": document})
        assert response.status_code < 500, (document, response.text)
        assert "Unexpected error." not in response.text, (document, response.text)
        logged = [_describe(r) for r in errors.records]
        errors.records.clear()
        assert logged == [], (document, logged)

    try:
        one()
    finally:
        http.close()


@pytest.mark.parametrize("who", ["member", "till"])
@pytest.mark.parametrize("kind", ["queries", "mutations"])
def test_generated_operations_never_crash(
    server: ServerHandle, principals: Any, who: str, kind: str
) -> None:
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    try:
        for mode in (Mode.POSITIVE, Mode.NEGATIVE):
            if kind == "queries":
                strategy = queries(SDL, custom_scalars=SCALARS, mode=mode)
            else:
                strategy = mutations(SDL, fields=MUTATIONS, custom_scalars=SCALARS, mode=mode)
            _fuzz(server, principals[who], strategy, errors)
    finally:
        logging.getLogger().removeHandler(errors)
    assert [_describe(r) for r in errors.records] == []
