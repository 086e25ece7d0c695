"""Error codes of the surveys area (starting a survey, answering its questions, and making
and changing surveys through the admin API)."""

from __future__ import annotations

from loyalty.core.errors import ErrorCode


class SurveysError(ErrorCode):
    """Why a survey could not be started, an answer was refused, or an admin's change was
    refused (nothing changed)."""

    SURVEY_NOT_FOUND = "SURVEY_NOT_FOUND"  # unknown, a draft, or not a survey at all
    SURVEY_NOT_AVAILABLE = "SURVEY_NOT_AVAILABLE"  # not for this member now (targeting, limits)
    SURVEY_CLOSED = "SURVEY_CLOSED"  # closed, paused or past its end date
    RESPONSE_NOT_FOUND = "RESPONSE_NOT_FOUND"
    RESPONSE_COMPLETED = "RESPONSE_COMPLETED"  # answered to the end already
    RESPONSE_EXPIRED = "RESPONSE_EXPIRED"  # left unfinished too long
    NOT_CURRENT_QUESTION = "NOT_CURRENT_QUESTION"
    ANSWER_REQUIRED = "ANSWER_REQUIRED"  # a required question, no answer (or the wrong kind)
    WRONG_ANSWER_KIND = "WRONG_ANSWER_KIND"  # e.g. a number for a choice question
    UNKNOWN_CHOICE = "UNKNOWN_CHOICE"
    TOO_MANY_PICKS = "TOO_MANY_PICKS"
    TOO_FEW_PICKS = "TOO_FEW_PICKS"
    OUT_OF_RANGE = "OUT_OF_RANGE"  # a rating or NPS score outside the scale
    TEXT_TOO_LONG = "TEXT_TOO_LONG"
    INVALID_TEXT = "INVALID_TEXT"  # control characters
    MEMBER_NOT_ACTIVE = "MEMBER_NOT_ACTIVE"
    INVALID_SURVEY = "INVALID_SURVEY"  # a definition the programme file's surveys would refuse
    SURVEY_KEY_TAKEN = "SURVEY_KEY_TAKEN"
    SURVEY_FROM_PROGRAMME = "SURVEY_FROM_PROGRAMME"  # changed in the programme file, not here
    VERSION_CONFLICT = "VERSION_CONFLICT"  # changed by someone else since that version
    INVALID_STATE = "INVALID_STATE"  # a state the survey cannot move to from where it is
