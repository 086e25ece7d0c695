"""A stand-in for Google Wallet on http://127.0.0.1:<port>: the OAuth token endpoint (checks
the service account's RS256 assertion and the wallet scope) and the `walletobjects/v1`
loyalty classes and objects (create: 409 when the id exists; PATCH: 404 when it does not).
Every request is recorded with whether its bearer token was one the stand-in issued."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.push_standins import JWT_BEARER
from tests.support.threaded_server import ThreadedServer
from wallet.devcerts import google_service_account

WALLET_SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
KINDS = ("loyaltyClass", "loyaltyObject")


@dataclass
class WalletRequest:
    method: str
    kind: str
    resource_id: str | None
    body: Any
    authorised: bool
    status: int = 0


class GoogleWalletStandIn(ThreadedServer):
    name = "Google Wallet stand-in"

    def __init__(self) -> None:
        super().__init__()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.service_account = google_service_account(self.key, "trouw-test")
        self.service_account["token_uri"] = f"{self.url}/token"
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.requests: list[WalletRequest] = []
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        app = Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route("/walletobjects/v1/{kind}", self._create, methods=["POST"]),
                Route("/walletobjects/v1/{kind}/{rid}", self._patch, methods=["PATCH"]),
            ]
        )
        self.serve(app)

    def notifications(self) -> list[WalletRequest]:
        return [
            r for r in self.requests
            if r.method == "PATCH" and (r.body or {}).get("notifyPreference") == "notifyOnUpdate"
        ]  # fmt: skip

    async def _token(self, request: Request) -> JSONResponse:
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
        with self._lock:
            self.token_requests += 1
        if form.get("grant_type") != JWT_BEARER:
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self.key.public_key(),
                algorithms=["RS256"],
                # google-auth addresses the assertion to Google's endpoint, wherever it posts it.
                audience="https://oauth2.googleapis.com/token",
                issuer=self.service_account["client_email"],
            )
        except jwt.PyJWTError as exc:
            return JSONResponse({"error": "invalid_grant", "error_description": str(exc)}, 400)
        if WALLET_SCOPE not in str(claims.get("scope", "")).split():
            return JSONResponse({"error": "invalid_scope"}, 400)
        token = f"ya29.wallet-{secrets.token_urlsafe(12)}"
        with self._lock:
            self.tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    def _authorised(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token in self.tokens

    async def _create(self, request: Request) -> JSONResponse:
        kind, body = request.path_params["kind"], json.loads(await request.body())
        record = WalletRequest("POST", kind, body.get("id"), body, self._authorised(request))
        with self._lock:
            self.requests.append(record)
            if not record.authorised:
                record.status = 401
            elif kind not in KINDS:
                record.status = 404
            elif (kind, body["id"]) in self.resources:
                record.status = 409
            else:
                self.resources[(kind, body["id"])] = body
                record.status = 200
        return JSONResponse(body if record.status == 200 else {"error": {}}, record.status)

    async def _patch(self, request: Request) -> JSONResponse:
        kind, rid = request.path_params["kind"], request.path_params["rid"]
        body = json.loads(await request.body())
        record = WalletRequest("PATCH", kind, rid, body, self._authorised(request))
        with self._lock:
            self.requests.append(record)
            if not record.authorised:
                record.status = 401
            elif (kind, rid) not in self.resources:
                record.status = 404
            else:
                self.resources[(kind, rid)].update(body)
                record.status = 200
        return JSONResponse(self.resources.get((kind, rid), {}), record.status)
