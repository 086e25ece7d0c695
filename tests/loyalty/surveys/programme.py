"""A programme with surveys for the surveys tests, and a way to put it in force."""

from __future__ import annotations

from datetime import datetime

from loyalty.core.clock import FixedClock
from loyalty.programme import parse_programme
from loyalty.programme.install import install_programme
from loyalty.storage.database import Database

HEADER = """\
programme:
  key: surveys-test
  name: Koffiebar Trouw
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
"""

# `bezoek`: an NPS with branching (a low score asks why and ends; a high one asks what the
# member drinks, filling in their interests), 25 points for finishing.
VISIT = """\
    - key: bezoek
      title: Hoe was je bezoek?
      description: Drie korte vragen
      incentive_points: 25
      hidden: [store]
      questions:
        - key: score
          prompt: Hoe waarschijnlijk is het dat je ons aanraadt?
          kind: nps
          logic:
            - if: {answer: score, op: less_than, value: 7}
              set: {unhappy: true}
              jump: waarom
            - if:
                any:
                  - {answer: score, op: greater_than, value: 8}
                  - {hidden: store, op: equals, value: centrum}
              jump: smaak
        - key: waarom
          prompt: Wat kan beter?
          kind: text
          max_length: 40
          required: false
          logic:
            - jump: end
        - key: smaak
          prompt: Wat drink je graag?
          kind: multiple_choice
          max_picks: 2
          profile_field: interests
          choices:
            - {key: koffie, label: Koffie}
            - {key: thee, label: Thee}
            - {key: chocolade, label: Warme chocolade}
        - key: kanaal
          prompt: Hoe horen we het liefst van je?
          kind: single_choice
          required: false
          profile_field: preferred_channel
          choices:
            - {key: email, label: E-mail}
            - {key: push, label: Pushbericht}
        - key: sfeer
          prompt: Hoe was de sfeer?
          kind: rating
          scale: {min: 1, max: 5, min_label: Slecht, max_label: Top}
        - key: jarig
          prompt: Wanneer ben je jarig?
          kind: date
          required: false
          profile_field: birth_date
"""

SECTION = "surveys:\n  cooldown_days: 7\n  expire_after_hours: 48\n  definitions:\n"
PROGRAMME = HEADER + SECTION + VISIT


async def install_text(db: Database, clock: FixedClock, text: str = PROGRAMME) -> None:
    async with db.unit_of_work() as uow:
        await install_programme(uow.session, parse_programme(text), clock.now())
        await uow.commit()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)
