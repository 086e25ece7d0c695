from decimal import Decimal
from pathlib import Path

import pytest

import loyalty
from loyalty.programme import (
    Problem,
    ProgrammeFile,
    ProgrammeFileError,
    load_programme,
    parse_programme,
)

DEMO_FILE = Path(loyalty.__file__).parent / "demo" / "programme.yaml"

# Line numbers below refer to this text: value columns are key 8, name 9, currency 13,
# point_value 16, timezone 13.
VALID = """\
programme:
  key: demo
  name: Koffiebar Trouw
  currency: EUR
  point_value: "0.01"
  timezone: Europe/Amsterdam
"""


def problems_in(text: str) -> list[Problem]:
    with pytest.raises(ProgrammeFileError) as caught:
        parse_programme(text, "demo.yaml")
    assert caught.value.source == "demo.yaml"
    return caught.value.problems


def edited(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new)


def test_demo_file_loads() -> None:
    spec = load_programme(DEMO_FILE).programme
    assert spec.key == "demo"
    assert spec.name == "Koffiebar Trouw"
    assert spec.currency == "EUR"
    assert spec.point_value == Decimal("0.01")
    assert spec.zone.key == "Europe/Amsterdam"
    assert spec.country == "NL"
    assert spec.locales == ["nl-NL", "en-GB"]


def test_valid_text_gets_defaults() -> None:
    spec = parse_programme(VALID).programme
    assert spec.country == "NL"
    assert spec.locales == ["nl-NL"]


def test_name_is_stripped_and_point_value_may_be_a_yaml_number() -> None:
    text = edited("name: Koffiebar Trouw", "name: '  Trouw  '").replace('"0.01"', "0.25")
    spec = parse_programme(text).programme
    assert spec.name == "Trouw"
    assert spec.point_value == Decimal("0.25")


def test_model_is_frozen() -> None:
    spec = parse_programme(VALID).programme
    with pytest.raises(ValueError, match="frozen"):
        spec.key = "other"  # type: ignore[misc]


def test_wrong_type_points_at_the_value() -> None:
    assert problems_in(edited("key: demo", "key: 2024")) == [
        Problem("programme.key", 2, 8, "must be text, got a number; put it in quotes")
    ]
    assert problems_in(edited("name: Koffiebar Trouw", "name: [a, b]")) == [
        Problem("programme.name", 3, 9, "must be text, got a list")
    ]


def test_control_characters_in_any_text_are_refused_at_their_line() -> None:
    """YAML escapes can carry them (and the admin API's JSON, which is checked by the same
    sections); no database should get them."""
    assert problems_in(edited("name: Koffiebar Trouw", 'name: "Koffie\\0bar"')) == [
        Problem("programme.name", 3, 9, "the text has control characters")
    ]


def test_section_that_is_not_a_mapping() -> None:
    assert problems_in("programme: demo\n") == [
        Problem("programme", 1, 12, "must be a mapping of fields, got text")
    ]


def test_unknown_field_points_at_its_key_and_suggests_the_right_name() -> None:
    text = edited("  timezone: Europe/Amsterdam\n", "  timezone: Europe/Amsterdam\n  contry: NL\n")
    assert problems_in(text) == [
        Problem("programme.contry", 7, 3, "unknown field 'contry' (did you mean 'country'?)")
    ]


def test_misspelt_required_field_is_unknown_and_missing() -> None:
    assert problems_in(edited("currency: EUR", "curency: EUR")) == [
        Problem("programme.currency", 2, 3, "field required"),
        Problem("programme.curency", 4, 3, "unknown field 'curency' (did you mean 'currency'?)"),
    ]


def test_unknown_top_level_section() -> None:
    assert problems_in(VALID + "rewardz: []\n") == [
        Problem("rewardz", 7, 1, "unknown field 'rewardz' (did you mean 'rewards'?)")
    ]


def test_missing_field_points_at_the_parent_mapping() -> None:
    assert problems_in(edited("  timezone: Europe/Amsterdam\n", "")) == [
        Problem("programme.timezone", 2, 3, "field required")
    ]
    assert problems_in("\n\nprogramme: {key: demo, name: x, currency: EUR, timezone: UTC}\n") == [
        Problem("programme.point_value", 3, 12, "field required")
    ]


def test_missing_programme_section() -> None:
    assert problems_in("# comment\nprogram: {}\n") == [
        Problem("programme", 2, 1, "field required"),
        Problem("program", 2, 1, "unknown field 'program' (did you mean 'programme'?)"),
    ]


def test_bad_timezone() -> None:
    assert problems_in(edited("Europe/Amsterdam", "Europe/Amsterdm")) == [
        Problem(
            "programme.timezone",
            6,
            13,
            "unknown time zone 'Europe/Amsterdm'; use an IANA name such as 'Europe/Amsterdam'",
        )
    ]


@pytest.mark.parametrize("zone", ["europe/amsterdam", "Europe", "../etc/passwd", "/etc/localtime"])
def test_unusable_timezone_names(zone: str) -> None:
    [problem] = problems_in(edited("Europe/Amsterdam", f"'{zone}'"))
    assert (problem.path, problem.line) == ("programme.timezone", 6)


def test_bad_currency_renders_with_file_position() -> None:
    text = edited("currency: EUR", "currency: euro")
    with pytest.raises(ProgrammeFileError) as caught:
        parse_programme(text, "demo.yaml")
    assert str(caught.value) == (
        "demo.yaml:4:13: programme.currency: must be three upper-case letters (ISO 4217)"
    )


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "key: demo",
            "key: Demo",
            Problem(
                "programme.key",
                2,
                8,
                "must be 2 to 63 characters of lower-case letters, digits and '-', "
                "starting with a letter or digit",
            ),
        ),
        (
            "name: Koffiebar Trouw",
            "name: '   '",
            Problem("programme.name", 3, 9, "must not be empty"),
        ),
        (
            '"0.01"',
            '"0.0000001"',
            Problem("programme.point_value", 5, 16, "must have at most 6 decimal places"),
        ),
        ('"0.01"', "0", Problem("programme.point_value", 5, 16, "must be greater than 0")),
        ('"0.01"', "cheap", Problem("programme.point_value", 5, 16, "must be a number, got text")),
        (
            "Europe/Amsterdam\n",
            "Europe/Amsterdam\n  country: NLD\n",
            Problem("programme.country", 7, 12, "must be two upper-case letters (ISO 3166-1)"),
        ),
        (
            "Europe/Amsterdam\n",
            "Europe/Amsterdam\n  locales: [nl-NL, en_GB]\n",
            Problem(
                "programme.locales[1]", 7, 20, "must be a language tag such as 'nl-NL' or 'en'"
            ),
        ),
        (
            "Europe/Amsterdam\n",
            "Europe/Amsterdam\n  locales: []\n",
            Problem("programme.locales", 7, 12, "must list at least one item"),
        ),
        (
            "Europe/Amsterdam\n",
            "Europe/Amsterdam\n  locales: [en, en]\n",
            Problem("programme.locales", 7, 12, "locale listed more than once: en"),
        ),
    ],
)
def test_bad_values(old: str, new: str, problem: Problem) -> None:
    assert problems_in(edited(old, new)) == [problem]


def test_problems_are_listed_in_file_order() -> None:
    text = edited("key: demo", "key: -x").replace("Europe/Amsterdam", "Mars/Base")
    text += "  country: nl\n"
    assert [(p.path, p.line) for p in problems_in(text)] == [
        ("programme.key", 2),
        ("programme.timezone", 6),
        ("programme.country", 7),
    ]


def test_duplicate_key_points_at_the_second_one() -> None:
    assert problems_in(edited("  currency: EUR\n", "  currency: EUR\n  currency: USD\n")) == [
        Problem("programme.currency", 5, 3, "duplicate key 'currency' (first used on line 4)")
    ]


def test_duplicate_top_level_section() -> None:
    [problem] = problems_in(VALID + "programme: {}\n")
    assert (problem.path, problem.line, problem.column) == ("programme", 7, 1)


def test_yaml_syntax_error() -> None:
    [problem] = problems_in(edited("  name:", " name:"))
    assert (problem.path, problem.line, problem.column) == ("", 3, 2)
    assert problem.message.startswith("invalid YAML: ")
    assert "indentation" in problem.message


def test_unclosed_flow_list() -> None:
    [problem] = problems_in("programme:\n  locales: [nl-NL\n")
    assert (problem.line, problem.column) == (3, 1)
    assert problem.message == (
        "invalid YAML: expected ',' or ']', but got the end of the file "
        "(while parsing a flow sequence on line 2)"
    )


def test_tab_indentation() -> None:
    [problem] = problems_in("programme:\n\tkey: demo\n")
    assert (problem.line, problem.column) == (2, 1)


def test_control_character() -> None:
    assert problems_in("programme:\n  key: d\x00emo\n") == [
        Problem("", 2, 9, "invalid YAML: character U+0000 is not allowed")
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "~\n"])
def test_empty_file(text: str) -> None:
    assert problems_in(text) == [
        Problem("", None, None, "the file is empty; it needs a 'programme:' section")
    ]


@pytest.mark.parametrize(
    ("text", "line", "kind"),
    [("- programme\n", 1, "a list"), ("\nprogramme\n", 2, "a single value")],
)
def test_document_that_is_not_a_mapping(text: str, line: int, kind: str) -> None:
    message = f"the file must be a mapping of sections such as 'programme:', not {kind}"
    assert problems_in(text) == [Problem("", line, 1, message)]


def test_keys_are_names_even_when_yaml_would_read_them_as_booleans() -> None:
    assert problems_in(VALID + "no: 1\n") == [Problem("no", 7, 1, "unknown field 'no'")]


def test_anchors_and_aliases_work() -> None:
    text = "x-tz: &tz Europe/Amsterdam\n" + VALID.replace("Europe/Amsterdam", "*tz")
    [problem] = problems_in(text)  # the alias resolves; only the extra section is reported
    assert problem == Problem("x-tz", 1, 1, "unknown field 'x-tz'")


def test_self_referencing_alias_is_a_problem_not_a_hang() -> None:
    [problem] = problems_in("programme: &p [*p]\n")
    # An alias is the anchored node itself, so the position is that of the anchor.
    assert (problem.path, problem.line, problem.column) == ("programme[0]", 1, 12)


def test_unknown_yaml_tag() -> None:
    assert problems_in(edited("key: demo", "key: !secret demo")) == [
        Problem("programme.key", 2, 8, "cannot read 'demo' as YAML tag '!secret'")
    ]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ProgrammeFileError) as caught:
        load_programme(path)
    assert caught.value.problems == [Problem("", None, None, "file not found")]
    assert str(caught.value) == f"{path}: file not found"


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ProgrammeFileError) as caught:
        load_programme(tmp_path)
    [problem] = caught.value.problems
    assert problem.message.startswith("cannot read the file")


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.replace("Trouw", "Caf\xe9").encode("latin-1"))
    with pytest.raises(ProgrammeFileError) as caught:
        load_programme(path)
    assert caught.value.problems == [Problem("", 3, None, "not valid UTF-8 text")]
    assert str(caught.value) == f"{path}:3: not valid UTF-8 text"


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(edited("currency: EUR", "currency: 978"), encoding="utf-8")
    with pytest.raises(ProgrammeFileError) as caught:
        load_programme(str(path))
    assert str(caught.value) == (
        f"{path}:4:13: programme.currency: must be text, got a number; put it in quotes"
    )


def test_loaded_file_round_trips_through_the_model() -> None:
    programme = load_programme(DEMO_FILE)
    assert ProgrammeFile.model_validate(programme.model_dump()) == programme


def test_the_loader_still_offers_its_names_after_the_split() -> None:
    from loyalty.programme import explain, loader, problems

    assert loader.Problem is problems.Problem is Problem
    assert loader.ProgrammeFileError is problems.ProgrammeFileError is ProgrammeFileError
    assert loader.parse_programme is parse_programme
    assert callable(explain.from_pydantic)


def test_offer_naming_an_unknown_store_or_tier_points_at_it() -> None:
    text = VALID + (
        "stores:\n"
        "  - {key: dam, name: Dam, latitude: 52.37, longitude: 4.89}\n"
        "offers:\n"
        "  - key: koekje\n"
        "    title: Koekje\n"
        "    kind: free_item\n"
        "    item: koekje\n"
        "    context: {stores: [west], radius_m: 500}\n"
        "    eligibility: {tiers: [goud]}\n"
    )
    assert problems_in(text) == [
        Problem("offers[0].context.stores", 14, 23, "offer koekje names unknown store(s): west"),
        Problem("offers[0].eligibility.tiers", 15, 26, "offer koekje names unknown tier(s): goud"),
    ]


def test_offer_needs_the_value_of_its_kind_and_known_weather_words() -> None:
    offer = "offers:\n  - key: koekje\n    title: Koekje\n    kind: bonus_points\n"
    assert problems_in(VALID + offer) == [
        Problem("offers[0]", 8, 5, "a bonus_points offer needs `points`")
    ]
    weather = VALID + offer + "    points: 5\n    context: {weather: [drizzle]}\n"
    assert [(p.path, p.line) for p in problems_in(weather)] == [
        ("offers[0].context.weather[0]", 12)
    ]
