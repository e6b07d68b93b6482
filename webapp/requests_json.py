"""Request bodies: a JSON object is required, and each failure has its own status and code."""

from __future__ import annotations

import json
from typing import Any, Mapping, TypeVar

import pydantic
from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.errors import ApiError

Body = TypeVar("Body", bound=pydantic.BaseModel)

# How an invalid field is described, by pydantic error type.
FIELD_PROBLEMS = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "unicode_text": "must be valid Unicode text",
}


def read_body() -> bytes:
    """Return the raw body, refusing one over MAX_CONTENT_LENGTH with 413 (chunked ones too)."""
    data = request.get_data(cache=True)
    limit = request.max_content_length
    # A chunked body has no Content-Length: Werkzeug then stops reading at the limit and
    # returns a silently truncated body. One more byte tells whether there was more.
    if (
        limit is not None
        and request.content_length is None
        and len(data) >= limit
        and request.input_stream.read(1)
    ):
        raise RequestEntityTooLarge()
    return data


def json_object() -> dict[str, Any]:
    """Return the body as a JSON object, or raise the matching 4xx ApiError."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    raw = read_body()
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ApiError(400, "malformed_json", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.")
    return body


def parse(model: type[Body]) -> Body:
    """Return the JSON object body validated by a request model, or raise the matching 4xx ApiError."""
    body = json_object()
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as exc:
        raise field_error(exc.errors()[0]) from None


def field_error(error: Mapping[str, Any]) -> ApiError:
    """Return the 422 of a pydantic error: missing_field or invalid_field, naming the field."""
    name = ".".join(str(part) for part in error["loc"]) or "body"
    if error["type"] == "missing":
        return ApiError(422, "missing_field", f"The field '{name}' is required.")
    problem = FIELD_PROBLEMS.get(error["type"], "has an invalid value")
    return ApiError(422, "invalid_field", f"The field '{name}' {problem}.")


def refuse_oversized_body() -> None:
    """Answer 413 before routing when the declared Content-Length is over the limit."""
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
