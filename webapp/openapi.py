"""The OpenAPI 3.1 document, generated from the routes and the models declared on their views.

A view declares its contract with `@openapi.operation(...)`: the request body model (which
also validates the body and is passed to the view as `body`), the success responses, and the
error codes it can answer. `GET /api/openapi.json` assembles the document from the app's URL
map, so a route and its documentation can't drift apart.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, TypeVar

from apispec import APISpec
from flask import Blueprint, Flask, Response, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from webapp import error_catalogue, requests_json, schemas

API_TITLE = "Dance of Mind"
API_VERSION = "1.0.0"
OPENAPI_VERSION = "3.1.0"
BEARER_SCHEME = "bearerAuth"
SCHEMA_REF = "#/components/schemas/{model}"
JSON_MEDIA_TYPE = "application/json"
DOCUMENT_KEY = "openapi_document"

F = TypeVar("F", bound=Callable[..., Any])

# Every route refuses an oversized body before routing; every /api/auth call needs Postgres and Redis.
COMMON_ERRORS: dict[int, tuple[str, ...]] = {413: ("payload_too_large",)}
BACKEND_ERRORS: dict[int, tuple[str, ...]] = {503: ("service_unavailable",)}
BODY_ERRORS: dict[int, tuple[str, ...]] = {
    400: ("malformed_json", "invalid_body"),
    415: ("unsupported_media_type",),
    422: ("missing_field", "invalid_field"),
}
BEARER_ERRORS: dict[int, tuple[str, ...]] = {
    401: ("authorization_required", "invalid_token", "token_expired", "token_revoked"),
}

STATUS_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No content",
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    413: "Payload too large (bodies over 16 KB)",
    415: "Unsupported media type (send application/json)",
    422: "Unprocessable content",
    429: "Too many requests",
    503: "Service unavailable (Postgres or Redis unreachable)",
}

# Answers that carry a header the client must act on.
HEADERS_BY_STATUS = {401: "WWW-Authenticate", 429: "Retry-After", 503: "Retry-After"}
HEADERS = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {
        "description": "The Bearer challenge (RFC 6750).",
        "required": True,
        "schema": {"type": "string"},
    },
}

PATH_PARAMETERS = {
    "session_id": "The `session_id` of `/api/auth/init`; any other value (malformed ones too) answers 404.",
    "passkey_id": "The `id` of one of your passkeys; anyone else's, unknown or malformed ids answer 404.",
}

TAGS = [
    {"name": "auth", "description": "Log a person in through the Telegram bot; access and refresh tokens."},
    {"name": "health", "description": "Liveness and readiness for load balancers."},
    {"name": "docs", "description": "This document, and a viewer of it."},
]

DESCRIPTION = """\
A website posts a phone number, the Telegram bot asks that person "Is this you logging in?",
they tap a button, and the next status poll hands the website JWT access and refresh tokens.

Every error answers `{"error": {"code": "snake_case_code", "message": "human sentence"}}`;
unknown request fields are ignored. `429` and `503` answers carry `Retry-After`.
"""


@dataclass(frozen=True)
class Operation:
    """What one view accepts and answers, for validation and for the document."""

    responses: Mapping[int, type[BaseModel] | None]
    errors: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    bearer: bool = False
    tag: str = "auth"
    # The success answers' media type: /api/docs is an HTML page, every other route answers JSON.
    media_type: str = JSON_MEDIA_TYPE
    # status -> {operationId of a follow-up call: {its parameter: runtime expression}} (OpenAPI links)
    links: Mapping[int, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)

    def error_codes(self) -> dict[int, tuple[str, ...]]:
        """Return every error status of this operation with its codes, the implied ones included."""
        merged: dict[int, tuple[str, ...]] = {}
        implied = [COMMON_ERRORS, BODY_ERRORS if self.body else {}, BEARER_ERRORS if self.bearer else {}, self.errors]
        for table in implied:
            for status, codes in table.items():
                merged[status] = tuple(dict.fromkeys(merged.get(status, ()) + codes))
        return dict(sorted(merged.items()))


def operation(
    *,
    responses: Mapping[int, type[BaseModel] | None],
    errors: Mapping[int, tuple[str, ...]] | None = None,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    bearer: bool = False,
    tag: str = "auth",
    links: Mapping[int, Mapping[str, Mapping[str, str]]] | None = None,
    media_type: str = JSON_MEDIA_TYPE,
) -> Callable[[F], F]:
    """Declare a view's contract; with `body`, validate the JSON body and pass it as `body=`."""
    declared = Operation(
        responses=responses,
        errors=dict(errors or {}),
        body=body,
        query=query,
        bearer=bearer,
        tag=tag,
        links=dict(links or {}),
        media_type=media_type,
    )

    def decorate(view: F) -> F:
        if body is None:
            target = view
        else:

            @functools.wraps(view)
            def target(*args: Any, **kwargs: Any) -> Any:
                return view(*args, body=requests_json.parse(body), **kwargs)

        target.openapi_operation = declared  # type: ignore[attr-defined]
        return target  # type: ignore[return-value]

    return decorate


def declared_operation(view: Callable[..., Any]) -> Operation | None:
    """Return the operation declared on a view, looking through decorators that wrap it."""
    seen: set[int] = set()
    current: Any = view
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = getattr(current, "openapi_operation", None)
        if isinstance(found, Operation):
            return found
        current = getattr(current, "__wrapped__", None)
    return None


def openapi_path(rule: str) -> str:
    """Turn a Werkzeug rule (`/status/<path:session_id>`) into an OpenAPI path (`/status/{session_id}`)."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def documented_routes(app: Flask) -> Iterator[tuple[str, str, str, Operation]]:
    """Yield (path, method, endpoint, operation) for every route of the app that declares one."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        declared = declared_operation(app.view_functions[rule.endpoint])
        if declared is None:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield openapi_path(rule.rule), method.lower(), rule.endpoint, declared


def build_document(app: Flask) -> dict[str, Any]:
    """Generate the OpenAPI document of the app from its routes and declared models."""
    spec = APISpec(
        title=API_TITLE,
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        info={"description": DESCRIPTION},
        tags=TAGS,
    )
    routes = list(documented_routes(app))
    for name, schema in component_schemas(routes).items():
        spec.components.schema(name, schema)
    for name, header in HEADERS.items():
        spec.components.header(name, header)
    spec.components.security_scheme(BEARER_SCHEME, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for path, method, endpoint, declared in routes:
        view = app.view_functions[endpoint]
        spec.path(
            path=path,
            parameters=path_parameters(path),
            operations={method: operation_object(endpoint, view, declared)},
        )
    return spec.to_dict()


def component_schemas(routes: list[tuple[str, str, str, Operation]]) -> dict[str, Any]:
    """Return the JSON schemas of every model the routes use (nested ones lifted), by name."""
    models: list[tuple[type[BaseModel], str]] = [(schemas.ErrorResponse, "serialization")]
    for _, _, _, declared in routes:
        if declared.body is not None:
            models.append((declared.body, "validation"))
        models.extend((model, "serialization") for model in declared.responses.values() if model is not None)
    unique = list(dict.fromkeys(models))
    _, top = models_json_schema(unique, ref_template=SCHEMA_REF)
    return top.get("$defs", {})


def path_parameters(path: str) -> list[dict[str, Any]]:
    """Return the path parameters of an OpenAPI path, all strings."""
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": PATH_PARAMETERS.get(name, name),
            "schema": {"type": "string"},
        }
        for name in re.findall(r"{([^{}]+)}", path)
    ]


def operation_object(endpoint: str, view: Callable[..., Any], declared: Operation) -> dict[str, Any]:
    """Return the OpenAPI operation of one view."""
    doc = (view.__doc__ or "").strip()
    result: dict[str, Any] = {
        "operationId": endpoint.rsplit(".", 1)[-1],
        "tags": [declared.tag],
        "summary": doc.splitlines()[0] if doc else endpoint,
        "responses": {},
    }
    if declared.query is not None:
        result["parameters"] = query_parameters(declared.query)
    if declared.body is not None:
        name = declared.body.__name__
        result["requestBody"] = {"required": True, "content": {"application/json": {"schema": name}}}
    if declared.bearer:
        result["security"] = [{BEARER_SCHEME: []}]
    for status, model in declared.responses.items():
        result["responses"][str(status)] = success_response(status, model, declared.media_type)
        if status in declared.links:
            result["responses"][str(status)]["links"] = {
                target: {"operationId": target, "parameters": dict(parameters)}
                for target, parameters in declared.links[status].items()
            }
    for status, codes in declared.error_codes().items():
        model = declared.responses.get(status) or schemas.ErrorResponse
        result["responses"][str(status)] = error_response(status, codes, model, declared.body)
    result["responses"] = dict(sorted(result["responses"].items()))
    return result


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Return the query parameters described by a model's fields."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        description = prop.pop("description", None)
        prop.pop("title", None)
        parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def success_response(status: int, model: type[BaseModel] | None, media_type: str = JSON_MEDIA_TYPE) -> dict[str, Any]:
    """Return the response object of a success status (no content when a JSON answer has no `model`)."""
    response: dict[str, Any] = {"description": (model.__doc__ or "").strip() if model else STATUS_DESCRIPTIONS[status]}
    if media_type != JSON_MEDIA_TYPE:
        response["content"] = {media_type: {"schema": {"type": "string"}}}
    elif model is not None:
        response["content"] = {JSON_MEDIA_TYPE: {"schema": model.__name__}}
    return response


def error_response(
    status: int, codes: tuple[str, ...], model: type[BaseModel], body: type[BaseModel] | None
) -> dict[str, Any]:
    """Return the response object of an error status, with one example per code."""
    content: dict[str, Any] = {"schema": model.__name__}
    if model is schemas.ErrorResponse:  # other error models add fields these examples lack
        content["examples"] = {code: {"summary": code, "value": error_example(code, body)} for code in codes}
    response: dict[str, Any] = {
        "description": f"{STATUS_DESCRIPTIONS.get(status, 'Error')}: " + ", ".join(f"`{code}`" for code in codes),
        "content": {"application/json": content},
    }
    header = HEADERS_BY_STATUS.get(status)
    if header is not None:
        response["headers"] = {header: header}
    return response


def error_example(code: str, body: type[BaseModel] | None) -> dict[str, Any]:
    """Return an example error body of a code (field errors name the body's first field)."""
    field_name = next(iter(body.model_fields), "field") if body is not None else "field"
    return {"error": {"code": code, "message": error_catalogue.message_of(code).format(field=field_name)}}


bp = Blueprint("openapi", __name__)


@bp.get("/api/openapi.json")
@operation(responses={200: schemas.OpenApiDocument}, tag="docs")
def openapi_document() -> Response:
    """Return this OpenAPI 3.1 document."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    # The routes are fixed once the app is built: generate the document once per process.
    document = app.extensions.get(DOCUMENT_KEY)
    if document is None:
        document = app.extensions[DOCUMENT_KEY] = build_document(app)
    return jsonify(document)
