"""Operations the tests send, kept in one place."""

from __future__ import annotations

from typing import Any

from tests.support.server import GraphQLClient

SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    session { accessToken refreshToken expiresAt }
    member { id memberNumber email }
    userErrors { field message code }
  }
}"""

SIGN_IN = """
mutation SignIn($input: SignInInput!) {
  signIn(input: $input) {
    session { accessToken refreshToken expiresAt }
    userErrors { field message code }
  }
}"""

REFRESH = """
mutation RefreshSession($input: RefreshSessionInput!) {
  refreshSession(input: $input) {
    session { accessToken refreshToken expiresAt }
    userErrors { field message code }
  }
}"""

SIGN_OUT = """
mutation SignOut($input: SignOutInput!) {
  signOut(input: $input) { userErrors { field message code } }
}"""

ME = "query { me { id memberNumber email firstName } }"

STRONG_PASSWORD = "lantaarnpaal-fietsbel-42"


def sign_up(
    client: GraphQLClient, email: str, password: str = STRONG_PASSWORD, **profile: Any
) -> dict[str, Any]:
    """Sign a new member up; returns the payload, which must have no userErrors."""
    payload = client.data(SIGN_UP, {"input": {"email": email, "password": password, **profile}})
    result = dict(payload["signUp"])
    assert result["userErrors"] == [], result["userErrors"]
    return result
