"""Stand-ins for APNs and FCM on 127.0.0.1 that speak the real protocols, for the push tests.

- `ApnsStandIn`: HTTP/2 over TLS (ALPN "h2" only) with a throwaway CA, built on the `h2`
  library and asyncio; it runs in the test's event loop. It checks what APNs checks (provider
  JWT, topic, push type, priority, ids, device token, payload) and answers like APNs.
- `FcmStandIn`: Starlette under uvicorn in a thread: the OAuth token endpoint (checks the
  service account's RS256 assertion) and FCM HTTP v1 `messages:send`.

Both record every request and answer from a per-device-token queue of programmed replies
(`respond(token, *replies)`), then 200 once the queue is empty.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ipaddress
import itertools
import json
import re
import secrets
import ssl
import tempfile
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import ConnectionTerminated, DataReceived, RequestReceived, StreamEnded, StreamReset
from h2.exceptions import ProtocolError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.threaded_server import ThreadedServer

Clock = Callable[[], float]


class ManualClock:
    """A `time.time` replacement that stands still until a test moves it."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def apns_device_token(name: str) -> str:
    """A well-formed APNs device token (64 hex digits), readable in tests by its name."""
    return hashlib.sha256(name.encode()).hexdigest()


def fcm_device_token(name: str) -> str:
    """A well-formed FCM registration token, readable in tests by its name."""
    return f"{name}:APA91b{hashlib.sha256(name.encode()).hexdigest()[:48]}"


# --------------------------------------------------------------------------------- key material


@dataclass(frozen=True)
class ApnsKey:
    team_id: str
    key_id: str
    pem: bytes  # PKCS#8, as in the .p8 file Apple hands out
    public_key: ec.EllipticCurvePublicKey


def make_apns_key(team_id: str = "TEAM123456", key_id: str = "KEY1234567") -> ApnsKey:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return ApnsKey(team_id, key_id, pem, key.public_key())


@functools.cache
def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _tls_material() -> tuple[bytes, bytes, bytes]:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost, as PEM:
    (CA certificate, server certificate, server key)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Trouw push stand-in CA")])
    usage = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(**{**usage, "key_cert_sign": True, "crl_sign": True}), critical=True
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**{**usage, "digital_signature": True}), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return (
        ca_cert.public_bytes(serialization.Encoding.PEM),
        server_cert.public_bytes(serialization.Encoding.PEM),
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


# ---------------------------------------------------------------------------------------- APNs


@dataclass(frozen=True)
class ApnsReply:
    status: int
    reason: str | None = None
    drop_connection: bool = False  # abort the TCP connection instead of answering


UNREGISTERED = ApnsReply(410, "Unregistered")
SERVICE_UNAVAILABLE = ApnsReply(503, "ServiceUnavailable")
TOO_MANY_REQUESTS = ApnsReply(429, "TooManyRequests")
EXPIRED_PROVIDER_TOKEN = ApnsReply(403, "ExpiredProviderToken")
DROP_CONNECTION = ApnsReply(0, drop_connection=True)


@dataclass
class ApnsRequest:
    """One request as the stand-in received it, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    reason: str | None = None
    # The UID in the client certificate the connection presented (None: no certificate).
    certificate_uid: str | None = None

    @property
    def token(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def provider_token(self) -> str:
        return self.headers.get("authorization", "").removeprefix("bearer ")

    @property
    def jwt_header(self) -> dict[str, Any]:
        return dict(jwt.get_unverified_header(self.provider_token))

    @property
    def jwt_claims(self) -> dict[str, Any]:
        return dict(jwt.decode(self.provider_token, options={"verify_signature": False}))


class _Rejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_APNS_TOKEN = re.compile(r"^[0-9a-f]{64,200}$")


class ApnsStandIn:
    """APNs on https://127.0.0.1:<port>, over HTTP/2 only; use as `async with`.

    `app_topic` takes app pushes (alert with `aps.alert`, or background with
    `aps.content-available`); each of `pass_type_ids` takes wallet pass updates (`{}`).
    Like APNs it answers TooManyProviderTokenUpdates when a new provider JWT follows the
    last accepted one within 20 minutes; set `enforce_token_rate = False` to allow it.
    """

    def __init__(
        self,
        key: ApnsKey,
        app_topic: str,
        pass_type_ids: Iterable[str] = (),
        clock: Clock = time.time,
        pass_certificate_cas: Iterable[Path] = (),
    ) -> None:
        self.key = key
        self.app_topic = app_topic
        self.pass_type_ids = frozenset(pass_type_ids)
        # As APNs: pass updates come over a connection that presents the pass type's
        # certificate (its UID the topic), issued under these CAs; app pushes carry a JWT.
        self.pass_certificate_cas = tuple(pass_certificate_cas)
        self.clock = clock
        self.enforce_token_rate = True
        self.requests: list[ApnsRequest] = []
        self.connections_accepted = 0  # HTTP/2 connections, counted to check reuse
        self._replies: defaultdict[str, deque[ApnsReply]] = defaultdict(deque)
        self._accepted_jwt: tuple[str, int] | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Transport] = set()
        self._dir = tempfile.TemporaryDirectory(prefix="apns-standin-")
        ca_pem, cert_pem, key_pem = _tls_material()
        directory = Path(self._dir.name)
        self.ca_file = str(directory / "ca.pem")
        Path(self.ca_file).write_bytes(ca_pem)
        (directory / "server.pem").write_bytes(cert_pem)
        (directory / "server.key").write_bytes(key_pem)
        self.port = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def respond(self, token: str, *replies: ApnsReply) -> None:
        """Answer the next requests to `token` with `replies`, in order; then 200 again."""
        self._replies[token].extend(replies)

    async def __aenter__(self) -> ApnsStandIn:
        directory = Path(self._dir.name)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(directory / "server.pem", directory / "server.key")
        if self.pass_certificate_cas:
            context.verify_mode = ssl.CERT_OPTIONAL
            for ca in self.pass_certificate_cas:
                context.load_verify_locations(ca)
        context.set_alpn_protocols(["h2"])
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ApnsConnection(self), "127.0.0.1", 0, ssl=context
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            for transport in list(self._connections):
                transport.abort()
            await self._server.wait_closed()
        self._dir.cleanup()

    def handle(self, request: ApnsRequest) -> ApnsReply:
        """Check `request` as APNs would, then answer with the next programmed reply."""
        try:
            self._check(request)
        except _Rejected as rejected:
            reply = ApnsReply(rejected.status, rejected.reason)
        else:
            queue = self._replies.get(request.token)
            reply = queue.popleft() if queue else ApnsReply(200)
        request.status, request.reason = reply.status, reply.reason
        self.requests.append(request)
        return reply

    def _check(self, request: ApnsRequest) -> None:
        if request.method != "POST":
            raise _Rejected(405, "MethodNotAllowed")
        if not request.path.startswith("/3/device/"):
            raise _Rejected(404, "BadPath")
        headers = request.headers
        topic = headers.get("apns-topic")
        if self.pass_certificate_cas and topic in self.pass_type_ids:
            if request.certificate_uid != topic:
                raise _Rejected(403, "BadCertificate")
        else:
            self._check_provider_token(request.headers.get("authorization"))
        if not topic:
            raise _Rejected(400, "MissingTopic")
        if topic != self.app_topic and topic not in self.pass_type_ids:
            raise _Rejected(400, "TopicDisallowed")
        push_type = headers.get("apns-push-type")
        if push_type not in ("alert", "background"):
            raise _Rejected(400, "InvalidPushType")
        priority = headers.get("apns-priority", "10")
        if priority not in ("5", "10") or (push_type == "background" and priority != "5"):
            raise _Rejected(400, "BadPriority")
        if "apns-id" in headers and not _UUID.match(headers["apns-id"]):
            raise _Rejected(400, "BadMessageId")
        if len(headers.get("apns-collapse-id", "").encode()) > 64:
            raise _Rejected(400, "BadCollapseId")
        if not headers.get("apns-expiration", "0").isdigit():
            raise _Rejected(400, "BadExpirationDate")
        if not _APNS_TOKEN.match(request.token):
            raise _Rejected(400, "BadDeviceToken")
        if not request.body:
            raise _Rejected(400, "PayloadEmpty")
        if len(request.body) > 4096:
            raise _Rejected(413, "PayloadTooLarge")
        try:
            payload = json.loads(request.body)
        except ValueError:
            raise _Rejected(400, "BadPayload") from None
        if not isinstance(payload, dict):
            raise _Rejected(400, "BadPayload")
        if topic in self.pass_type_ids:
            if payload != {} or push_type != "background":
                raise _Rejected(400, "BadPayload")
            return
        aps = payload.get("aps")
        if not isinstance(aps, dict):
            raise _Rejected(400, "BadPayload")
        if push_type == "alert" and not isinstance(aps.get("alert"), dict | str):
            raise _Rejected(400, "BadPayload")
        if push_type == "background" and (aps.get("content-available") != 1 or "alert" in aps):
            raise _Rejected(400, "BadPayload")

    def _check_provider_token(self, authorization: str | None) -> None:
        if not authorization:
            raise _Rejected(403, "MissingProviderToken")
        scheme, _, token = authorization.partition(" ")
        if scheme != "bearer" or not token:
            raise _Rejected(403, "InvalidProviderToken")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "ES256" or header.get("kid") != self.key.key_id:
                raise _Rejected(403, "InvalidProviderToken")
            claims = jwt.decode(
                token,
                self.key.public_key,
                algorithms=["ES256"],
                issuer=self.key.team_id,
                options={"require": ["iss", "iat"], "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise _Rejected(403, "InvalidProviderToken") from None
        issued_at = claims["iat"]
        now = self.clock()
        if not isinstance(issued_at, int) or issued_at > now + 60:
            raise _Rejected(403, "InvalidProviderToken")
        if now - issued_at > 3600:
            raise _Rejected(403, "ExpiredProviderToken")
        accepted = self._accepted_jwt
        if (
            self.enforce_token_rate
            and accepted is not None
            and token != accepted[0]
            and issued_at - accepted[1] < 20 * 60
        ):
            raise _Rejected(429, "TooManyProviderTokenUpdates")
        self._accepted_jwt = (token, issued_at)


class _ApnsConnection(asyncio.Protocol):
    """One client connection: HTTP/2 frames in, one response per request stream out."""

    def __init__(self, standin: ApnsStandIn) -> None:
        self.standin = standin
        self.transport: asyncio.Transport | None = None
        self.h2 = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        self.streams: dict[int, tuple[dict[str, str], bytearray]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            transport.abort()  # APNs speaks HTTP/2 only
            return
        self.standin._connections.add(transport)
        self.standin.connections_accepted += 1
        self.h2.initiate_connection()
        transport.write(self.h2.data_to_send())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.standin._connections.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        try:
            events = self.h2.receive_data(data)
        except ProtocolError:
            self.transport.write(self.h2.data_to_send())
            self.transport.close()
            return
        for event in events:
            if isinstance(event, RequestReceived):
                headers = {str(k): str(v) for k, v in event.headers or []}
                self.streams[event.stream_id] = (headers, bytearray())
            elif isinstance(event, DataReceived) and event.stream_id in self.streams:
                self.streams[event.stream_id][1].extend(event.data or b"")
                self.h2.acknowledge_received_data(
                    event.flow_controlled_length or 0, event.stream_id
                )
            elif isinstance(event, StreamEnded) and event.stream_id in self.streams:
                if not self._answer(event.stream_id):
                    return
            elif isinstance(event, StreamReset):
                self.streams.pop(event.stream_id or 0, None)
            elif isinstance(event, ConnectionTerminated):
                self.transport.close()
                return
        self.transport.write(self.h2.data_to_send())

    def _certificate_uid(self) -> str | None:
        assert self.transport is not None
        peer = self.transport.get_extra_info("peercert") or {}
        for relative in peer.get("subject", ()):
            for name, value in relative:
                if name == "userId":
                    return str(value)
        return None

    def _answer(self, stream_id: int) -> bool:
        assert self.transport is not None
        headers, body = self.streams.pop(stream_id)
        request = ApnsRequest(
            method=headers.get(":method", ""),
            path=headers.get(":path", ""),
            headers={k: v for k, v in headers.items() if not k.startswith(":")},
            body=bytes(body),
            certificate_uid=self._certificate_uid(),
        )
        reply = self.standin.handle(request)
        if reply.drop_connection:
            self.transport.abort()
            return False
        apns_id = request.headers.get("apns-id") or str(uuid.uuid4())
        response_headers = [(":status", str(reply.status)), ("apns-id", apns_id)]
        if reply.status == 200:
            self.h2.send_headers(stream_id, response_headers, end_stream=True)
            return True
        answer: dict[str, Any] = {"reason": reply.reason}
        if reply.status == 410:
            answer["timestamp"] = int(self.standin.clock() * 1000)
        content = json.dumps(answer).encode()
        response_headers += [
            ("content-type", "application/json"),
            ("content-length", str(len(content))),
        ]
        self.h2.send_headers(stream_id, response_headers)
        self.h2.send_data(stream_id, content, end_stream=True)
        return True


# ----------------------------------------------------------------------------------------- FCM

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class FcmReply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def fcm_error(
    status: int,
    state: str,
    message: str,
    error_code: str | None = None,
    headers: dict[str, str] | None = None,
) -> FcmReply:
    """An error as FCM HTTP v1 answers it (google.rpc.Status with an FcmError detail)."""
    error: dict[str, Any] = {"code": status, "message": message, "status": state}
    if error_code:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": error_code,
            }
        ]
    return FcmReply(status, {"error": error}, headers or {})


FCM_UNREGISTERED = fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
FCM_UNAVAILABLE = fcm_error(
    503,
    "UNAVAILABLE",
    "The service is currently unavailable.",
    "UNAVAILABLE",
    {"retry-after": "30"},
)
FCM_UNAUTHENTICATED = fcm_error(
    401,
    "UNAUTHENTICATED",
    "Request had invalid authentication credentials. Expected OAuth 2 access token.",
)
FCM_INVALID_TOKEN = fcm_error(
    400,
    "INVALID_ARGUMENT",
    "The registration token is not a valid FCM registration token",
    "INVALID_ARGUMENT",
)


@dataclass
class FcmTokenRequest:
    form: dict[str, str]
    status: int = 0
    error: str | None = None

    @property
    def assertion_header(self) -> dict[str, Any]:
        return dict(jwt.get_unverified_header(self.form["assertion"]))

    @property
    def assertion_claims(self) -> dict[str, Any]:
        return dict(jwt.decode(self.form["assertion"], options={"verify_signature": False}))


@dataclass
class FcmRequest:
    path: str
    authorization: str
    body: Any
    status: int = 0

    @property
    def message(self) -> dict[str, Any]:
        return dict(self.body["message"])


_FCM_TOKEN = re.compile(r"^[A-Za-z0-9_:\-]{20,4096}$")
_MESSAGE_KEYS = {"token", "notification", "data", "android", "apns", "webpush", "fcm_options"}
_NOTIFICATION_KEYS = {"title", "body", "image"}
_ANDROID_KEYS = {"collapse_key", "priority", "ttl", "restricted_package_name", "notification"}
_RESERVED_DATA = re.compile(r"^(from|notification|message_type|google.*|gcm.*)$")


class FcmStandIn(ThreadedServer):
    """The Google OAuth token endpoint and FCM HTTP v1 on http://127.0.0.1:<port>.

    `service_account` is a service-account JSON dict whose token_uri points here. Use as
    `with`. Access tokens live `token_lifetime` seconds by `clock`; `revoke_access_tokens()`
    makes every token issued so far answer 401. Starting uvicorn takes a moment, so tests may
    share one stand-in and `reset()` it.
    """

    name = "FCM stand-in"

    def __init__(
        self,
        project_id: str = "trouw-test",
        clock: Clock = time.time,
        token_lifetime: int = 3600,
    ) -> None:
        super().__init__()
        self.project_id = project_id
        self.clock = clock
        self.token_lifetime = token_lifetime
        self.token_requests: list[FcmTokenRequest] = []
        self.requests: list[FcmRequest] = []
        self._issued: dict[str, float] = {}
        self._replies: defaultdict[str, deque[FcmReply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        key = _rsa_key()
        self._public_key = key.public_key()
        self.service_account: dict[str, str] = {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": "standin-key-1",
            "private_key": key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            "client_email": f"trouw-push@{project_id}.iam.gserviceaccount.com",
            "client_id": "100000000000000000001",
            "token_uri": f"{self.url}/token",
        }
        app = Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route("/v1/projects/{project}/messages:send", self._send, methods=["POST"]),
            ]
        )
        self.serve(app)

    @property
    def access_tokens(self) -> list[str]:
        with self._lock:
            return list(self._issued)

    def respond(self, token: str, *replies: FcmReply) -> None:
        """Answer the next sends to device `token` with `replies`, in order; then 200 again."""
        with self._lock:
            self._replies[token].extend(replies)

    def reset(self, clock: Clock = time.time) -> None:
        """Forget every request, programmed reply and access token, and read the time from
        `clock`; one running stand-in can so serve many tests."""
        with self._lock:
            self.clock = clock
            self.token_requests.clear()
            self.requests.clear()
            self._issued.clear()
            self._replies.clear()

    def revoke_access_tokens(self) -> None:
        with self._lock:
            for token in self._issued:
                self._issued[token] = float("-inf")

    async def _token(self, request: Request) -> JSONResponse:
        raw = parse_qs((await request.body()).decode(), keep_blank_values=True)
        record = FcmTokenRequest({name: values[-1] for name, values in raw.items()})
        with self._lock:
            self.token_requests.append(record)
            error = self._check_assertion(request.headers.get("content-type", ""), record.form)
            if error:
                record.status, record.error = 400, error[0]
                return JSONResponse({"error": error[0], "error_description": error[1]}, 400)
            access_token = f"ya29.standin-{next(self._counter)}-{secrets.token_urlsafe(12)}"
            self._issued[access_token] = self.clock() + self.token_lifetime
            record.status = 200
        return JSONResponse(
            {
                "access_token": access_token,
                "expires_in": self.token_lifetime,
                "token_type": "Bearer",
            }
        )

    def _check_assertion(self, content_type: str, form: dict[str, str]) -> tuple[str, str] | None:
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return "invalid_request", "expected a form"
        if form.get("grant_type") != JWT_BEARER:
            return "unsupported_grant_type", "Invalid grant_type"
        assertion = form.get("assertion", "")
        email = self.service_account["client_email"]
        try:
            header = jwt.get_unverified_header(assertion)
            if header.get("alg") != "RS256":
                return "invalid_grant", "Invalid JWT algorithm"
            if (
                header.get("kid", self.service_account["private_key_id"])
                != (self.service_account["private_key_id"])
            ):
                return "invalid_grant", "Invalid JWT Signature."
            claims = jwt.decode(
                assertion,
                self._public_key,
                algorithms=["RS256"],
                audience=self.service_account["token_uri"],
                issuer=email,
                options={
                    "require": ["iss", "aud", "iat", "exp"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            return "invalid_grant", f"Invalid JWT: {exc}"
        if claims.get("sub", email) != email:
            return "invalid_grant", "Invalid JWT: sub"
        if FCM_SCOPE not in str(claims.get("scope", "")).split():
            return "invalid_scope", "Invalid OAuth scope or ID token audience provided."
        now, iat, exp = self.clock(), claims["iat"], claims["exp"]
        if iat > now + 60 or exp <= now or exp - iat > 3600:
            return "invalid_grant", (
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe."
            )
        return None

    async def _send(self, request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        record = FcmRequest(request.url.path, request.headers.get("authorization", ""), body)
        with self._lock:
            self.requests.append(record)
            reply = self._answer(request.path_params["project"], record)
            record.status = reply.status
        return JSONResponse(reply.body, reply.status, reply.headers)

    def _answer(self, project: str, record: FcmRequest) -> FcmReply:
        scheme, _, access_token = record.authorization.partition(" ")
        expires_at = self._issued.get(access_token)
        if scheme.lower() != "bearer" or expires_at is None or self.clock() >= expires_at:
            return FCM_UNAUTHENTICATED
        if project != self.project_id:
            return fcm_error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")
        problem = _message_problem(record.body)
        if problem:
            return fcm_error(400, "INVALID_ARGUMENT", problem, "INVALID_ARGUMENT")
        token = record.message["token"]
        if not _FCM_TOKEN.match(token):
            return FCM_INVALID_TOKEN
        queue = self._replies.get(token)
        if queue:
            return queue.popleft()
        return FcmReply(200, {"name": f"projects/{project}/messages/{next(self._counter)}"})


def _message_problem(body: Any) -> str | None:
    """What is wrong with a send request's body, in the words FCM would use; None if fine."""
    if not isinstance(body, dict) or set(body) - {"message", "validate_only"}:
        return "Invalid JSON payload received."
    message = body.get("message")
    if not isinstance(message, dict):
        return "Invalid JSON payload received. 'message' is required."
    if unknown := set(message) - _MESSAGE_KEYS:
        return f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r} at 'message'"
    if not isinstance(message.get("token"), str):
        return "Recipient of the message is not set."
    notification = message.get("notification", {})
    if not isinstance(notification, dict) or set(notification) - _NOTIFICATION_KEYS:
        return "Invalid JSON payload received. Unknown name at 'message.notification'"
    if not all(isinstance(v, str) for v in notification.values()):
        return "Invalid value at 'message.notification' (TYPE_STRING)"
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return "Invalid value at 'message.data' (TYPE_STRING)"
    if reserved := [key for key in data if _RESERVED_DATA.match(key)]:
        return f"Invalid data payload key: {reserved[0]}"
    android = message.get("android", {})
    if not isinstance(android, dict) or set(android) - _ANDROID_KEYS:
        return "Invalid JSON payload received. Unknown name at 'message.android'"
    if android.get("priority", "normal").lower() not in ("normal", "high"):
        return "Invalid value at 'message.android.priority'"
    if "ttl" in android and not re.fullmatch(r"\d+(\.\d+)?s", str(android["ttl"])):
        return (
            "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration)"
        )
    return None
