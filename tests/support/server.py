"""A real uvicorn server on 127.0.0.1, run in a background thread, and a GraphQL client."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.settings import Settings
from loyalty.core.clock import Clock


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerHandle:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    @property
    def ws_url(self) -> str:
        return self.graphql_url.replace("http://", "ws://")

    def client(self, token: str | None = None) -> GraphQLClient:
        return GraphQLClient(self.graphql_url, token)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_server(settings: Settings, clock: Clock) -> ServerHandle:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, clock=clock),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return ServerHandle(f"http://127.0.0.1:{port}", server, thread)


class GraphQLClient:
    """Posts operations over real HTTP, as the app and the tills do."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.token = token
        self.http = httpx.Client(timeout=30)

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        headers = {}
        bearer = token or self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation_name:
            body["operationName"] = operation_name
        response = self.http.post(self.url, json=body, headers=headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def data(
        self, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        """The `data` of a response that must have no errors."""
        result = self.post(query, variables, **kw)
        assert not result.get("errors"), result["errors"]
        return dict(result["data"])

    def error_codes(
        self, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> list[str]:
        result = self.post(query, variables, **kw)
        return [e.get("extensions", {}).get("code", "") for e in result.get("errors") or []]
