"""The hand-written baseline of `bench_purchases.py`: a Starlette endpoint on a bare asyncpg
pool that does a purchase's writes with nothing in between.

    python -m bench.baseline_purchases PORT POSTGRES_URL
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loyalty.core.identifiers import secrets_match

KNOWN_KEYS: set[str] = set()
LOCK = """INSERT INTO point_accounts (member_id, balance, debt, lifetime_earned, lifetime_spent,
lifetime_expired, updated_at) VALUES ($1, 0, 0, 0, 0, 0, $2) ON CONFLICT (member_id)
DO UPDATE SET member_id = excluded.member_id RETURNING balance, lifetime_earned"""
PURCHASE = """INSERT INTO purchases (member_id, external_id, occurred_at, recorded_at, currency,
total, eligible_total, lines, points_earned, points_pending, points_reversed, returned_total,
returned_eligible, recorded_by) VALUES ($1, $2, $3, $3, 'EUR', $4, $5, $6, $7, $7, 0, 0, 0,
'bench till') RETURNING id"""
ENTRIES = """INSERT INTO ledger_entries (member_id, kind, points, occurred_at, recorded_at,
available_at, expires_at, description, source_type, source_id, rule)
SELECT $1, 'earn', p, $2, $2, $3, $4, d, 'purchase', $5, r
FROM unnest($6::bigint[], $7::text[], $8::text[]) AS t(p, d, r) RETURNING id, points"""
LOTS = """INSERT INTO point_lots (member_id, entry_id, purchase_id, amount, remaining,
occurred_at, available_at, expires_at) SELECT $1, e, $2, p, p, $3, $4, $5
FROM unnest($6::bigint[], $7::bigint[]) AS t(e, p)"""
ACCOUNT = """UPDATE point_accounts SET balance = balance + $2,
lifetime_earned = lifetime_earned + $2, updated_at = $3 WHERE member_id = $1"""
OUTBOX = """INSERT INTO outbox_events (topic, version, member_id, payload, occurred_at)
SELECT t, 1, $1, p::json, $2 FROM unnest($3::text[], $4::text[]) AS x(t, p)"""


def awards(lines: list[dict[str, Any]]) -> tuple[Decimal, Decimal, list[tuple[int, str, str]]]:
    total = eligible = Decimal(0)
    base = pastry = 0
    for line in lines:
        amount = Decimal(line["quantity"]) * Decimal(line["unitPrice"])
        total += amount
        if line.get("category") == "giftcard":
            continue
        eligible += amount
        if line.get("category") == "pastry":
            pastry += int(amount)
    base = int(eligible)
    found = [(base, "Purchase", "base"), (pastry, "Pastry", "pastry")]
    if total >= 20:
        found.append((25, "Big order", "big"))
    return total, eligible, [a for a in found if a[0] > 0]


async def _authorised(request: Request, pool: asyncpg.Pool) -> bool:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    if token not in KNOWN_KEYS:
        key_id = token.split("_")[1]
        stored = await pool.fetchval("SELECT secret_hash FROM api_keys WHERE key_id = $1", key_id)
        if stored is None or not secrets_match(token, stored):
            return False
        KNOWN_KEYS.add(token)
    return True


async def _write(conn: Any, data: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """The purchase's rows, in the caller's transaction; None when the externalId is known."""
    total, eligible, found = awards(data["lines"])
    points = sum(p for p, _, _ in found)
    available_at, expires_at = now + timedelta(days=14), now + timedelta(days=365)
    number = data["member"]["memberNumber"]
    member_id = await conn.fetchval("SELECT id FROM members WHERE member_number = $1", number)
    balance, lifetime = await conn.fetchrow(LOCK, member_id, now)
    if await conn.fetchval("SELECT id FROM purchases WHERE external_id = $1", data["externalId"]):
        return None
    lines = json.dumps(data["lines"])
    purchase_id = await conn.fetchval(
        PURCHASE, member_id, data["externalId"], now, total, eligible, lines, points
    )
    entries = await conn.fetch(
        ENTRIES,
        *(member_id, now, available_at, expires_at, purchase_id),
        *([p for p, _, _ in found], [d for _, d, _ in found], [r for _, _, r in found]),
    )
    ids, amounts = [e["id"] for e in entries], [e["points"] for e in entries]
    await conn.execute(LOTS, member_id, purchase_id, now, available_at, expires_at, ids, amounts)
    await conn.execute(ACCOUNT, member_id, points, now)
    pending = points  # pending until the programme's pending period ends
    events = [
        json.dumps({"entry_id": i, "points": p, "pending": pending})
        for i, p in zip(ids, amounts, strict=True)
    ]
    topics = ["balance.changed"] * len(events) + ["purchase.recorded"]
    events.append(json.dumps({"purchase_id": purchase_id, "points": points}))
    await conn.execute(OUTBOX, member_id, now, topics, events)
    return {
        "purchase": {
            "id": str(purchase_id),
            "externalId": data["externalId"],
            "pointsEarned": points,
            "pointsPending": points,
        },
        "member": {
            "id": str(member_id),
            "balance": {"available": balance - lifetime, "pending": pending},
        },
        "userErrors": [],
    }


async def graphql(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    if not await _authorised(request, pool):
        return JSONResponse({"errors": [{"message": "unauthenticated"}]}, status_code=401)
    data = (await request.json())["variables"]["input"]
    async with pool.acquire() as conn, conn.transaction():
        answer = await _write(conn, data, datetime.now(UTC))
    if answer is None:
        return JSONResponse({"errors": [{"message": "replayed"}]})
    return JSONResponse({"data": {"recordPurchase": answer}})


async def ready(_: Request) -> Response:
    return JSONResponse({"status": "ready"})


def main() -> None:
    port, url = int(sys.argv[1]), sys.argv[2].replace("postgresql+asyncpg", "postgresql")

    async def lifespan(app: Starlette) -> Any:
        app.state.pool = await asyncpg.create_pool(url, min_size=4, max_size=20)
        yield
        await app.state.pool.close()

    app = Starlette(
        routes=[Route("/graphql", graphql, methods=["POST"]), Route("/ready", ready)],
        lifespan=lifespan,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
