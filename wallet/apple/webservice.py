"""The PassKit web service (`{webServiceURL}/v1/...`), as Apple Wallet calls it, the signed
download link, and the endpoint of Google Wallet's save and delete callbacks.

- `POST /v1/devices/{device}/registrations/{passType}/{serial}`: body `{"pushToken"}`;
  201 registered, 200 already registered, 401 wrong or missing `ApplePass` token.
- `GET /v1/devices/{device}/registrations/{passType}?passesUpdatedSince=tag`: 200
  `{"serialNumbers", "lastUpdated"}`, 204 when nothing changed (or nothing is registered).
- `DELETE /v1/devices/{device}/registrations/{passType}/{serial}`: 200, 401.
- `GET /v1/passes/{passType}/{serial}`: 200 with the pass and `Last-Modified`; 304 when not
  modified since `If-Modified-Since`; 401.
- `POST /v1/log`: 200; the messages are logged.

Another pass type than ours is 404 for the pass and 401 for registrations (no token of ours
can be right for it). A missing or wrong token changes nothing.
"""

from __future__ import annotations

import json
import logging
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loyalty.wallet.service import MAX_DEVICE_ID, MAX_PUSH_TOKEN, PassState
from wallet.apple.images import pass_images
from wallet.apple.pkpass import CONTENT_TYPE
from wallet.google.callbacks import CallbackKeysUnavailable, CallbackRejected
from wallet.google.service import CALLBACK_PATH
from wallet.service import Wallet

log = logging.getLogger("trouw.wallet")
MAX_LOG_MESSAGES = 100


def _wallet(request: Request) -> Wallet | None:
    return getattr(request.app.state.services, "wallet", None)


def _token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme == "ApplePass" else None


def _ours(wallet: Wallet, request: Request) -> bool:
    device = request.path_params.get("device", "")
    return request.path_params["pass_type"] == wallet.pass_type_id and 0 < len(device) <= (
        MAX_DEVICE_ID
    )


def _status(code: int) -> Response:
    return Response(status_code=code)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


async def register(request: Request) -> Response:
    wallet = _wallet(request)
    if wallet is None:
        return _status(404)
    if not _ours(wallet, request):
        return _status(401)
    body = await _json(request)
    push_token = body.get("pushToken") if isinstance(body, dict) else None
    token = _token(request)
    if not isinstance(push_token, str) or not 0 < len(push_token) <= MAX_PUSH_TOKEN:
        # Only an authorised caller learns that its body was wrong.
        found = await wallet.passes.authorised(request.path_params["serial"], token)
        return _status(400 if found is not None else 401)
    outcome = await wallet.passes.register(
        request.path_params["device"], request.path_params["serial"], token, push_token
    )
    return _status({"created": 201, "updated": 200}.get(outcome, 401))


async def unregister(request: Request) -> Response:
    wallet = _wallet(request)
    if wallet is None:
        return _status(404)
    if not _ours(wallet, request):
        return _status(401)
    done = await wallet.passes.unregister(
        request.path_params["device"], request.path_params["serial"], _token(request)
    )
    return _status(200 if done else 401)


async def serials(request: Request) -> Response:
    wallet = _wallet(request)
    if wallet is None or not _ours(wallet, request):
        return _status(404)
    since_text = request.query_params.get("passesUpdatedSince")
    since = int(since_text) if since_text and since_text.isdigit() else None
    if since_text and since is None:
        return _status(400)
    found, last = await wallet.passes.updated_serials(request.path_params["device"], since)
    if not found:
        return _status(204)
    return JSONResponse({"serialNumbers": found, "lastUpdated": str(last)})


def _not_modified(state: PassState, last_modified: str, request: Request) -> bool:
    since = request.headers.get("if-modified-since")
    if not since:
        return False
    if since == last_modified:  # what Wallet sends back, as we wrote it
        return True
    try:
        return state.modified_at <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


async def latest_pass(request: Request) -> Response:
    """The pass, or 304. One indexed read answers the 304: the token and `Last-Modified`."""
    wallet = _wallet(request)
    if wallet is None or request.path_params["pass_type"] != wallet.pass_type_id:
        return _status(404)
    state = await wallet.passes.authorised(request.path_params["serial"], _token(request))
    if state is None:
        return _status(401)
    headers = {"Last-Modified": format_datetime(state.modified_at, usegmt=True)}
    if _not_modified(state, headers["Last-Modified"], request):
        return Response(status_code=304, headers=headers)
    archive = await wallet.pkpass(state)
    if archive is None:
        return _status(404)
    return Response(archive, media_type=CONTENT_TYPE, headers=headers)


async def device_log(request: Request) -> Response:
    body = await _json(request)
    logs = body.get("logs") if isinstance(body, dict) else None
    if isinstance(logs, list):
        for message in logs[:MAX_LOG_MESSAGES]:
            log.warning("Apple Wallet: %s", str(message)[:1000])
    return _status(200)


async def download(request: Request) -> Response:
    """The signed download link of `me.walletPass.appleWalletUrl`."""
    wallet = _wallet(request)
    serial = request.path_params["serial"]
    query = request.query_params
    if wallet is None or not wallet.links.valid(
        serial, query.get("expires"), query.get("signature")
    ):
        return _status(404)
    state = await wallet.passes.by_serial(serial)
    archive = await wallet.pkpass(state) if state is not None else None
    if state is None or archive is None:
        return _status(404)
    return Response(
        archive,
        media_type=CONTENT_TYPE,
        headers={
            "Last-Modified": format_datetime(state.modified_at, usegmt=True),
            "Content-Disposition": 'attachment; filename="pass.pkpass"',
            "Cache-Control": "no-store",
        },
    )


async def image(request: Request) -> Response:
    """The programme's pass images, for Google Wallet's class (it takes images by URL)."""
    wallet = _wallet(request)
    if wallet is None:
        return _status(404)
    programme = await wallet.views.programme()
    found = dict(pass_images(programme.look, programme.name)).get(request.path_params["name"])
    if found is None:
        return _status(404)
    return Response(found, media_type="image/png", headers={"Cache-Control": "max-age=3600"})


async def google_callback(request: Request) -> Response:
    """Google Wallet's signed save and delete callbacks (`wallet.google.callbacks`): 200 when
    recorded; 401 with the reason when the signature is missing or wrong (nothing changes);
    503 when Google's keys cannot be fetched (Google tries again); 404 when Google Wallet is
    not configured."""
    wallet = _wallet(request)
    google = wallet.google if wallet is not None else None
    if google is None:
        return _status(404)
    try:
        await google.callback(await request.body())
    except CallbackRejected as exc:
        log.warning("Google Wallet callback refused: %s", exc)
        return Response(f"callback refused: {exc}\n", status_code=401, media_type="text/plain")
    except CallbackKeysUnavailable as exc:
        log.warning("Google Wallet callback not checked: %s", exc)
        return Response(
            "Google's signing keys cannot be had now\n", status_code=503, media_type="text/plain"
        )
    return _status(200)


REGISTRATION = "/wallet/v1/devices/{device}/registrations/{pass_type}"
ROUTES = [
    Route(REGISTRATION + "/{serial}", register, methods=["POST"]),
    Route(REGISTRATION + "/{serial}", unregister, methods=["DELETE"]),
    Route(REGISTRATION, serials, methods=["GET"]),
    Route("/wallet/v1/passes/{pass_type}/{serial}", latest_pass, methods=["GET"]),
    Route("/wallet/v1/log", device_log, methods=["POST"]),
    Route("/wallet/passes/{serial}.pkpass", download, methods=["GET"]),
    Route("/wallet/images/{name}", image, methods=["GET"]),
    Route(CALLBACK_PATH, google_callback, methods=["POST"]),
]
