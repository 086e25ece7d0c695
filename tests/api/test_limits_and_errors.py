"""Query limits, introspection, error masking, the HTTP edge and the health endpoints."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLError, get_introspection_query, parse
from graphql.language import FieldNode, OperationDefinitionNode, VariableDefinitionNode
from sqlalchemy.engine import make_url

from api.core.errors import ApiError, ApiErrorCode, should_mask
from api.schema import build_schema
from loyalty.core.clock import FixedClock
from tests.api.helpers import TcpProxy, api_key
from tests.conftest import _migrate
from tests.conftest import make_settings as settings_for
from tests.support.flows import ME, SIGN_IN, SIGN_UP, STRONG_PASSWORD, sign_up
from tests.support.server import ServerHandle, start_server

MEMBERS_3 = "{ members(first: 1) { edges { node { id } } } }"
MEMBERS_4 = "{ members(first: 1) { edges { node { card { memberNumber } } } } }"


def messages(result: dict[str, Any]) -> list[str]:
    return [e["message"] for e in result.get("errors") or []]


@pytest.fixture(scope="module")
def locked_down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerHandle, str]]:
    """A server configured as for production: tight limits, no introspection, no GraphiQL."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('locked') / 'trouw.db'}"
    asyncio.run(_migrate(url))
    settings = settings_for(
        url,
        max_query_depth=3,
        max_aliases=3,
        max_tokens=200,
        introspection=False,
        graphiql=False,
        metrics_token="scrape-secret",
    )
    handle = start_server(settings, FixedClock(datetime.now(UTC)))
    try:
        yield handle, url
    finally:
        handle.stop()


@pytest.fixture
def locked_admin(locked_down: tuple[ServerHandle, str]) -> Any:
    handle, url = locked_down
    return handle.client(api_key(url, ["admin"], datetime.now(UTC)))


# -- depth, aliases, tokens -------------------------------------------------------------------


def test_depth_at_the_limit_runs_one_more_is_refused(locked_admin: Any) -> None:
    assert locked_admin.data(MEMBERS_3)["members"]["edges"] == []
    result = locked_admin.post(MEMBERS_4)
    assert result["data"] is None
    assert messages(result) == ["'anonymous' exceeds maximum operation depth of 3"]


def test_depth_hidden_in_fragments_still_counts(locked_admin: Any) -> None:
    query = """
    query Deep { ...Outer }
    fragment Outer on Query { members(first: 1) { edges { ...Inner } } }
    fragment Inner on MemberEdge { node { card { memberNumber } } }
    """
    result = locked_admin.post(query)
    assert result["data"] is None
    assert messages(result) == ["'Deep' exceeds maximum operation depth of 3"]


def test_default_depth_limit_on_the_default_server(server: ServerHandle) -> None:
    # The schema has no cycles deep enough, so nonsense fields make the depth; the limit is
    # checked on the document along with the other validation rules.
    deep = "{ me " + "{ a " * 13 + "}" * 14
    result = server.client().post(deep)
    assert result["data"] is None
    assert "'anonymous' exceeds maximum operation depth of 12" in messages(result)


def aliases(n: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(n)) + " }"


def test_aliases_are_bounded(server: ServerHandle, locked_admin: Any) -> None:
    client = server.client()
    assert len(client.data(aliases(30))) == 30
    result = client.post(aliases(31))
    assert result["data"] is None
    assert messages(result) == ["31 aliases found. Allowed: 30"]
    assert len(locked_admin.data(aliases(3))) == 3
    assert messages(locked_admin.post(aliases(4))) == ["4 aliases found. Allowed: 3"]


def many_tokens(n: int) -> str:
    """A mutation of about `n` tokens (each string in the list is one)."""
    items = ", ".join(['"x"'] * n)
    return f"mutation {{ updateProfile(input: {{interests: [{items}]}}) {{ __typename }} }}"


def test_tokens_are_bounded(server: ServerHandle, locked_admin: Any) -> None:
    client = server.client()
    # Under the limit the document is parsed and run (its list refused as too long).
    under = client.post(many_tokens(3950))
    assert under["data"] == {"updateProfile": {"__typename": "UpdateProfilePayload"}}
    result = client.post(many_tokens(4000))
    assert result["data"] is None
    assert messages(result) == [
        "Syntax Error: Document contains more than 4000 tokens. Parsing aborted."
    ]
    assert locked_admin.error_codes(many_tokens(150)) == ["FORBIDDEN"]
    assert messages(locked_admin.post(many_tokens(200))) == [
        "Syntax Error: Document contains more than 200 tokens. Parsing aborted."
    ]


# -- introspection, suggestions, GraphiQL -----------------------------------------------------

INTROSPECTION = get_introspection_query()


def test_introspection_works_by_default(server: ServerHandle) -> None:
    schema = server.client().data(INTROSPECTION)["__schema"]
    names = {t["name"] for t in schema["types"]}
    assert {"Member", "Consent", "UpdateProfileInput", "MemberConnection"} <= names
    assert server.client().data('{ __type(name: "Member") { name } }')["__type"]["name"] == (
        "Member"
    )


def test_introspection_is_refused_when_switched_off(locked_admin: Any) -> None:
    for query in [
        INTROSPECTION,
        "{ __schema { types { name } } }",
        '{ __type(name: "Member") { fields { name } } }',
        "{ members(first: 1) { __typename } __schema { queryType { name } } }",
    ]:
        result = locked_admin.post(query)
        assert result["data"] is None, query
        assert any("introspection" in m for m in messages(result)), result
    # __typename is not introspection: clients need it for unions and interfaces.
    assert locked_admin.data("{ __typename }") == {"__typename": "Query"}


async def test_introspection_switch_on_the_schema_itself() -> None:
    url = "sqlite+aiosqlite:///unused.db"
    on = await build_schema(settings_for(url)).execute(INTROSPECTION)
    assert on.errors is None
    assert on.data is not None and on.data["__schema"]["queryType"]["name"] == "Query"
    off = await build_schema(settings_for(url, introspection=False)).execute(INTROSPECTION)
    assert off.data is None
    assert off.errors and "introspection has been disabled" in off.errors[0].message


TYPOS = [
    ("{ mee { email } }", "mee", "me"),
    ("{ me { emial } }", "emial", "email"),
    (
        "mutation { setConsent(input: {channel: EMAL, granted: true}) { consent { granted } } }",
        "EMAL",
        "EMAIL",
    ),
    (
        "mutation { setConsent(inptu: {channel: EMAIL, granted: true}) { __typename } }",
        "inptu",
        "input",
    ),
    (
        "mutation { setConsent(input: {chanel: EMAIL, granted: true}) { __typename } }",
        "chanel",
        "channel",
    ),
    ('{ node(id: "x") { ... on Membr { id } } }', "Membr", "Member"),
]


def test_suggestions_are_given_by_default(server: ServerHandle) -> None:
    client = server.client()
    for query, _, right in TYPOS:
        found = messages(client.post(query))
        assert any(
            "Did you mean" in m and f"'{right}'" in m.split("Did you mean")[1] for m in found
        ), found


def test_suggestions_are_hidden_without_introspection(
    locked_down: tuple[ServerHandle, str],
) -> None:
    client = locked_down[0].client()
    for query, typo, _ in TYPOS:
        found = messages(client.post(query))
        assert not any("Did you mean" in m for m in found), found
        # Only the suggestion goes: the client still learns what was wrong with its query.
        assert any(f"'{typo}'" in m for m in found), found


def test_suggestions_in_variable_errors_are_hidden_without_introspection(
    locked_down: tuple[ServerHandle, str],
) -> None:
    query = "mutation($i: SetConsentInput!) { setConsent(input: $i) { __typename } }"
    result = locked_down[0].client().post(query, {"i": {"channel": "EMAL", "granted": True}})
    found = messages(result)
    assert len(found) == 1
    assert "EMAL" in found[0]
    assert "Did you mean" not in found[0]
    assert "EMAIL" not in found[0]


def test_graphiql_is_served_by_default_and_can_be_switched_off(
    server: ServerHandle, locked_down: tuple[ServerHandle, str]
) -> None:
    html = {"accept": "text/html"}
    on = httpx.get(server.graphql_url, headers=html)
    assert on.status_code == 200
    assert "graphiql" in on.text.lower()
    off = httpx.get(locked_down[0].graphql_url, headers=html)
    assert off.status_code == 404
    assert "graphiql" not in off.text.lower()


# -- masking ----------------------------------------------------------------------------------


def _field_node() -> FieldNode:
    operation = parse("{ me { id } }").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    field = operation.selection_set.selections[0]
    assert isinstance(field, FieldNode)
    return field


def _variable_node() -> VariableDefinitionNode:
    operation = parse("query($d: Date) { __typename }").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return operation.variable_definitions[0]


def test_should_mask_hides_unexpected_exceptions_only() -> None:
    field = _field_node()
    # A resolver that crashed: masked.
    crash = GraphQLError("db password is hunter2", field, path=["me"], original_error=KeyError())
    assert should_mask(crash)
    # An exception outside any field (e.g. in an extension): masked too.
    assert should_mask(GraphQLError("boom", original_error=RuntimeError("internal detail")))
    # Errors meant for the client: kept.
    assert not should_mask(GraphQLError("Syntax Error: Unexpected Name 'x'."))
    assert not should_mask(GraphQLError("Cannot query field 'x' on type 'Query'.", field))
    refused = ApiError(ApiErrorCode.UNAUTHENTICATED, "Sign in to see this")
    assert not should_mask(GraphQLError(str(refused), field, path=["me"], original_error=refused))
    inner = GraphQLError("Value 'EMAL' does not exist in 'ConsentChannel' enum.")
    assert not should_mask(GraphQLError("Variable '$i' …", original_error=inner))
    # A variable whose value does not fit its type (the scalar raised ValueError).
    bad_date = GraphQLError(
        "Variable '$d' got invalid value 'x'; Invalid isoformat string: 'x'",
        _variable_node(),
        original_error=ValueError("Invalid isoformat string: 'x'"),
    )
    assert not should_mask(bad_date)


def test_a_malformed_variable_is_the_clients_error_not_an_unexpected_one(
    server: ServerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    client = server.client()
    token = sign_up(client, "datum@example.com")["session"]["accessToken"]
    query = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { __typename } }"
    with caplog.at_level(logging.ERROR, logger="trouw.api"):
        result = client.post(query, {"i": {"birthDate": "17-05-1990"}}, token=token)
        literal = client.post(
            'mutation { updateProfile(input: {birthDate: "gisteren"}) { __typename } }',
            token=token,
        )
        count = client.post("query($n: Int) { members(first: $n) { __typename } }", {"n": "x"})
    for found in (messages(result), messages(literal), messages(count)):
        assert len(found) == 1
        assert "Unexpected error" not in found[0]
    assert "birthDate" in messages(result)[0]
    assert "Date" in messages(literal)[0]
    assert "Int" in messages(count)[0]
    assert not [r for r in caplog.records if r.name == "trouw.api"]


# -- the HTTP edge ----------------------------------------------------------------------------


def test_bodies_that_are_not_a_graphql_request_are_400(server: ServerHandle) -> None:
    bodies = [
        b"{not json",
        b"",
        b"1",
        b'"{ __typename }"',
        b"null",
        b"{}",
        b"[]",
        b'{"query": 1}',
        b'{"query": "{ __typename }", "variables": 3}',
    ]
    with httpx.Client() as http:
        found = {
            body: http.post(
                server.graphql_url, content=body, headers={"content-type": "application/json"}
            ).status_code
            for body in bodies
        }
    assert found == dict.fromkeys(bodies, 400)


def test_a_request_body_over_1_mib_is_413(server: ServerHandle) -> None:
    prefix, suffix = b'{"query": "{ __typename }", "variables": {"pad": "', b'"}}'
    fits = prefix + b"x" * (1_048_576 - len(prefix) - len(suffix)) + suffix
    assert len(fits) == 1_048_576
    ok = httpx.post(server.graphql_url, content=fits, headers={"content-type": "application/json"})
    assert ok.status_code == 200
    assert ok.json() == {"data": {"__typename": "Query"}}

    too_big = fits[: -len(suffix)] + b"x" + suffix
    refused = httpx.post(
        server.graphql_url, content=too_big, headers={"content-type": "application/json"}
    )
    assert refused.status_code == 413


def test_a_chunked_body_over_1_mib_is_413(server: ServerHandle) -> None:
    def chunks(total: int) -> Iterator[bytes]:
        yield b'{"query": "{ __typename }", "variables": {"pad": "'
        for _ in range(total // 65536):
            yield b"x" * 65536
        yield b'"}}'

    with httpx.Client() as http:
        small = http.post(
            server.graphql_url,
            content=chunks(65536 * 4),
            headers={"content-type": "application/json"},
        )
        assert small.request.headers.get("transfer-encoding") == "chunked"
        assert small.status_code == 200
        assert small.json() == {"data": {"__typename": "Query"}}
        big = http.post(
            server.graphql_url,
            content=chunks(65536 * 17),
            headers={"content-type": "application/json"},
        )
        assert big.status_code == 413, big.text


def test_queries_over_get_are_refused(server: ServerHandle) -> None:
    response = httpx.get(server.graphql_url, params={"query": "{ __typename }"})
    assert response.status_code in (400, 405)


def test_mutations_over_get_never_run(server: ServerHandle) -> None:
    mutation = (
        f'mutation {{ signUp(input: {{email: "get@example.com", password: "{STRONG_PASSWORD}"}}) '
        "{ member { id } userErrors { code } } }"
    )
    for params in (
        {"query": mutation},
        {"query": mutation, "operationName": "x"},
        {"query": "mutation M" + mutation.removeprefix("mutation"), "operationName": "M"},
    ):
        response = httpx.get(server.graphql_url, params=params)
        assert response.status_code in (400, 405), response.text
    client = server.client()
    signed_in = client.data(
        SIGN_IN, {"input": {"email": "get@example.com", "password": STRONG_PASSWORD}}
    )
    assert signed_in["signIn"]["session"] is None
    # The address is still free: the GET created no member.
    created = client.data(
        SIGN_UP, {"input": {"email": "get@example.com", "password": STRONG_PASSWORD}}
    )
    assert created["signUp"]["userErrors"] == []


# -- health -----------------------------------------------------------------------------------


def test_healthz_and_readyz(server: ServerHandle) -> None:
    health = httpx.get(f"{server.url}/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = httpx.get(f"{server.url}/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_readyz_reports_a_database_outage_and_recovers(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The server reaches PostgreSQL through a proxy that the test then takes away: a real
    outage after start-up. (SQLite is a file that the process keeps open; it cannot become
    unreachable under a running server, so this is a PostgreSQL test.)"""
    real = make_url(database_url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    handle = start_server(settings_for(proxied), FixedClock(datetime.now(UTC)))
    try:
        client = handle.client()
        assert httpx.get(f"{handle.url}/readyz").status_code == 200
        token = sign_up(client, "outage@example.com")["session"]["accessToken"]

        proxy.stop()
        down = httpx.get(f"{handle.url}/readyz")
        assert down.status_code == 503
        assert down.json() == {"status": "unavailable", "reason": "database"}
        # Liveness does not depend on the database: restarting would not help.
        assert httpx.get(f"{handle.url}/healthz").status_code == 200

        # A resolver that meets the outage fails with a masked, logged error.
        with caplog.at_level(logging.ERROR, logger="trouw.api"):
            result = client.post(
                SIGN_IN, {"input": {"email": "outage@example.com", "password": STRONG_PASSWORD}}
            )
        assert result["data"] is None
        assert result["errors"] == [
            {
                "message": "Unexpected error.",
                "locations": [{"line": 3, "column": 3}],
                "path": ["signIn"],
            }
        ]
        assert any(r.name == "trouw.api" and r.exc_info for r in caplog.records)

        proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432, port=proxy.port)
        back = httpx.get(f"{handle.url}/readyz")
        assert (back.status_code, back.json()) == (200, {"status": "ready"})
        assert client.data(ME, token=token)["me"]["email"] == "outage@example.com"
    finally:
        handle.stop()
        proxy.stop()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_startup_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(RuntimeError, match="did not start"):
        start_server(settings_for(url), FixedClock(datetime.now(UTC)))


async def test_a_document_is_validated_once_with_the_limits_on() -> None:
    """The limits' rules are the same objects on every request, so the validation cache hits
    (built per request, they made it miss every time)."""
    from strawberry.extensions.validation_cache import _get_validate_cache

    from api.schema import build_schema
    from api.settings import Settings

    schema = build_schema(Settings(_env_file=None, max_query_depth=5, max_aliases=5))
    cache = _get_validate_cache(256)
    document = "query Once { __typename }"
    await schema.execute(document)
    before = cache.cache_info()
    for _ in range(3):
        result = await schema.execute(document)
        assert result.errors is None
    after = cache.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (3, 0)


def test_metrics_need_the_configured_token(locked_down: tuple[ServerHandle, str]) -> None:
    handle, _ = locked_down
    assert httpx.get(f"{handle.url}/metrics").status_code == 401
    wrong = httpx.get(f"{handle.url}/metrics", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    scraped = httpx.get(f"{handle.url}/metrics", headers={"authorization": "Bearer scrape-secret"})
    assert scraped.status_code == 200 and "trouw_graphql_requests_total" in scraped.text
