"""Security headers on every HTTP response, as pure ASGI middleware (no body buffering).

HTML (the GraphiQL page) gets a content security policy that lets GraphiQL load its scripts
and styles from this server (its pinned assets, `api/static/graphiql/`) and talk to it only;
everything else (JSON, passes) gets a policy that allows nothing. HSTS is sent only when
configured: behind plain HTTP it would lock browsers out. docs/security.md lists them.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

GRAPHIQL_CSP = (
    "default-src 'none'; "
    "script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "font-src 'self' data:; "
    "connect-src 'self'; "
    "worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, hsts_seconds: int = 0) -> None:
        self.app = app
        self.common = list(_COMMON)
        if hsts_seconds > 0:
            value = f"max-age={hsts_seconds}; includeSubDomains"
            self.common.append((b"strict-transport-security", value.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                html = any(
                    name.lower() == b"content-type" and value.startswith(b"text/html")
                    for name, value in headers
                )
                csp = GRAPHIQL_CSP if html else API_CSP
                extra = [*self.common, (b"content-security-policy", csp.encode())]
                headers.extend((n, v) for n, v in extra if n not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
