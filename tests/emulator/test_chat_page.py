"""The emulator's chat page at `/`: its HTML, its assets, and the control endpoints it uses."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from telegram_emulator.client import EmulatorClient
from telegram_emulator.server import RunningEmulator

# The ids the browser test (tests/e2e/test_browser_login.py) and people rely on.
STABLE_IDS = ("user-phone", "user-name", "messages", "text", "send", "share-contact")


class _Page(HTMLParser):
    """Collect element ids and the scripts and stylesheets a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, str] = {}
        self.assets: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids[values["id"] or ""] = tag
        if tag == "script":
            self._in_script = True
            if values.get("src"):
                self.assets.append(values["src"] or "")
        if tag == "link" and values.get("rel") == "stylesheet":
            self.assets.append(values["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


@pytest.fixture
def http(emulator: RunningEmulator, client: EmulatorClient) -> httpx.Client:
    """Return a plain HTTP client of a freshly reset emulator."""
    with httpx.Client(base_url=emulator.url, timeout=10) as plain:
        yield plain


def _page(http: httpx.Client) -> _Page:
    response = http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    parsed = _Page()
    parsed.feed(response.text)
    return parsed


def test_page_has_the_stable_ids(http: httpx.Client) -> None:
    page = _page(http)
    for element_id in STABLE_IDS:
        assert element_id in page.ids, f"#{element_id} missing from the chat page"
    assert page.ids["user-phone"] == "input" and page.ids["text"] == "input"
    assert page.ids["send"] == "button" and page.ids["share-contact"] == "button"


def test_page_assets_load_from_the_emulator_itself(http: httpx.Client) -> None:
    page = _page(http)
    assert sorted(page.assets) == ["/chat/chat.css", "/chat/chat.js"]
    assert page.inline_scripts == 0  # the policy below would block them anyway
    types = {"/chat/chat.css": "text/css", "/chat/chat.js": "text/javascript"}
    for asset in page.assets:
        response = http.get(asset)
        assert response.status_code == 200, asset
        assert response.headers["content-type"].startswith(types[asset]), response.headers["content-type"]
        assert response.headers["x-content-type-options"] == "nosniff"
    assert http.get("/chat/missing.js").status_code == 404
    assert http.get("/chat/../control.py").status_code == 404


def test_page_runs_only_our_own_scripts(http: httpx.Client) -> None:
    policy = http.get("/").headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


def test_script_never_inserts_text_as_html(http: httpx.Client) -> None:
    script = http.get("/chat/chat.js").text
    # Bot texts are untrusted: only text nodes, never markup.
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    assert "textContent" in script


def test_script_derives_the_user_id_like_make_phone(http: httpx.Client) -> None:
    from devstack.phone import user_id_for

    script = http.get("/chat/chat.js").text
    # The page must be the same person as `make phone` for the same number.
    assert re.search(r"7000000000n \+ \(BigInt\(digits\) % 1000000000n\)", script)
    assert user_id_for("+79161234567") == 7_000_000_000 + 79161234567 % 1_000_000_000


def test_users_are_listed_oldest_first(client: EmulatorClient) -> None:
    assert client.users() == []
    ann = client.create_user(first_name="Ann", language_code="ru")
    bob = client.create_user(first_name="Bob", id=7161234567)
    assert client.users() == [ann, bob]


def test_bot_describes_itself(client: EmulatorClient, bot: Any) -> None:
    bot.result("getMe")
    described = client.bot()
    assert described["username"] == "dance_of_mind_bot"
    assert described["first_name"] == "Dance of Mind"
    assert described["is_bot"] is True and described["id"] > 0
