"""A hand-written `Home` endpoint: what the same hardware does with the same rows, no GraphQL.

A Starlette app on the same SQLite file through the same engine (SQLAlchemy's aiosqlite,
WAL, the same pragmas via `Database`), one connection and one read transaction per request.
It checks the bearer token as Trouw does (the same signed access token, its session row and
the member's status), reads the member, their tier row and the tier's qualifying points, the
lot sums and the account, the live offers, the due survey trigger and the unread inbox, and
answers JSON of the `Home` document's shape.

Simpler than Trouw in ways that favour it (so the ratio is a conservative one): it does not
open the member's sealed personal data (`firstName` is null), does not judge each offer's
eligibility (the first ten live offers are listed), and skips the contact-budget reads.

    PYTHONPATH=. python -m uvicorn bench.baseline_home:app --port N
    (TROUW_DATABASE_URL and TROUW_SECRET_KEY as for trouw serve)
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loyalty.auth.tokens import AccessTokens
from loyalty.core.clock import SystemClock
from loyalty.core.errors import DomainError
from loyalty.storage.database import Database

db = Database(os.environ["TROUW_DATABASE_URL"])
tokens = AccessTokens(os.environ["TROUW_SECRET_KEY"].encode(), timedelta(minutes=15), SystemClock())

SESSION = text(
    "SELECT s.revoked_at, s.expires_at, m.status FROM auth_sessions s JOIN members m"
    " ON m.id = s.member_id WHERE s.id = :sid AND s.member_id = :mid"
)
MEMBER = text("SELECT id, member_number, card_barcode FROM members WHERE id = :mid")
TIER = text("SELECT tier FROM member_tiers WHERE member_id = :mid")
QUALIFYING = text(
    "SELECT coalesce(sum(points_earned - points_reversed), 0) FROM purchases"
    " WHERE member_id = :mid AND occurred_at >= :start AND occurred_at <= :now"
)
LOTS = text(
    "SELECT coalesce(sum(CASE WHEN available_at <= :now THEN remaining ELSE 0 END), 0),"
    " coalesce(sum(CASE WHEN available_at > :now THEN remaining ELSE 0 END), 0),"
    " min(CASE WHEN expires_at <= :soon THEN expires_at END)"
    " FROM point_lots WHERE member_id = :mid AND remaining > 0"
    " AND (expires_at IS NULL OR expires_at > :now)"
)
ACCOUNT = text("SELECT debt, lifetime_earned FROM point_accounts WHERE member_id = :mid")
OFFERS = text(
    "SELECT id, title, description, image_url, kind, valid_until FROM offers"
    " WHERE state = 'live' ORDER BY id LIMIT 10"
)
SURVEY = text(
    "SELECT s.id, s.title, s.incentive_points FROM survey_triggers t JOIN surveys s"
    " ON s.id = t.survey_id WHERE t.member_id = :mid AND t.response_id IS NULL"
    " AND t.due_at <= :now AND t.expires_at > :now AND s.state = 'live' LIMIT 1"
)
INBOX = text(
    "SELECT id, title, created_at FROM inbox_messages WHERE member_id = :mid"
    " AND read_at IS NULL ORDER BY id DESC LIMIT 5"
)
UNREAD = text("SELECT count(*) FROM inbox_messages WHERE member_id = :mid AND read_at IS NULL")


def node_id(kind: str, row_id: int) -> str:
    return base64.b64encode(f"{kind}:{row_id}".encode()).decode()


def iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


async def home(request: Request) -> Response:
    header = request.headers.get("authorization", "")
    await request.body()
    try:
        claims = tokens.verify(header.removeprefix("Bearer "))
    except DomainError:
        return JSONResponse({"errors": [{"message": "not signed in"}]}, status_code=401)
    async with db.engine.connect() as conn:
        me = await read_home(conn, claims.session_id, claims.member_id, datetime.now(UTC))
    if me is None:
        return JSONResponse({"errors": [{"message": "not signed in"}]}, status_code=401)
    return Response(json.dumps({"data": {"me": me}}), media_type="application/json")


async def read_home(
    conn: AsyncConnection, session_id: int, mid: int, now: datetime
) -> dict[str, Any] | None:
    """The member's `me` object, or None when the session is not valid: one read
    transaction."""
    session = (await conn.execute(SESSION, {"sid": session_id, "mid": mid})).first()
    if session is None or session.revoked_at is not None or session.status != "active":
        return None
    member = (await conn.execute(MEMBER, {"mid": mid})).one()
    tier = (await conn.execute(TIER, {"mid": mid})).scalar()
    start = datetime(now.year, 1, 1, tzinfo=UTC)
    qualifying = (await conn.execute(QUALIFYING, {"mid": mid, "start": start, "now": now})).scalar()
    soon = now + timedelta(days=30)
    lots = (await conn.execute(LOTS, {"mid": mid, "now": now, "soon": soon})).one()
    account = (await conn.execute(ACCOUNT, {"mid": mid})).first()
    offers = (await conn.execute(OFFERS)).all()
    survey = (await conn.execute(SURVEY, {"mid": mid, "now": now})).first()
    inbox = (await conn.execute(INBOX, {"mid": mid})).all()
    unread = (await conn.execute(UNREAD, {"mid": mid})).scalar()
    return {
        "id": node_id("Member", member.id),
        "memberNumber": member.member_number,
        "firstName": None,
        "tier": {
            "name": tier,
            "benefits": [],
            "nextTier": None,
            "progress": {
                "qualifyingPoints": qualifying,
                "pointsToNextTier": None,
                "periodEndsAt": None,
            },
        },
        "balance": _balance(lots, account),
        "card": {"barcodeFormat": "QR", "barcodeMessage": member.card_barcode},
        "offers": {"edges": [{"node": _offer(o)} for o in offers]},
        "pendingSurvey": _survey(survey) if survey else None,
        "inbox": {
            "totalCount": unread,
            "edges": [
                {
                    "node": {
                        "id": node_id("InboxMessage", m.id),
                        "title": m.title,
                        "createdAt": iso(m.created_at),
                    }
                }
                for m in inbox
            ],
        },
    }


def _balance(lots: Row[Any], account: Row[Any] | None) -> dict[str, Any]:
    debt = account.debt if account else 0
    return {
        "available": lots[0] - debt,
        "pending": lots[1],
        "lifetimeEarned": account.lifetime_earned if account else 0,
        "expiringSoon": {"points": 0, "expiresAt": iso(lots[2])} if lots[2] else None,
    }


def _offer(o: Row[Any]) -> dict[str, Any]:
    return {
        "id": node_id("Offer", o.id),
        "title": o.title,
        "description": o.description,
        "imageUrl": o.image_url,
        "kind": o.kind.upper(),
        "state": "AVAILABLE",
        "validUntil": iso(o.valid_until),
    }


def _survey(survey: Row[Any]) -> dict[str, Any]:
    return {
        "id": node_id("Survey", survey.id),
        "title": survey.title,
        "incentivePoints": survey.incentive_points,
    }


async def ready(_request: Request) -> Response:
    return Response("ok")


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    yield
    await db.dispose()


app = Starlette(
    routes=[Route("/graphql", home, methods=["POST"]), Route("/readyz", ready)],
    lifespan=lifespan,
)
