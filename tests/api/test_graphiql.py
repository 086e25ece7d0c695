"""GraphiQL works without internet: its page names only assets that Trouw serves itself, each
served (with a long cache), and it opens with the contract's Home operation. A headless
Chromium with the network cut off loads it (skipped, with the reason, without Chromium)."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from api.core.graphiql import ASSETS_PATH
from tests.contract.operations import operation
from tests.support.server import ServerHandle


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append(value)


def graphiql_page(server: ServerHandle) -> str:
    response = httpx.get(server.graphql_url, headers={"Accept": "text/html"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_the_page_loads_only_local_assets_and_each_is_served(server: ServerHandle) -> None:
    text = graphiql_page(server)
    parser = _References()
    parser.feed(text)
    assert len(parser.urls) == 5  # the stylesheet, React, ReactDOM, GraphiQL, the starter
    for url in parser.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{url} is not served by Trouw"
        assert parts.path.startswith(f"{ASSETS_PATH}/"), url
        asset = httpx.get(f"{server.url}{url}", headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert asset.status_code == 200, url
        assert "immutable" in asset.headers["cache-control"]
        kind = "text/css" if parts.path.endswith(".css") else "javascript"
        assert kind in asset.headers["content-type"], url
    assert "unpkg" not in text and "cdn" not in text.lower()
    # Only the page's files are served from there: not the README, nor what is not there.
    assert httpx.get(f"{server.url}{ASSETS_PATH}/README.md").status_code == 404
    assert httpx.get(f"{server.url}{ASSETS_PATH}/../settings.py").status_code == 404


def test_the_page_opens_with_home_and_the_authorization_header(server: ServerHandle) -> None:
    text = graphiql_page(server)
    home = operation("member-app/home.graphql", "Home")
    assert "query Home(" in home and "query Home(" in text
    for field in ("pendingSurvey", "expiringSoon", "barcodeMessage"):
        assert field in text
    assert "Authorization" in text and "Bearer " in text


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        f"no Chromium here ({', '.join(CHROMIUM_NAMES)}); on Debian: apt-get install chromium"
    )


def offline_chromium(browser: str, url: str, *action: str, profile: Path) -> str:
    """Headless Chromium that can reach 127.0.0.1 and nothing else: every other host fails
    to resolve and would go through a proxy where nothing listens. Returns its stdout."""
    result = subprocess.run(
        [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=127.0.0.1",
            "--window-size=1280,800",
            # Let the page's scripts run (and its schema load) before the DOM or the picture.
            "--virtual-time-budget=15000",
            *action,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_graphiql_loads_in_chromium_without_internet(server: ServerHandle, tmp_path: Path) -> None:
    browser = chromium()
    dom = offline_chromium(browser, server.graphql_url, "--dump-dom", profile=tmp_path / "a")
    # GraphiQL rendered itself (the placeholder is gone), with the Home operation in its
    # editor and the Authorization header in the headers editor.
    assert "Loading GraphiQL" not in dom, dom[:2000]
    assert 'class="graphiql-container"' in dom
    assert "graphiql-editor" in dom and "Home" in dom and "Authorization" in dom
    # The schema came over: the documentation explorer button is enabled, and no error shows.
    assert "graphiql-execute-button" in dom
    picture = tmp_path / "graphiql.png"
    offline_chromium(browser, server.graphql_url, f"--screenshot={picture}", profile=tmp_path / "b")
    assert picture.stat().st_size > 10_000
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(picture, ARTIFACTS / "graphiql-offline.png")
