"""GET /api/docs: Swagger UI over /api/openapi.json, served entirely by this app (no CDN).

Swagger UI's files come from the pinned `flask-swagger-ui` package (its `dist/` folder: Swagger
UI, Apache-2.0), so no megabytes of JavaScript are committed here. Only the files are used, not
the package's blueprint: its page configures Swagger UI in an inline script, which our CSP forbids.
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, make_response, render_template

from webapp import openapi, security_headers

SWAGGER_UI_DIST = Path(flask_swagger_ui.__file__).parent / "dist"
SWAGGER_UI_URL_PATH = "/static/vendor/swagger-ui"

# Everything from this origin; Swagger UI's stylesheet draws its icons as data: SVG images.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

bp = Blueprint("docs", __name__, static_folder=str(SWAGGER_UI_DIST), static_url_path=SWAGGER_UI_URL_PATH)


@bp.get("/api/docs")
@openapi.operation(responses={200: None}, tag="docs", media_type="text/html")
def api_docs() -> Response:
    """Show this OpenAPI document in Swagger UI (an HTML page)."""
    response = make_response(render_template("docs.html"))
    return security_headers.page_policy(response, DOCS_POLICY)
