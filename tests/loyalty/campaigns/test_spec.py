"""The `campaigns:` section refuses what cannot run, each problem at its line: unknown
events, segments, offers and templates, a holdout share outside 0-50 %, a wait with no way
out and a loop of steps."""

from __future__ import annotations

import pytest

from loyalty.programme import parse_programme
from tests.loyalty.campaigns.helpers import programme


def _problems(text: str) -> str:
    with pytest.raises(Exception) as caught:
        parse_programme(text)
    return str(caught.value)


def test_the_helpers_programme_loads() -> None:
    assert parse_programme(programme(0.1)).campaigns.definitions[0].key == "excuse"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (("holdout_share: 0.1", "holdout_share: 0.6"), "holdout_share"),
        (("event: delivery.late", "event: parcel.lost"), "no event is called 'parcel.lost'"),
        (("offer: excuse-plus}", "offer: gone}"), "unknown offer 'gone'"),
        (
            ("template: sorry}\n        - key: wait", "template: nope}\n        - key: wait"),
            "unknown template",
        ),
        ((", timeout_hours: 48", ""), "needs `timeout_hours`"),
        (("on_timeout: remind", "on_timeout: grant"), "loop: the journey can come back"),
        (
            ("entry: {event: delivery.late}", "entry: {every_days: 7, segment: vips}"),
            "unknown segment",
        ),
    ],
)
def test_bad_campaigns_are_refused_at_their_line(change: tuple[str, str], said: str) -> None:
    text = programme(0.1)
    assert change[0] in text
    problems = _problems(text.replace(change[0], change[1]))
    assert said in problems
    assert "campaigns.definitions[0]" in problems
