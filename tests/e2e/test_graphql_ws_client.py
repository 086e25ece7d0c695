"""The npm `graphql-ws` client (the one Apollo Client's GraphQLWsLink wraps) against the lean
transport: it connects with the token in connection_params and receives the member's live
updates. Skipped, with the reason, where node or npm is missing or the packages cannot be
installed."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_live_transport import _offer, _row_id
from tests.contract.operations import operation
from tests.support.flows import sign_up
from tests.support.server import ServerHandle

CLIENT = Path(__file__).parent / "node"
# Installed once per machine, not per run: the packages are pinned in package.json.
CACHE = Path(os.environ.get("TROUW_NODE_CACHE", Path.home() / ".cache/trouw/graphql-ws-client"))


@pytest.fixture(scope="session")
def node_client() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("needs node and npm for the graphql-ws client")
    CACHE.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "subscribe.mjs"):
        shutil.copyfile(CLIENT / name, CACHE / name)
    if not (CACHE / "node_modules/graphql-ws").exists():
        installed = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--silent"],
            cwd=CACHE,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if installed.returncode != 0:
            pytest.skip(f"npm could not install graphql-ws: {installed.stderr.strip()[:300]}")
    return CACHE / "subscribe.mjs"


async def _line(process: asyncio.subprocess.Process, timeout: float = 10) -> dict[str, Any]:
    assert process.stdout is not None
    raw = await asyncio.wait_for(process.stdout.readline(), timeout)
    assert raw, "the node client ended"
    return dict(json.loads(raw))


async def test_the_graphql_ws_client_receives_live_updates(
    server: ServerHandle, clean_database: str, node_client: Path
) -> None:
    member = sign_up(server.client(), "node-client@example.com")
    member_id = _row_id(server, member)
    query = operation("member-app/live.graphql", "OnOffersChanged")
    process = await asyncio.create_subprocess_exec(
        "node",
        str(node_client),
        server.ws_url,
        member["session"]["accessToken"],
        query,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert await _line(process) == {"connected": True}
        await asyncio.sleep(0.5)  # the subscribe message reaches the server
        await _offer(clean_database, member_id, "Voor de node-client")
        heard = await _line(process)
    finally:
        process.kill()
        await process.wait()
    event = heard["next"]["data"]["offersChanged"]
    assert event["change"] == "GRANTED"
    assert event["offer"]["title"] == "Voor de node-client"


async def test_the_graphql_ws_client_is_refused_with_a_bad_token(
    server: ServerHandle, node_client: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        "node",
        str(node_client),
        server.ws_url,
        "garbage",
        "subscription { balanceChanged { cursor } }",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        heard = await _line(process)
    finally:
        process.kill()
        await process.wait()
    assert heard == {"error": "Forbidden"}
