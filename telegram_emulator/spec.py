"""Load the machine-readable Bot API description and check calls against it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from telegram_emulator.errors import BotApiError, bad_request

# Parameters Telegram dropped from the docs but still honours; a bot using them is not broken.
LEGACY_PARAMETERS: dict[str, tuple[str, list[str]]] = {
    "reply_to_message_id": ("reply_parameters", ["Integer"]),
    "allow_sending_without_reply": ("reply_parameters", ["Boolean"]),
    "disable_web_page_preview": ("link_preview_options", ["Boolean"]),
}

# Missing-parameter wording Telegram uses for the parameters our bot sends most.
MISSING_PARAMETER_REASONS = {
    "text": "message text is empty",
    "chat_id": "chat_id is empty",
    "callback_query_id": "query is too old and response timeout expired or query ID is invalid",
}

_ARRAY_PREFIX = "Array of "
# Subtypes name their discriminator in prose: "Scope type, must be chat" / "always “emoji”".
_LITERAL_PATTERNS = (re.compile(r"must be ([a-z_]+)\.?$"), re.compile(r"always “([a-z_]+)”"))


def default_spec_path() -> Path:
    """Return the api.json the emulator carries as package data (bot_api_spec/README.md: its source)."""
    return Path(str(resources.files("telegram_emulator") / "bot_api_spec" / "api.json"))


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request; only its name and size matter to the emulator."""

    filename: str
    size: int

    def __str__(self) -> str:
        return f"<uploaded file {self.filename!r}, {self.size} bytes>"


class BotApiSpec:
    """The Bot API methods and types, with call decoding and structural validation."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.version: str = raw.get("version", "?")
        self.methods: dict[str, dict[str, Any]] = dict(raw["methods"])
        self.types: dict[str, dict[str, Any]] = dict(raw["types"])
        self._method_by_lower_name = {name.lower(): name for name in self.methods}

    @classmethod
    def load(cls, path: Path | str | None = None) -> "BotApiSpec":
        """Read api.json from `path` (default: `default_spec_path()`)."""
        spec_path = Path(path) if path else default_spec_path()
        with spec_path.open(encoding="utf-8") as spec_file:
            return cls(json.load(spec_file))

    def canonical_method_name(self, name: str) -> str | None:
        """Return the spec spelling of a method name (Telegram ignores case), or None."""
        return self._method_by_lower_name.get(name.lower())

    def parameter_types(self, method: str) -> dict[str, list[str]]:
        """Return {parameter: spec types} for a method, legacy parameters included."""
        fields = self.methods[method].get("fields", [])
        types = {field["name"]: field["types"] for field in fields}
        for legacy_name, (modern_name, legacy_types) in LEGACY_PARAMETERS.items():
            if modern_name in types:
                types[legacy_name] = legacy_types
        return types

    def decode_params(self, method: str | None, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Turn form strings into JSON values wherever the spec type is not plain String."""
        types = self.parameter_types(method) if method else {}
        decoded: dict[str, Any] = {}
        for name, value in raw.items():
            if isinstance(value, str) and types.get(name, ["?"]) != ["String"]:
                # PTB JSON-encodes every non-string value (chat_id='123', flags='true').
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            decoded[name] = value
        return decoded

    def validate_call(self, method: str, params: Mapping[str, Any]) -> None:
        """Raise a 400 BotApiError listing every way `params` break the method's signature."""
        fields = self.methods[method].get("fields", [])
        types = self.parameter_types(method)
        problems: list[str] = []
        first_reason: str | None = None
        for field in fields:
            if field["required"] and field["name"] not in params:
                problems.append(f'parameter "{field["name"]}" is required')
                first_reason = first_reason or MISSING_PARAMETER_REASONS.get(field["name"])
        for name, value in params.items():
            if name not in types:
                problems.append(f'unknown parameter "{name}" for method {method}')
                continue
            problems.extend(self.type_problems(value, types[name], name))
        if problems:
            raise bad_request(first_reason or problems[0], problems=problems)

    def type_problems(self, value: Any, type_names: list[str], path: str) -> list[str]:
        """Return the problems of `value` against a union of spec types ([] when it fits)."""
        candidates = [self._single_type_problems(value, name, path) for name in type_names]
        if any(not problems for problems in candidates):
            return []
        if len(type_names) == 1:
            return candidates[0]
        object_candidates = [
            (name, problems)
            for name, problems in zip(type_names, candidates)
            if isinstance(value, dict) and name in self.types
        ]
        if object_candidates:
            # Report against the object type the value most resembles (most known keys).
            _, best_problems = max(
                object_candidates, key=lambda candidate: self._known_key_count(value, candidate[0])
            )
            return best_problems
        return [f"{path}: expected {' or '.join(type_names)}, got {_describe(value)}"]

    def _single_type_problems(self, value: Any, type_name: str, path: str) -> list[str]:
        if type_name.startswith(_ARRAY_PREFIX):
            if not isinstance(value, list):
                return [f"{path}: expected {type_name}, got {_describe(value)}"]
            item_type = type_name[len(_ARRAY_PREFIX):]
            problems: list[str] = []
            for index, item in enumerate(value):
                problems.extend(self.type_problems(item, [item_type], f"{path}[{index}]"))
            return problems
        scalar_check = _SCALAR_CHECKS.get(type_name)
        if scalar_check is not None:
            return [] if scalar_check(value) else [f"{path}: expected {type_name}, got {_describe(value)}"]
        if type_name == "InputFile":
            return [] if isinstance(value, UploadedFile) else [f"{path}: expected an uploaded file"]
        if type_name == "KeyboardButton" and isinstance(value, str):
            return []  # Telegram documents a bare string as a text-only reply button.
        if type_name not in self.types:
            return [f"{path}: spec type {type_name} is unknown to the emulator"]
        return self._object_problems(value, type_name, path)

    def _object_problems(self, value: Any, type_name: str, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path}: expected {type_name} object, got {_describe(value)}"]
        type_spec = self.types[type_name]
        if "subtypes" in type_spec:
            return self.type_problems(value, type_spec["subtypes"], path)
        fields = {field["name"]: field for field in type_spec.get("fields", [])}
        problems = [
            f'{path}: unknown field "{key}" in {type_name}' for key in value if key not in fields
        ]
        for name, field in fields.items():
            if name not in value:
                if field["required"]:
                    problems.append(f'{path}: field "{name}" of {type_name} is required')
                continue
            field_path = f"{path}.{name}"
            problems.extend(self.type_problems(value[name], field["types"], field_path))
            literal = _required_literal(field["description"])
            if literal is not None and value[name] != literal:
                problems.append(f'{field_path}: must be "{literal}" in {type_name}')
        return problems

    def _known_key_count(self, value: dict[str, Any], type_name: str) -> int:
        type_spec = self.types[type_name]
        names = {field["name"] for field in type_spec.get("fields", [])}
        for subtype in type_spec.get("subtypes", []):
            names.update(field["name"] for field in self.types[subtype].get("fields", []))
        return len(names & value.keys())


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_float(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_SCALAR_CHECKS = {
    "Integer": _is_integer,
    "Float": _is_float,
    "String": lambda value: isinstance(value, str),
    "Boolean": lambda value: isinstance(value, bool),
}


def _required_literal(description: str) -> str | None:
    for pattern in _LITERAL_PATTERNS:
        match = pattern.search(description)
        if match:
            return match.group(1)
    return None


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return f"String {value[:40]!r}"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def load_default_spec() -> BotApiSpec:
    """Load the spec at `default_spec_path()` (read once per path), explaining a missing file."""
    path = default_spec_path()
    if not path.is_file():
        raise FileNotFoundError(f"Bot API spec not found at {path}: the package telegram_emulator is incomplete")
    return _load_cached(str(path))


@lru_cache(maxsize=4)
def _load_cached(path: str) -> BotApiSpec:
    return BotApiSpec.load(path)


def require_known_method(spec: BotApiSpec, name: str) -> str:
    """Return the canonical method name or raise Telegram's 404 for unknown methods."""
    canonical = spec.canonical_method_name(name)
    if canonical is None:
        raise BotApiError(404, "Not Found")
    return canonical
