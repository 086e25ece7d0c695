"""A stand-in for Google Wallet on http://127.0.0.1:<port>: the OAuth token endpoint (checks
the service account's RS256 assertion and the wallet scope) and the `walletobjects/v1`
loyalty classes and objects (create: 409 when the id exists; PATCH: 404 when it does not).
Every request is recorded with whether its bearer token was one the stand-in issued.

It also plays Google's side of the save and delete callbacks: its root signing keys at
`/gp/m/issuer/keys`, and `callback(...)` makes a message signed the way Google signs them
(`ECv2SigningOnly`: a root key signs an intermediate key, which signs the message)."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.push_standins import JWT_BEARER
from tests.support.threaded_server import ThreadedServer
from wallet.devcerts import google_service_account
from wallet.google.callbacks import PROTOCOL, SENDER_ID, signed_bytes

WALLET_SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
DAY_MS = 86_400_000


def _b64_key(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


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
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root_expiration_ms = 4_102_444_800_000  # 2100-01-01
        self.key_requests = 0
        self._lock = threading.Lock()
        app = Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route("/gp/m/issuer/keys", self._keys, methods=["GET"]),
                Route("/walletobjects/v1/{kind}", self._create, methods=["POST"]),
                Route("/walletobjects/v1/{kind}/{rid}", self._patch, methods=["PATCH"]),
            ]
        )
        self.serve(app)

    @property
    def keys_url(self) -> str:
        return f"{self.url}/gp/m/issuer/keys"

    async def _keys(self, _: Request) -> JSONResponse:
        with self._lock:
            self.key_requests += 1
        key = {
            "keyValue": _b64_key(self.root_key),
            "protocolVersion": PROTOCOL,
            "keyExpiration": str(self.root_expiration_ms),
        }
        return JSONResponse({"keys": [key]})

    def callback(
        self,
        issuer_id: str,
        object_id: str,
        event_type: str,
        now_ms: int,
        *,
        root: ec.EllipticCurvePrivateKey | None = None,
        key_expiration_ms: int | None = None,
    ) -> dict[str, Any]:
        """A save ("save") or delete ("del") callback for `object_id`, signed as Google signs
        them for recipient `issuer_id` (with `root` instead of the published root key, to make
        one that must not verify)."""
        intermediate = ec.generate_private_key(ec.SECP256R1())
        expiration = key_expiration_ms or now_ms + DAY_MS
        signed_key = json.dumps(
            {"keyValue": _b64_key(intermediate), "keyExpiration": str(expiration)}
        )
        message = json.dumps(
            {
                "classId": object_id.rsplit(".", 1)[0] + ".class",
                "objectId": object_id,
                "eventType": event_type,
                "expTimeMillis": now_ms + 3_600_000,
                "count": 1,
                "nonce": str(uuid.uuid4()),
            }
        )
        key_signature = _sign(root or self.root_key, signed_bytes(SENDER_ID, PROTOCOL, signed_key))
        return {
            "signature": _sign(intermediate, signed_bytes(SENDER_ID, issuer_id, PROTOCOL, message)),
            "intermediateSigningKey": {"signedKey": signed_key, "signatures": [key_signature]},
            "protocolVersion": PROTOCOL,
            "signedMessage": message,
        }

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
