"""GraphiQL without internet: Trouw's own page at `/graphql` (for browsers), loading pinned
builds of GraphiQL and React that Trouw serves itself under `/graphiql-assets/`
(`api/static/graphiql/`, whose README names their versions and licences). It opens with the
contract's `Home` operation and says how to send the `Authorization: Bearer …` header."""

from __future__ import annotations

import hashlib
import html
import json
from functools import cache
from pathlib import Path
from typing import Any

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

ASSETS_DIR = Path(__file__).resolve().parents[1] / "static" / "graphiql"
ASSETS_PATH = "/graphiql-assets"
MANIFEST = Path(__file__).resolve().parents[1] / "contract-documents.json"
# In the order the page loads them; the names carry the versions (README.md there).
STYLES = ("graphiql-3.8.3.min.css",)
SCRIPTS = (
    "react-18.3.1.production.min.js",
    "react-dom-18.3.1.production.min.js",
    "graphiql-3.8.3.min.js",
    "trouw-graphiql.js",
)
FIRST_OPERATION = "Home"
HEADERS = '{\n  "Authorization": "Bearer paste-the-accessToken-from-SignIn-here"\n}'
NOTE = """\
# The member app's home screen: the contract's Home
# operation (member-app/home.graphql).
#
# Who you are goes in the Authorization header
# (Headers, below):
#  - a member: "Bearer <accessToken>", from SignIn
#    (member-app/auth.graphql; `trouw serve --demo`
#    prints a demo member to sign in as);
#  - a till or back office: "Bearer trw_…", an API
#    key (`trouw apikey create`).
# Without it `me` is refused; the schema (Docs) is open.

"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trouw GraphiQL</title>
<style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
{styles}
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script type="application/json" id="trouw-graphiql">{settings}</script>
{scripts}
</body>
</html>
"""


@cache
def _version(name: str) -> str:
    """A short hash of an asset, in its URL, so a changed file is fetched anew."""
    return hashlib.sha256((ASSETS_DIR / name).read_bytes()).hexdigest()[:12]


def asset_url(name: str) -> str:
    return f"{ASSETS_PATH}/{name}?v={_version(name)}"


def first_operation() -> str:
    """The contract's `Home` operation, as registered in the persisted documents."""
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    for operation in manifest["operations"]:
        if operation["name"] == FIRST_OPERATION:
            return NOTE + str(operation["body"]) + "\n"
    return NOTE


@cache
def page(endpoint: str = "/graphql") -> str:
    settings = {"url": endpoint, "query": first_operation(), "headers": HEADERS}
    # In a <script> block, "</" must not appear as is.
    data = json.dumps(settings).replace("<", "\\u003c")
    styles = "\n".join(
        f'<link rel="stylesheet" href="{html.escape(asset_url(n))}">' for n in STYLES
    )
    scripts = "\n".join(f'<script src="{html.escape(asset_url(n))}"></script>' for n in SCRIPTS)
    return _PAGE.format(styles=styles, settings=data, scripts=scripts)


class OfflineGraphiQL:
    """Mixed into the GraphQL view: its GraphiQL page is this one, not the CDN's."""

    @property
    def graphql_ide_html(self) -> str:
        return page()


class _LongCached(StaticFiles):
    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response

    async def get_response(self, path: str, scope: Scope) -> Response:
        # Only the files the page loads (not the README or the licences).
        if path not in STYLES + SCRIPTS:
            return Response("Not Found", status_code=404, media_type="text/plain")
        return await super().get_response(path, scope)


def graphiql_assets() -> ASGIApp:
    """The assets (compressed for clients that accept it), for a `Mount` at ASSETS_PATH."""
    return GZipMiddleware(_LongCached(directory=ASSETS_DIR), minimum_size=1024)
