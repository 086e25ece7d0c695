"""The log formats: readable text in development, one JSON object per line in production,
each line with the request id bound when it was made."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from api.core.logs import logging_config
from api.settings import Settings
from loyalty.core.events import MemberSignedUp, Recorded
from loyalty.core.request_ids import accepted, bound_request_id
from notifications.channels import webhooks
from notifications.config import WebhookEndpoint
from tests.support.data import server_ids


@pytest.fixture
def captured(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """The root handler of `logging_config` for the format given, writing to a buffer."""
    settings = Settings(log_format=request.param, database_url="sqlite+aiosqlite://")
    config = logging_config(settings)
    out = io.StringIO()
    config["handlers"]["stderr"]["stream"] = out
    logging.config.dictConfig(config)
    try:
        yield out
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
        logging.getLogger().handlers.clear()


@pytest.mark.parametrize("captured", ["json"], indirect=True)
def test_json_lines_carry_the_request_id_and_the_fields(captured: io.StringIO) -> None:
    log = logging.getLogger("trouw.worker")
    with bound_request_id("req-1"):
        log.info("delivery %s sent", 7, extra={"delivery_id": 7, "channel": "webhook"})
    log.info("no request here")
    first, second = (json.loads(line) for line in captured.getvalue().splitlines())
    assert first["message"] == "delivery 7 sent"
    assert (first["request_id"], first["delivery_id"], first["channel"]) == ("req-1", 7, "webhook")
    assert (first["level"], first["logger"]) == ("INFO", "trouw.worker")
    datetime.fromisoformat(first["time"])
    assert "request_id" not in second


@pytest.mark.parametrize("captured", ["json"], indirect=True)
def test_a_traceback_stays_on_one_json_line(captured: io.StringIO) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("trouw").exception("it failed")
    (line,) = captured.getvalue().splitlines()
    assert "RuntimeError: boom" in json.loads(line)["exc_info"]


@pytest.mark.parametrize("captured", ["text"], indirect=True)
def test_text_lines_end_with_the_request_id(captured: io.StringIO) -> None:
    with bound_request_id("req-2"):
        logging.getLogger("trouw.relay").info("event 3 published")
    logging.getLogger("trouw.relay").info("event 4 published")
    first, second = captured.getvalue().splitlines()
    assert first.endswith("INFO    trouw.relay event 3 published request_id=req-2")
    assert second.endswith("trouw.relay event 4 published")
    # Libraries' chatter below warnings stays out.
    logging.getLogger("httpx").info("HTTP Request: POST ...")
    assert len(captured.getvalue().splitlines()) == 2


def test_the_log_format_is_validated() -> None:
    assert Settings(log_format="JSON").log_format == "json"
    with pytest.raises(ValidationError, match="log_format"):
        Settings(log_format="yaml")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("0b8f3a8e-5d1c-4f7e-9b2a-1c2d3e4f5a6b", True),
        ("till-7:receipt-0042", True),
        ("Root=1-67891233-abcdef012345678912345678", True),
        ("has space", False),
        ("x" * 129, False),
        ("-leading-dash", False),
        ("", False),
    ],
)
def test_which_incoming_request_ids_are_kept(given: str, kept: bool) -> None:
    assert (accepted(given) == given) is kept


def test_webhooks_carry_the_request_id_outside_the_signature() -> None:
    endpoint = WebhookEndpoint(url="https://example.com/hooks", secret="s" * 20)
    event = MemberSignedUp(member_id=1, channel="app")
    now = datetime.now(UTC)
    with_id = Recorded(5, now, event, request_id="req-3")
    body = webhooks.body_of(with_id, server_ids())
    headers = webhooks.headers_for(endpoint, with_id, body, now)
    assert headers["Trouw-Request-Id"] == "req-3"
    assert b"req-3" not in body
    assert body == webhooks.body_of(Recorded(5, now, event), server_ids())
    without = webhooks.headers_for(endpoint, Recorded(5, now, event), body, now)
    assert "Trouw-Request-Id" not in without
