"""One request id from the till's purchase to the webhook it causes: a real `trouw serve`
logging JSON, a real webhook receiver on 127.0.0.1, and the server's log output read back."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from loyalty.demo.data import DEMO_PASSWORD, DEMO_TILL_KEY
from tests.contract.operations import operation
from tests.e2e.test_cli_and_serve import REPO, TROUW, environment, gql
from tests.notifications.standin import Receiver, webhook_receiver
from tests.support.server import free_port

SECRET = "a-webhook-secret-of-some-length"


@dataclass
class Served:
    base: str
    receiver: Receiver
    proc: subprocess.Popen[str]

    def stop(self) -> list[dict[str, Any]]:
        """Stop the server; its log lines (stderr), each a JSON object."""
        self.proc.send_signal(signal.SIGINT)
        try:
            _, errors = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, errors = self.proc.communicate()
        lines = [line for line in errors.splitlines() if line.strip()]
        # Every line on stderr is one JSON object: the format holds for uvicorn's lines too.
        print("\n".join(lines))
        return [json.loads(line) for line in lines]


@pytest.fixture
def served(private_database: str, tmp_path: Path) -> Iterator[Served]:
    # A database of its own: on the shared one the session's test server's relay may publish
    # (and log) this server's events first.
    with webhook_receiver() as receiver:
        port = free_port()
        env = environment(
            private_database,
            TROUW_LOG_FORMAT="json",
            TROUW_WORKER_IN_SERVE="true",
            TROUW_WEBHOOKS=json.dumps([{"url": receiver.url, "secret": SECRET}]),
            TROUW_WALLET_DEV_CERTS_DIR=str(tmp_path / "wallet"),
        )
        proc = subprocess.Popen(
            [*TROUW, "serve", "--demo", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        served = Served(f"http://127.0.0.1:{port}", receiver, proc)
        try:
            _until_ready(served)
            yield served
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def _until_ready(served: Served) -> None:
    deadline = time.monotonic() + 60
    while True:
        if served.proc.poll() is not None:
            raise AssertionError(f"trouw serve exited: {served.proc.communicate()[1]}")
        try:
            if httpx.get(f"{served.base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "trouw serve did not become ready"
        time.sleep(0.1)


def _purchase(base: str, barcode: str, request_id: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {DEMO_TILL_KEY}"}
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    body = {
        "query": operation("pos/pos.graphql", "RecordPurchase"),
        "operationName": "RecordPurchase",
        "variables": {
            "input": {
                "member": {"barcodeMessage": barcode},
                "externalId": f"logs-{request_id}",
                "lines": [{"sku": "KOFFIE", "quantity": "1", "unitPrice": "30.00"}],
            }
        },
    }
    response = httpx.post(f"{base}/graphql", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert not response.json().get("errors"), response.text
    return response


def _webhooks_of(receiver: Receiver, request_id: str) -> list[str]:
    with receiver.lock:
        return [
            r.headers["trouw-event-type"]
            for r in receiver.received
            if r.headers.get("trouw-request-id") == request_id
        ]


def test_a_purchase_and_its_webhook_delivery_share_one_request_id(served: Served) -> None:
    auth = "member-app/auth.graphql"
    signed_in = gql(
        served.base,
        operation(auth, "SignIn"),
        {"input": {"email": "anna@example.com", "password": DEMO_PASSWORD}},
    )
    token = signed_in["signIn"]["session"]["accessToken"]  # type: ignore[index]
    card = gql(served.base, "{ me { card { barcodeMessage } } }", token=token)
    barcode = card["me"]["card"]["barcodeMessage"]  # type: ignore[index]

    given = "till-7:receipt-0042"
    answered = _purchase(served.base, barcode, given)
    assert answered.headers["x-request-id"] == given
    # A malformed id is replaced by one of the server's own; none given, one is made.
    made = _purchase(served.base, barcode, "not an id; DROP").headers["x-request-id"]
    assert made != "not an id; DROP" and len(made) == 32
    assert len(_purchase(served.base, barcode, None).headers["x-request-id"]) == 32

    deadline = time.monotonic() + 30
    # Each event is delivered on its own: wait for both.
    wanted = {"balance.changed", "purchase.recorded"}
    while not wanted <= set(_webhooks_of(served.receiver, given)):
        assert time.monotonic() < deadline, "no webhook carried the purchase's request id"
        time.sleep(0.1)
    # The relay publishes (and logs) on its own: wait until the outbox is empty before stopping.
    while "trouw_outbox_unpublished 0.0" not in httpx.get(f"{served.base}/metrics").text:
        assert time.monotonic() < deadline, "the relay did not publish the purchase's events"
        time.sleep(0.1)
    logs = served.stop()
    assert served.proc.returncode == 0

    mine = [line for line in logs if line.get("request_id") == given]
    access = [line for line in mine if line["logger"] == "trouw.access"]
    assert [(a["operation"], a["status"], a["path"]) for a in access] == [
        ("RecordPurchase", 200, "/graphql")
    ]
    assert {"time", "level", "message", "duration_ms"} <= access[0].keys()
    delivered = [
        line
        for line in mine
        if line["logger"] == "trouw.worker"
        and line.get("channel") == "webhook"
        and line.get("outcome") == "delivered"
    ]
    assert {d["topic"] for d in delivered} >= {"balance.changed", "purchase.recorded"}
    published = {line["topic"] for line in mine if line["logger"] == "trouw.relay"}
    assert published >= {"balance.changed", "purchase.recorded"}
    dispatched = [line for line in mine if line.get("deliveries") is not None]
    assert dispatched and all(d["deliveries"]["webhook"] == 1 for d in dispatched)
    # The other requests' lines carry their own ids, never this one.
    assert any(line.get("request_id") == made for line in logs)
