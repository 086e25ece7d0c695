"""Sign-up, sign-in, refresh and sign-out over real HTTP, on both databases."""

from __future__ import annotations

from tests.support.flows import ME, REFRESH, SIGN_IN, SIGN_OUT, SIGN_UP, STRONG_PASSWORD, sign_up
from tests.support.server import ServerHandle


def test_sign_up_then_me(server: ServerHandle) -> None:
    client = server.client()
    result = sign_up(client, "Eva@Example.COM", firstName="Eva")
    token = result["session"]["accessToken"]
    me = client.data(ME, token=token)["me"]
    assert me["email"] == "eva@example.com"
    assert me["firstName"] == "Eva"
    assert me["id"] == result["member"]["id"]


def test_sign_up_reports_every_problem(server: ServerHandle) -> None:
    payload = server.client().data(
        SIGN_UP, {"input": {"email": "not-an-email", "password": "short", "locale": "x"}}
    )["signUp"]
    codes = {e["code"] for e in payload["userErrors"]}
    assert codes == {"INVALID_EMAIL", "WEAK_PASSWORD", "INVALID_LOCALE"}
    assert payload["session"] is None


def test_duplicate_email_is_refused(server: ServerHandle) -> None:
    client = server.client()
    sign_up(client, "dup@example.com")
    payload = client.data(
        SIGN_UP, {"input": {"email": "DUP@example.com", "password": STRONG_PASSWORD}}
    )["signUp"]
    assert [e["code"] for e in payload["userErrors"]] == ["EMAIL_TAKEN"]
    assert payload["userErrors"][0]["field"] == ["input", "email"]


def test_wrong_password_and_unknown_email_look_the_same(server: ServerHandle) -> None:
    client = server.client()
    sign_up(client, "kim@example.com")
    wrong = client.data(
        SIGN_IN, {"input": {"email": "kim@example.com", "password": "nope-nope-nope"}}
    )
    unknown = client.data(
        SIGN_IN, {"input": {"email": "who@example.com", "password": "nope-nope-nope"}}
    )
    assert wrong["signIn"]["userErrors"] == unknown["signIn"]["userErrors"]
    assert wrong["signIn"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"


def test_refresh_rotates_and_reuse_signs_the_session_out(server: ServerHandle) -> None:
    client = server.client()
    first = sign_up(client, "rota@example.com")["session"]
    second = client.data(REFRESH, {"input": {"refreshToken": first["refreshToken"]}})
    new = second["refreshSession"]["session"]
    assert new["refreshToken"] != first["refreshToken"]
    assert client.data(ME, token=new["accessToken"])["me"]["email"] == "rota@example.com"

    replay = client.data(REFRESH, {"input": {"refreshToken": first["refreshToken"]}})
    assert replay["refreshSession"]["userErrors"][0]["code"] == "REFRESH_TOKEN_REUSED"
    # The whole session is gone: the newest tokens no longer work either.
    assert client.error_codes(ME, token=new["accessToken"]) == ["SESSION_REVOKED"]
    after = client.data(REFRESH, {"input": {"refreshToken": new["refreshToken"]}})
    assert after["refreshSession"]["userErrors"][0]["code"] == "INVALID_REFRESH_TOKEN"


def test_sign_out_ends_the_session(server: ServerHandle) -> None:
    client = server.client()
    session = sign_up(client, "bye@example.com")["session"]
    other = client.data(
        SIGN_IN, {"input": {"email": "bye@example.com", "password": STRONG_PASSWORD}}
    )
    other_session = other["signIn"]["session"]
    out = client.data(SIGN_OUT, {"input": {}}, token=session["accessToken"])
    assert out["signOut"]["userErrors"] == []
    assert client.error_codes(ME, token=session["accessToken"]) == ["SESSION_REVOKED"]
    # Another device stays signed in.
    assert client.data(ME, token=other_session["accessToken"])["me"]["email"] == "bye@example.com"


def test_sign_out_everywhere(server: ServerHandle) -> None:
    client = server.client()
    session = sign_up(client, "all@example.com")["session"]
    other = client.data(
        SIGN_IN, {"input": {"email": "all@example.com", "password": STRONG_PASSWORD}}
    )
    client.data(SIGN_OUT, {"input": {"allSessions": True}}, token=session["accessToken"])
    token = other["signIn"]["session"]["accessToken"]
    assert client.error_codes(ME, token=token) == ["SESSION_REVOKED"]


def test_tampered_token_is_refused(server: ServerHandle) -> None:
    client = server.client()
    token = sign_up(client, "tamper@example.com")["session"]["accessToken"]
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-2]}{'A' if sig[-2] != 'A' else 'B'}{sig[-1]}"
    assert client.error_codes(ME, token=forged) == ["INVALID_TOKEN"]


def test_expired_token_is_refused(server: ServerHandle, server_clock) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    client = server.client()
    session = sign_up(client, "late@example.com")["session"]
    server_clock.advance(timedelta(minutes=16))
    assert client.error_codes(ME, token=session["accessToken"]) == ["TOKEN_EXPIRED"]
    fresh = client.data(REFRESH, {"input": {"refreshToken": session["refreshToken"]}})
    assert client.data(ME, token=fresh["refreshSession"]["session"]["accessToken"])["me"]


def test_sign_in_locks_after_repeated_failures(server: ServerHandle) -> None:
    client = server.client()
    sign_up(client, "lock@example.com")
    for _ in range(5):
        bad = client.data(
            SIGN_IN, {"input": {"email": "lock@example.com", "password": "wrong-wrong-wrong"}}
        )
        assert bad["signIn"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    locked = client.data(
        SIGN_IN, {"input": {"email": "lock@example.com", "password": STRONG_PASSWORD}}
    )
    assert locked["signIn"]["userErrors"][0]["code"] == "RATE_LIMITED"
    assert locked["signIn"]["session"] is None
