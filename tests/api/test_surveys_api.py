"""The contract's `Surveys`, `StartSurvey`, `AnswerSurvey` and `SurveyResults` over HTTP,
exactly as the app and the back office send them: a whole survey with branching, resumed
from a second session, the last answer sent twice at once, bad input, and the results."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from api.wiring import wire_database
from loyalty.core.clock import FixedClock
from loyalty.members import service as members
from loyalty.segments.membership import refresh_members
from loyalty.storage.database import Database
from tests.contract.operations import operation
from tests.loyalty.surveys.programme import PROGRAMME
from tests.support.data import api_key, install
from tests.support.flows import SIGN_IN, STRONG_PASSWORD, sign_up
from tests.support.server import GraphQLClient, ServerHandle

APP = "member-app/surveys.graphql"
SURVEYS = operation(APP, "Surveys")
START = operation(APP, "StartSurvey")
ANSWER = operation(APP, "AnswerSurvey")
RESULTS = operation("admin/surveys-referrals.graphql", "SurveyResults")
SEGMENTS = operation("admin/offers-segments.graphql", "Segments")
SEGMENT = (
    "segments:\n  - {key: koffiedrinkers, name: Koffiedrinkers, rules: {interests: [koffie]}}\n"
)
HOME = operation("member-app/home.graphql", "Home")
BALANCE = "{ me { balance { available } } }"


def _answer(app: GraphQLClient, response_id: str, question: str, **given: Any) -> dict[str, Any]:
    variables = {"input": {"responseId": response_id, "questionId": question, **given}}
    return dict(app.data(ANSWER, variables)["answerSurvey"])


def _codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


def _started(server: ServerHandle, email: str) -> tuple[GraphQLClient, str, dict[str, Any]]:
    app = server.client()
    app.token = sign_up(app, email)["session"]["accessToken"]
    [survey] = app.data(SURVEYS)["me"]["surveys"]
    started = app.data(START, {"input": {"surveyId": survey["id"]}})["startSurvey"]
    assert started["userErrors"] == []
    return app, survey["id"], started["response"]


def _twice_at_once(server: ServerHandle, token: str, variables: dict[str, Any]) -> list[Any]:
    async def run() -> list[Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(timeout=60) as http:
            sends = [
                http.post(
                    server.graphql_url,
                    json={"query": ANSWER, "variables": variables},
                    headers=headers,
                )
                for _ in range(2)
            ]
            return [r.json()["data"]["answerSurvey"] for r in await asyncio.gather(*sends)]

    return asyncio.run(run())


def test_a_whole_survey_resumed_elsewhere_with_points_once(
    server: ServerHandle, clean_database: str
) -> None:
    install(clean_database, PROGRAMME)
    app, survey_id, response = _started(server, "enquete@example.com")
    listed = app.data(SURVEYS)["me"]["surveys"]
    assert listed == [
        {
            "id": survey_id,
            "title": "Hoe was je bezoek?",
            "description": "Drie korte vragen",
            "incentivePoints": 25,
            "state": "IN_PROGRESS",
        }
    ]
    home = app.data(HOME, {"offerContext": None})["me"]
    assert home["pendingSurvey"] == {
        "id": survey_id,
        "title": "Hoe was je bezoek?",
        "incentivePoints": 25,
    }
    question = response["currentQuestion"]
    assert question["id"] == "score" and question["kind"] == "NPS"
    assert question["scale"] == {"min": 0, "max": 10, "minLabel": None, "maxLabel": None}
    assert response["progress"] == {"answered": 0, "total": 6}

    step = _answer(app, response["id"], "score", number=10)
    assert step["response"]["currentQuestion"]["id"] == "smaak"  # the logic skipped `waarom`
    assert [c["id"] for c in step["response"]["currentQuestion"]["choices"]] == [
        "koffie",
        "thee",
        "chocolade",
    ]

    # The same member on another phone: a new session resumes the same response.
    phone = server.client()
    signed_in = phone.data(
        SIGN_IN, {"input": {"email": "enquete@example.com", "password": STRONG_PASSWORD}}
    )["signIn"]
    phone.token = signed_in["session"]["accessToken"]
    resumed = phone.data(START, {"input": {"surveyId": survey_id}})["startSurvey"]["response"]
    assert resumed["id"] == response["id"]
    assert resumed["currentQuestion"]["id"] == "smaak"
    assert resumed["progress"]["answered"] == 1

    _answer(phone, response["id"], "smaak", choiceIds=["koffie"])
    _answer(phone, response["id"], "kanaal", choiceIds=["push"])
    _answer(app, response["id"], "sfeer", number=4)
    last = {"input": {"responseId": response["id"], "questionId": "jarig", "date": "1990-03-14"}}
    outcomes = _twice_at_once(server, phone.token, last)
    assert sorted(o["pointsAwarded"] for o in outcomes) == [0, 25]
    done = next(o for o in outcomes if o["pointsAwarded"] == 25)
    assert done["response"]["state"] == "COMPLETED" and done["response"]["currentQuestion"] is None
    assert done["response"]["progress"] == {"answered": 5, "total": 5}
    other = next(o for o in outcomes if o["pointsAwarded"] == 0)
    assert _codes(other) == ["RESPONSE_COMPLETED"] and other["response"] is None
    assert app.data(BALANCE)["me"]["balance"]["available"] == 25
    assert app.data(SURVEYS)["me"]["surveys"] == []
    home = app.data(HOME, {"offerContext": None})["me"]
    assert home["pendingSurvey"] is None and home["balance"]["available"] == 25
    profile = app.data("{ me { interests preferredChannel birthDate } }")["me"]
    assert profile == {
        "interests": ["koffie"],
        "preferredChannel": "PUSH",
        "birthDate": "1990-03-14",
    }


def test_bad_answers_are_refused_with_codes_and_change_nothing(
    server: ServerHandle, clean_database: str
) -> None:
    install(clean_database, PROGRAMME)
    app, survey_id, response = _started(server, "fout@example.com")
    rid = response["id"]
    refusals = [
        ({"questionId": "smaak", "choiceIds": ["koffie"]}, "NOT_CURRENT_QUESTION"),
        ({"questionId": "score"}, "ANSWER_REQUIRED"),
        ({"questionId": "score", "number": 11}, "OUT_OF_RANGE"),
        ({"questionId": "score", "text": "tien"}, "WRONG_ANSWER_KIND"),
    ]
    for given, code in refusals:
        refused = app.data(ANSWER, {"input": {"responseId": rid, **given}})["answerSurvey"]
        assert _codes(refused) == [code], given
        assert refused["response"] is None and refused["pointsAwarded"] == 0
    _answer(app, rid, "score", number=9)
    for given, code in [
        ({"choiceIds": ["bier"]}, "UNKNOWN_CHOICE"),
        ({"choiceIds": ["koffie", "thee", "chocolade"]}, "TOO_MANY_PICKS"),
    ]:
        refused = app.data(ANSWER, {"input": {"responseId": rid, "questionId": "smaak", **given}})
        assert _codes(refused["answerSurvey"]) == [code]
    now = app.data(START, {"input": {"surveyId": survey_id}})["startSurvey"]["response"]
    assert now["progress"]["answered"] == 1 and now["currentQuestion"]["id"] == "smaak"

    stranger = server.client()
    stranger.token = sign_up(stranger, "vreemd@example.com")["session"]["accessToken"]
    theirs = _answer(stranger, rid, "smaak", choiceIds=["koffie"])
    assert _codes(theirs) == ["RESPONSE_NOT_FOUND"]
    assert stranger.error_codes(
        ANSWER, {"input": {"responseId": survey_id, "questionId": "score", "number": 1}}
    ) == ["BAD_USER_INPUT"]


def test_text_over_the_limit_and_results_for_the_back_office(
    server: ServerHandle, clean_database: str, server_clock: FixedClock
) -> None:
    install(clean_database, PROGRAMME)
    app, survey_id, response = _started(server, "tekst@example.com")
    _answer(app, response["id"], "score", number=3)
    too_long = _answer(app, response["id"], "waarom", text="x" * 41)
    assert _codes(too_long) == ["TEXT_TOO_LONG"]
    assert _answer(app, response["id"], "waarom", text="Koude koffie")["pointsAwarded"] == 25
    second, _, other = _started(server, "tweede@example.com")
    _answer(second, other["id"], "score", number=10)

    office = server.client(api_key(clean_database, ["admin"], server_clock.now(), "Office"))
    found = office.data(RESULTS, {"surveyId": survey_id})["node"]
    assert found["key"] == "bezoek"
    results = found["results"]
    assert (results["started"], results["completed"]) == (2, 1)
    nps = results["nps"]
    assert (nps["promoters"], nps["passives"], nps["detractors"], nps["score"]) == (1, 0, 1, 0.0)
    score = next(q for q in results["questions"] if q["questionId"] == "score")
    assert score["answered"] == 2
    assert {d["value"]: d["count"] for d in score["distribution"]}["10"] == 1
    smaak = next(q for q in results["questions"] if q["questionId"] == "smaak")
    assert smaak["dropOff"] == 1 and smaak["answered"] == 0
    assert app.error_codes(RESULTS, {"surveyId": survey_id}) == ["FORBIDDEN"]
    assert office.error_codes(RESULTS, {"surveyId": survey_id, "segmentId": "x"}) == [
        "BAD_USER_INPUT"
    ]


def _into_segment(database_url: str, email: str, interests: list[str]) -> None:
    """Give the member these interests and bring their segments in step at once."""

    async def go() -> None:
        db = Database(database_url)
        wire_database(db)
        try:
            async with db.unit_of_work() as uow:
                s = uow.session
                member = await members.member_by_email(s, email)
                assert member is not None
                now = datetime.now(UTC)
                await members.update_profile(s, member, {"interests": interests}, now)
                await refresh_members(s, [member.id], now)
                await uow.commit()
        finally:
            await db.dispose()

    asyncio.run(go())


def test_results_for_the_members_of_a_segment_now(
    server: ServerHandle, clean_database: str, server_clock: FixedClock
) -> None:
    install(clean_database, PROGRAMME.replace("surveys:", SEGMENT + "surveys:", 1))
    for email, score in [("fan@example.com", 10), ("ook@example.com", 2), ("niet@example.com", 9)]:
        app, survey_id, response = _started(server, email)
        _answer(app, response["id"], "score", number=score)
    _into_segment(clean_database, "fan@example.com", ["koffie"])
    _into_segment(clean_database, "ook@example.com", ["koffie", "thee"])
    office = server.client(api_key(clean_database, ["admin"], server_clock.now(), "Office"))
    [segment] = office.data(SEGMENTS, {"first": 5, "after": None})["segments"]["edges"]
    variables = {"surveyId": survey_id, "segmentId": segment["node"]["id"]}
    results = office.data(RESULTS, variables)["node"]["results"]
    assert results["started"] == 2
    assert (results["nps"]["promoters"], results["nps"]["detractors"]) == (1, 1)

    _into_segment(clean_database, "ook@example.com", ["thee"])  # left the segment
    results = office.data(RESULTS, variables)["node"]["results"]
    assert results["started"] == 1 and results["nps"]["score"] == 100.0
    everyone = office.data(RESULTS, {"surveyId": survey_id})["node"]["results"]
    assert everyone["started"] == 3
    not_a_segment = {"surveyId": survey_id, "segmentId": survey_id}
    assert office.error_codes(RESULTS, not_a_segment) == ["BAD_USER_INPUT"]


def test_free_text_answers_as_csv_for_the_admin_key(
    server: ServerHandle, clean_database: str, server_clock: FixedClock
) -> None:
    install(clean_database, PROGRAMME)
    app, survey_id, response = _started(server, "csv@example.com")
    _answer(app, response["id"], "score", number=4)
    _answer(app, response["id"], "waarom", text="Te lang wachten, koud")
    url = f"{server.url}/admin/surveys/{survey_id}/answers.csv"
    now = server_clock.now()
    admin = api_key(clean_database, ["admin"], now, "Office")
    till = api_key(clean_database, ["pos"], now, "Till")
    with httpx.Client(timeout=30) as http:
        got = http.get(url, headers={"Authorization": f"Bearer {admin}"})
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("text/csv")
        lines = got.text.splitlines()
        assert lines[0] == "survey,response,question,answered_at,text"
        assert lines[1].startswith("bezoek,") and lines[1].endswith(',"Te lang wachten, koud"')
        assert http.get(url).status_code == 401
        assert http.get(url, headers={"Authorization": f"Bearer {till}"}).status_code == 403
        assert http.get(url, headers={"Authorization": f"Bearer {app.token}"}).status_code == 403
        other = url.replace(survey_id, response["id"])
        assert http.get(other, headers={"Authorization": f"Bearer {admin}"}).status_code == 404
