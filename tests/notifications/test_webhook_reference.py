"""docs/webhooks.md lists every event's payload exactly as `loyalty.core.events` declares it:
the text between its markers is `payload_reference()`. When an event changes, regenerate it:

    .venv/bin/python -c "import tests.notifications.test_webhook_reference as t; t.regenerate()"
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty.core.event_reference import payload_reference
from loyalty.core.events import EVENT_TYPES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
START = "<!-- events:start -->"
END = "<!-- events:end -->"
REGENERATE = (
    "docs/webhooks.md does not match the event types; regenerate its payload reference with\n"
    '  .venv/bin/python -c "import tests.notifications.test_webhook_reference as t; t.regenerate()"'
)


def _split(text: str) -> tuple[str, str, str]:
    """The document before the start marker, between the markers, and after the end marker."""
    head, start, rest = text.partition(START)
    between, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"{DOCS} needs the markers {START} and {END}")
    return head, between, tail


def regenerate(path: Path = DOCS) -> None:
    """Write `payload_reference()` between the markers of docs/webhooks.md."""
    head, _, tail = _split(path.read_text(encoding="utf-8"))
    path.write_text(f"{head}{START}\n\n{payload_reference()}\n{END}{tail}", encoding="utf-8")


def test_the_docs_list_the_payloads_the_event_types_declare() -> None:
    _, documented, _ = _split(DOCS.read_text(encoding="utf-8"))
    assert documented.strip() == payload_reference().strip(), REGENERATE


def test_the_reference_names_every_event_once() -> None:
    reference = payload_reference()
    for event_type in EVENT_TYPES:
        assert reference.count(f"### `{event_type.name}` ") == 1, event_type.name


def test_regenerating_replaces_only_the_text_between_the_markers(tmp_path: Path) -> None:
    page = tmp_path / "webhooks.md"
    page.write_text(f"# Title\n\nBefore.\n\n{START}\nold list\n{END}\n\nAfter.\n")
    regenerate(page)
    head, between, tail = _split(page.read_text())
    assert (head, tail) == ("# Title\n\nBefore.\n\n", "\n\nAfter.\n")
    assert between.strip() == payload_reference().strip()
    page.write_text("no markers\n")
    with pytest.raises(ValueError, match="markers"):
        regenerate(page)
