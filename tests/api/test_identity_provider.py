"""Trusting the brand's own identity provider: RS256 JWTs checked against a configured public
key or a JWKS endpoint, next to Trouw's own member tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from loyalty.core.clock import FixedClock
from tests.api.helpers import api_key
from tests.conftest import make_settings as settings_for
from tests.support.flows import sign_up
from tests.support.server import GraphQLClient, ServerHandle, free_port, start_server

ISSUER = "https://login.brand.example/"
AUDIENCE = "trouw-app"
ME = "query { me { id email memberNumber } }"
MEMBERS = "query { members(first: 100) { edges { node { id email } } } }"


def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


IDP_KEY = private_key()
OTHER_KEY = private_key()
ROTATED_KEY = private_key()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "auth0|alice",
        "email": "alice@example.com",
        "email_verified": True,
        "iat": now,
        "exp": now + 300,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def idp_token(key: rsa.RSAPrivateKey = IDP_KEY, kid: str | None = None, **overrides: Any) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims(**overrides), key, algorithm="RS256", headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned_token(**overrides: Any) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims(**overrides)).encode())}."


def hs256_with_public_key() -> str:
    """The classic confusion: HMAC 'signed' with the provider's public key as the secret."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    mac = hmac.new(public_pem(IDP_KEY).encode(), f"{header}.{body}".encode(), hashlib.sha256)
    return f"{header}.{body}.{b64(mac.digest())}"


def start(database_url: str, **idp: Any) -> ServerHandle:
    settings = settings_for(database_url, idp_issuer=ISSUER, idp_audience=AUDIENCE, **idp)
    return start_server(settings, FixedClock(datetime.now(UTC).replace(microsecond=0)))


@pytest.fixture(scope="module")
def pem_server(database_url: str) -> Iterator[ServerHandle]:
    handle = start(database_url, idp_public_key=public_pem(IDP_KEY))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def idp(pem_server: ServerHandle, clean_database: str) -> ServerHandle:
    return pem_server


def admin(handle: ServerHandle, database_url: str) -> GraphQLClient:
    return handle.client(api_key(database_url, ["admin"], datetime.now(UTC)))


def emails(handle: ServerHandle, database_url: str) -> list[str | None]:
    edges = admin(handle, database_url).data(MEMBERS)["members"]["edges"]
    return [e["node"]["email"] for e in edges]


# -- a configured public key ------------------------------------------------------------------


def test_first_use_creates_the_member_and_later_uses_find_it(
    idp: ServerHandle, clean_database: str
) -> None:
    client = idp.client()
    first = client.data(ME, token=idp_token())["me"]
    assert first["email"] == "alice@example.com"
    assert first["memberNumber"]
    # Another token for the same subject (a later sign-in at the provider) is the same member.
    later = client.data(ME, token=idp_token(iat=int(time.time()) - 10, email=None))["me"]
    assert later == first
    assert emails(idp, clean_database) == ["alice@example.com"]
    # Another subject is another member.
    bob = client.data(ME, token=idp_token(sub="auth0|bob", email="bob@example.com"))["me"]
    assert bob["id"] != first["id"]
    assert emails(idp, clean_database) == ["alice@example.com", "bob@example.com"]


def test_a_provider_member_is_a_full_member(idp: ServerHandle) -> None:
    client = idp.client(idp_token())
    payload = client.data(
        'mutation { updateProfile(input: {firstName: "Alice"}) '
        "{ member { firstName } userErrors { code } } }"
    )["updateProfile"]
    assert payload == {"member": {"firstName": "Alice"}, "userErrors": []}
    me = client.data("{ me { firstName consents { channel granted } } }")["me"]
    assert me["firstName"] == "Alice"
    assert len(me["consents"]) == 5


REFUSED = {
    "another issuer": (lambda: idp_token(iss="https://evil.example/"), "INVALID_TOKEN"),
    "another audience": (lambda: idp_token(aud="someone-else"), "INVALID_TOKEN"),
    "no audience": (lambda: idp_token(aud=None), "INVALID_TOKEN"),
    "no subject": (lambda: idp_token(sub=None), "INVALID_TOKEN"),
    "no expiry": (lambda: idp_token(exp=None), "INVALID_TOKEN"),
    "another key": (lambda: idp_token(OTHER_KEY), "INVALID_TOKEN"),
    "not yet valid": (lambda: idp_token(nbf=int(time.time()) + 600), "INVALID_TOKEN"),
    "alg none": (unsigned_token, "INVALID_TOKEN"),
    "HS256 with the public key": (hs256_with_public_key, "INVALID_TOKEN"),
    "bad signature": (lambda: idp_token()[:-3] + "abc", "INVALID_TOKEN"),
    "not a JWT": (lambda: "not.a.jwt", "INVALID_TOKEN"),
    "expired": (
        lambda: idp_token(iat=int(time.time()) - 600, exp=int(time.time()) - 60),
        "TOKEN_EXPIRED",
    ),
}


def test_tokens_the_provider_did_not_issue_are_refused(
    idp: ServerHandle, clean_database: str
) -> None:
    client = idp.client()
    found = {what: client.error_codes(ME, token=make()) for what, (make, _) in REFUSED.items()}
    assert found == {what: [code] for what, (_, code) in REFUSED.items()}
    assert emails(idp, clean_database) == []  # and nobody was created


def test_own_tokens_work_next_to_the_providers(idp: ServerHandle, clean_database: str) -> None:
    client = idp.client()
    own = sign_up(client, "local@example.com")
    own_token = own["session"]["accessToken"]
    provider_token = idp_token()
    for _ in range(2):
        assert client.data(ME, token=own_token)["me"]["id"] == own["member"]["id"]
        assert client.data(ME, token=provider_token)["me"]["email"] == "alice@example.com"
    # A tampered own token is still judged as an own token.
    head, body, sig = own_token.split(".")
    forged = f"{head}.{body}.{sig[::-1]}"
    assert client.error_codes(ME, token=forged) == ["INVALID_TOKEN"]


def test_a_verified_email_links_to_the_existing_member(
    idp: ServerHandle, clean_database: str
) -> None:
    client = idp.client()
    existing = sign_up(client, "alice@example.com")["member"]
    me = client.data(ME, token=idp_token(email="Alice@Example.com"))["me"]
    assert me["id"] == existing["id"]
    assert emails(idp, clean_database) == ["alice@example.com"]


def test_an_unverified_email_does_not_take_over_an_account(
    idp: ServerHandle, clean_database: str
) -> None:
    client = idp.client()
    existing = sign_up(client, "alice@example.com")["member"]
    me = client.data(ME, token=idp_token(sub="auth0|mallory", email_verified=False))["me"]
    assert me["id"] != existing["id"]
    assert me["email"] is None
    assert emails(idp, clean_database) == ["alice@example.com", None]


# -- a JWKS endpoint --------------------------------------------------------------------------


class Jwks:
    """A provider's JWKS endpoint on 127.0.0.1, counting its fetches."""

    def __init__(self, keys: dict[str, rsa.RSAPrivateKey]) -> None:
        self.document = {
            "keys": [
                {
                    **jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key(), as_dict=True),
                    "kid": kid,
                    "use": "sig",
                    "alg": "RS256",
                }
                for kid, k in keys.items()
            ]
        }
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                body = json.dumps(jwks.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    endpoint = Jwks({"k1": IDP_KEY, "k2": ROTATED_KEY})
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture(scope="module")
def jwks_server(database_url: str, jwks: Jwks) -> Iterator[ServerHandle]:
    handle = start(database_url, idp_jwks_url=jwks.url)
    try:
        yield handle
    finally:
        handle.stop()


def test_jwks_keys_are_trusted(jwks_server: ServerHandle, jwks: Jwks, clean_database: str) -> None:
    client = jwks_server.client()
    first = client.data(ME, token=idp_token(kid="k1"))["me"]
    assert first["email"] == "alice@example.com"
    # The other published key works too, for the same subject: the same member.
    assert client.data(ME, token=idp_token(ROTATED_KEY, kid="k2"))["me"] == first
    # The keys are cached, not fetched for every request.
    before = jwks.fetches
    for _ in range(3):
        client.data(ME, token=idp_token(kid="k1"))
    assert jwks.fetches == before
    assert 1 <= before <= 2


def test_jwks_refuses_what_it_does_not_vouch_for(
    jwks_server: ServerHandle, clean_database: str
) -> None:
    client = jwks_server.client()
    refused = {
        "a published kid, a key that is not theirs": idp_token(OTHER_KEY, kid="k1"),
        "a kid nobody published": idp_token(OTHER_KEY, kid="k9"),
        "no kid at all": idp_token(OTHER_KEY),
        "another issuer": idp_token(kid="k1", iss="https://evil.example/"),
        "another audience": idp_token(kid="k1", aud="someone-else"),
    }
    found = {what: client.error_codes(ME, token=token) for what, token in refused.items()}
    assert found == {what: ["INVALID_TOKEN"] for what in refused}
    assert emails(jwks_server, clean_database) == []


def test_jwks_expired_token(jwks_server: ServerHandle) -> None:
    expired = idp_token(kid="k1", exp=int(time.time()) - 60, iat=int(time.time()) - 600)
    assert jwks_server.client().error_codes(ME, token=expired) == ["TOKEN_EXPIRED"]


def test_an_unreachable_jwks_refuses_provider_tokens_but_not_own_ones(
    database_url: str, clean_database: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/jwks.json"
    handle = start(database_url, idp_jwks_url=dead)
    try:
        client = handle.client()
        assert client.error_codes(ME, token=idp_token(kid="k1")) == ["INVALID_TOKEN"]
        own = sign_up(client, "local@example.com")["session"]["accessToken"]
        assert client.data(ME, token=own)["me"]["email"] == "local@example.com"
    finally:
        handle.stop()


def test_a_provider_sign_up_goes_through_the_referral_checks(
    idp: ServerHandle, clean_database: str
) -> None:
    """The provider's token may carry the friend's code (`referral_code`); the first visit
    signs the member up with it, through the same fraud checks as the app's signUp."""
    from tests.api.referral_support import programme, sql
    from tests.support.data import install

    install(clean_database, programme())
    anna = sign_up(idp.client(), "anna.jansen@gmail.com")
    anna_client = idp.client(anna["session"]["accessToken"])
    code = anna_client.data("{ me { referral { code } } }")["me"]["referral"]["code"]

    client = idp.client()
    bob = client.data(
        ME, token=idp_token(sub="auth0|bob", email="bob@example.com", referral_code=code)
    )
    # Anna again, at the provider, with a Gmail alias of her own address: refused.
    client.data(
        ME,
        token=idp_token(
            sub="auth0|anna2", email="anna.jansen+2@googlemail.com", referral_code=code
        ),
    )
    rows = sql(
        clean_database,
        "SELECT f.member_number, r.state, r.notice FROM referrals r "
        "JOIN members f ON f.id = r.friend_id ORDER BY r.id",
    )
    assert [tuple(r) for r in rows] == [
        (bob["me"]["memberNumber"], "pending", None),
        (rows[1][0], "rejected", "OWN_REFERRAL_CODE"),
    ]
    assert anna_client.data("{ me { referral { invitedCount } } }")["me"]["referral"] == {
        "invitedCount": 1
    }
