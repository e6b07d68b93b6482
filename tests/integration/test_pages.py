"""The HTML pages: the demo login page at / and the API docs viewer at /api/docs, served whole by us."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

# The ids the browser test and frontend developers rely on (README "Integrating the login in your site").
DEMO_IDS = (
    "phone",
    "start",
    "match-code",
    "open-telegram",
    "qr",
    "status",
    "cancel",
    "profile",
    "refresh",
    "logout",
    "error",
    "notice",
    "prompt",
    "email-sign-in",
    "sign-in-email",
    "send-sign-in-code",
    "sign-in-code",
    "verify-sign-in-code",
    "new-email",
    "add-email",
    "confirm-code",
    "confirm-email",
)
SCRIPT_TYPES = {"text/javascript", "application/javascript"}
CONTENT_TYPES = {".js": SCRIPT_TYPES, ".css": {"text/css"}, ".png": {"image/png"}}


class PageParser(HTMLParser):
    """Collect the element ids, inline scripts and styles, and the URLs of assets a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.assets: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record ids, asset URLs, and tags that would run or style inline."""
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(values["id"] or "")
        if tag == "script":
            self._in_script = True
            if values.get("src"):
                self.assets.append(values["src"] or "")
        if tag == "link" and values.get("href"):
            self.assets.append(values["href"] or "")
        if tag == "style" or "style" in values or any(name.startswith("on") for name in values):
            self.inline.append(tag)

    def handle_endtag(self, tag: str) -> None:
        """Leave a script."""
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        """Record the body of an inline script."""
        if self._in_script and data.strip():
            self.inline.append(data.strip()[:40])


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def assert_only_self(header: str, *, allow_data_images: bool = False) -> None:
    """Assert a page's CSP lets it load from its own origin and nothing else, never inline code."""
    directives = csp_directives(header)
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["img-src"] == (["'self'", "data:"] if allow_data_images else ["'self'"])
    for name, sources in directives.items():
        for source in sources:
            assert source in ("'self'", "'none'", "data:"), f"{name} allows {source}"


@pytest.mark.parametrize("path", ["/", "/api/docs"])
def test_a_page_is_html_with_no_inline_code_and_only_local_assets(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = parse(response.get_data(as_text=True))
    assert page.inline == [], f"{path} has inline code or styles the CSP would block: {page.inline}"
    assert page.assets, f"{path} loads no assets"
    for url in page.assets:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{path} loads {url} from elsewhere"


def test_the_demo_page_has_the_stable_ids_once_each(client):
    ids = parse(client.get("/").get_data(as_text=True)).ids
    for element_id in DEMO_IDS:
        assert ids.count(element_id) == 1, f"#{element_id} appears {ids.count(element_id)} times"


@pytest.mark.parametrize(
    ("overrides", "email", "email_login"),
    [
        ({}, "off", "off"),
        ({"smtp_url": "smtp://127.0.0.1:2525"}, "on", "off"),
        ({"smtp_url": "smtp://127.0.0.1:2525", "email_login": "on"}, "on", "on"),
        ({"email_login": "on"}, "off", "off"),  # no mail can go: no code to sign in with
    ],
)
def test_the_demo_page_offers_email_as_far_as_the_server_has_it_on(make_app, overrides, email, email_login):
    html = make_app(**overrides).test_client().get("/").get_data(as_text=True)
    assert f'data-email="{email}"' in html
    assert f'data-email-login="{email_login}"' in html


def test_the_demo_page_csp_allows_its_own_scripts_and_nothing_external(client):
    assert_only_self(client.get("/").headers["Content-Security-Policy"])


def test_the_docs_csp_allows_only_self_and_swagger_uis_data_icons(client):
    assert_only_self(client.get("/api/docs").headers["Content-Security-Policy"], allow_data_images=True)


@pytest.mark.parametrize("path", ["/", "/api/docs"])
def test_every_asset_of_a_page_answers_with_its_content_type(client, path):
    for url in parse(client.get(path).get_data(as_text=True)).assets:
        response = client.get(url)
        assert response.status_code == 200, url
        suffix = url[url.rfind(".") :]
        assert response.mimetype in CONTENT_TYPES[suffix], f"{url}: {response.mimetype}"
        assert len(response.get_data()) > 100, url


def test_the_docs_viewer_is_pointed_at_the_openapi_document(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert 'data-openapi-url="/api/openapi.json"' in html
    script = client.get("/static/docs/docs.js").get_data(as_text=True)
    assert "dataset.openapiUrl" in script
    assert "validatorUrl: null" in script  # no badge fetched from the public validator


def test_the_docs_viewer_is_in_the_openapi_document_as_html(client):
    operation = client.get("/api/openapi.json").get_json()["paths"]["/api/docs"]["get"]
    assert list(operation["responses"]["200"]["content"]) == ["text/html"]


def test_auth_client_is_served_and_imported_by_the_demo_page(client):
    response = client.get("/static/demo/authClient.js")
    assert response.status_code == 200
    assert response.mimetype in SCRIPT_TYPES
    source = response.get_data(as_text=True)
    for name in ("createAuthClient", "start", "waitForResult", "cancel", "me", "refresh", "logout", "token_expired"):
        assert name in source, name
    assert "localStorage" not in source.replace("never in localStorage", "")
    demo = client.get("/static/demo/demo.js").get_data(as_text=True)
    assert 'from "./authClient.js"' in demo


def test_the_qr_library_ships_with_its_licence(client):
    assert client.get("/static/vendor/qrcode-generator/LICENSE").status_code == 200
    assert "MIT" in client.get("/static/vendor/qrcode-generator/qrcode.js").get_data(as_text=True)[:1000]
