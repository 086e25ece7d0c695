"""Surveys through the admin API over HTTP: made as a draft, changed, put live, paused and
closed; refusals with their codes and field paths; who may do it; and the member app seeing
the survey as it goes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.contract.operations import operation
from tests.loyalty.surveys.programme import PROGRAMME
from tests.support.data import api_key, install
from tests.support.flows import sign_up
from tests.support.server import GraphQLClient, ServerHandle

SURVEYS = operation("member-app/surveys.graphql", "Surveys")
START = operation("member-app/surveys.graphql", "StartSurvey")
FIELDS = "survey { id key title status version source } userErrors { field message code }"
CREATE = "mutation($input: CreateSurveyInput!) { createSurvey(input: $input) { " + FIELDS + " } }"
UPDATE = "mutation($input: UpdateSurveyInput!) { updateSurvey(input: $input) { " + FIELDS + " } }"
SET_STATE = (
    "mutation($input: SetSurveyStateInput!) { setSurveyState(input: $input) { " + FIELDS + " } }"
)
HISTORY = """
query($id: ID!) {
  node(id: $id) {
    ... on Survey { version definition changes { kind version state actor } }
  }
}"""
SEGMENT = "segments:\n  - {key: fans, name: Fans, rules: {interests: [koffie]}}\n"
QUESTIONS = [
    {
        "key": "score",
        "prompt": "Raad je ons aan?",
        "kind": "nps",
        "logic": [{"if": {"answer": "score", "op": "less_than", "value": 7}, "jump": "waarom"}],
    },
    {"key": "waarom", "prompt": "Waarom?", "kind": "text", "required": False},
]
NEW = {
    "key": "winter",
    "title": "Winterkaart",
    "incentivePoints": 10,
    "targeting": {"samplePercent": 100},
    "questions": QUESTIONS,
}


def _errors(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


def _office(server: ServerHandle, database_url: str, name: str) -> GraphQLClient:
    return server.client(api_key(database_url, ["admin"], datetime.now(UTC), name))


def _member(server: ServerHandle, email: str) -> GraphQLClient:
    app = server.client()
    app.token = sign_up(app, email)["session"]["accessToken"]
    return app


def _offered(app: GraphQLClient) -> list[str]:
    return [s["title"] for s in app.data(SURVEYS)["me"]["surveys"]]


def test_a_survey_made_changed_and_moved_through_its_life(
    server: ServerHandle, clean_database: str
) -> None:
    install(clean_database, PROGRAMME)
    office = _office(server, clean_database, "Kantoor")
    boss = _office(server, clean_database, "Baas")
    app = _member(server, "winter@example.com")

    made = office.data(CREATE, {"input": NEW})["createSurvey"]
    assert made["userErrors"] == []
    survey = made["survey"]
    assert (survey["key"], survey["status"], survey["version"], survey["source"]) == (
        "winter",
        "DRAFT",
        1,
        "admin",
    )
    assert "Winterkaart" not in _offered(app)
    live = boss.data(SET_STATE, {"input": {"surveyId": survey["id"], "state": "LIVE"}})
    assert live["setSurveyState"]["survey"]["status"] == "LIVE"
    assert "Winterkaart" in _offered(app)
    started = app.data(START, {"input": {"surveyId": survey["id"]}})["startSurvey"]
    assert started["response"]["currentQuestion"]["prompt"] == "Raad je ons aan?"

    new_questions = [{**QUESTIONS[0], "prompt": "Zou je ons aanraden?"}, QUESTIONS[1]]
    update = {"surveyId": survey["id"], "questions": new_questions, "expectedVersion": 1}
    changed = office.data(UPDATE, {"input": update})["updateSurvey"]
    assert changed["userErrors"] == []
    assert (changed["survey"]["version"], changed["survey"]["title"]) == (2, "Winterkaart")
    stale = office.data(UPDATE, {"input": {**update, "title": "Oud"}})["updateSurvey"]
    assert _errors(stale) == [("VERSION_CONFLICT", ["input", "expectedVersion"])]
    resumed = app.data(START, {"input": {"surveyId": survey["id"]}})["startSurvey"]
    assert resumed["response"]["currentQuestion"]["prompt"] == "Raad je ons aan?"  # version 1

    for state, title_seen in [("PAUSED", False), ("LIVE", True), ("CLOSED", False)]:
        moved = boss.data(SET_STATE, {"input": {"surveyId": survey["id"], "state": state}})
        assert moved["setSurveyState"]["survey"]["status"] == state
        assert ("Winterkaart" in _offered(app)) is title_seen
    reopened = boss.data(SET_STATE, {"input": {"surveyId": survey["id"], "state": "LIVE"}})
    assert _errors(reopened["setSurveyState"]) == [("SURVEY_CLOSED", ["input", "surveyId"])]

    node = office.data(HISTORY, {"id": survey["id"]})["node"]
    assert node["version"] == 2
    assert node["definition"]["questions"][0]["prompt"] == "Zou je ons aanraden?"
    assert node["definition"]["targeting"]["sample_percent"] == 100
    assert [(c["kind"], c["version"], c["state"], c["actor"]) for c in node["changes"]] == [
        ("CREATED", 1, "DRAFT", "Kantoor"),
        ("STATE", 1, "LIVE", "Baas"),
        ("CHANGED", 2, "LIVE", "Kantoor"),
        ("STATE", 2, "PAUSED", "Baas"),
        ("STATE", 2, "LIVE", "Baas"),
        ("STATE", 2, "CLOSED", "Baas"),
    ]
    assert app.error_codes(HISTORY, {"id": survey["id"]}) == ["FORBIDDEN"]


def test_bad_surveys_are_refused_at_their_field_and_only_admins_may(
    server: ServerHandle, clean_database: str
) -> None:
    install(clean_database, PROGRAMME.replace("surveys:", SEGMENT + "surveys:", 1))
    office = _office(server, clean_database, "Kantoor")
    looping = [QUESTIONS[0], {**QUESTIONS[1], "logic": [{"jump": "score"}]}]
    cases = [
        ({"questions": looping}, "questions.1.logic.0.jump", "loop"),
        ({"questions": [{**QUESTIONS[0], "kind": "quiz"}]}, "questions.0.kind", "Input"),
        ({"questions": "score?"}, "questions", "list"),
        ({"targeting": {"segment": "onbekend"}}, "targeting.segment", "onbekend"),
        ({"targeting": {"delayHours": -2}}, "targeting.delayHours", "greater"),
        ({"incentivePoints": -1}, "incentivePoints", "greater"),
    ]
    # Text with control characters is refused before any area sees it (docs/security.md).
    controls = [
        ({"title": "Winter\u0000kaart"}, ["input", "title"]),
        (
            {"questions": [{**QUESTIONS[1], "prompt": "Waar\u0007om?"}]},
            ["input", "questions", "0", "prompt"],
        ),
    ]
    for change, path in controls:
        refused = office.data(CREATE, {"input": {**NEW, **change}})["createSurvey"]
        assert _errors(refused) == [("INVALID_TEXT", path)], change
    for change, field, fragment in cases:
        refused = office.data(CREATE, {"input": {**NEW, **change}})["createSurvey"]
        assert _errors(refused) == [("INVALID_SURVEY", ["input", field])], change
        assert fragment in refused["userErrors"][0]["message"]
        assert refused["survey"] is None
    taken = office.data(CREATE, {"input": {**NEW, "key": "bezoek"}})["createSurvey"]
    assert _errors(taken) == [("SURVEY_KEY_TAKEN", ["input", "key"])]
    aimed = office.data(CREATE, {"input": {**NEW, "targeting": {"segment": "fans"}}})
    assert aimed["createSurvey"]["userErrors"] == []

    app = _member(server, "lid@example.com")
    [from_file] = app.data(SURVEYS)["me"]["surveys"]
    move = {"input": {"surveyId": from_file["id"], "state": "PAUSED"}}
    assert _errors(office.data(SET_STATE, move)["setSurveyState"]) == [
        ("SURVEY_FROM_PROGRAMME", ["input", "surveyId"])
    ]
    till = server.client(api_key(clean_database, ["pos"], datetime.now(UTC), "Kassa"))
    for client in (till, app):
        assert client.error_codes(CREATE, {"input": {**NEW, "key": "ander"}}) == ["FORBIDDEN"]
        assert client.error_codes(SET_STATE, move) == ["FORBIDDEN"]
    assert server.client().error_codes(SET_STATE, move) == ["UNAUTHENTICATED"]
