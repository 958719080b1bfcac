"""The one request parser of the API: JSON only, bounded in size and depth, storable as-is.

Every JSON document the API accepts may end up in a Postgres ``jsonb`` column, which rejects
``\\u0000`` and lone surrogates, and in Python code that walks it recursively. Rejecting those
documents here with a 400 keeps bad input from ever reaching a model or turning into a 500.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser


class PayloadTooLarge(APIException):
    status_code = 413
    default_detail = "Request body too large."
    default_code = "payload_too_large"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_storable_json(value: Any, max_depth: int) -> str | None:
    """Why ``value`` cannot be stored, or None. Iterative, so hostile nesting cannot recurse."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return f"JSON nested deeper than {max_depth} levels."
        if isinstance(item, str):
            if "\x00" in item:
                return "JSON strings must not contain the NUL character (\\u0000)."
            if _has_surrogate(item):
                return "JSON strings must be valid Unicode (no lone surrogates)."
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key or _has_surrogate(key):
                    return "JSON keys must be valid Unicode without NUL characters."
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return None


def parse_json_bytes(raw: bytes) -> Any:
    """Decode a JSON document or raise ParseError with a message a client can act on."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("Request body is not valid UTF-8.") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ParseError(f"JSON nested deeper than {settings.API_MAX_JSON_DEPTH} levels.") from None
    except ValueError as error:
        raise ParseError(f"JSON parse error: {error}") from None
    problem = check_storable_json(data, settings.API_MAX_JSON_DEPTH)
    if problem:
        raise ParseError(problem)
    return data


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"Request body larger than {limit} bytes.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body larger than {limit} bytes.")
        if not raw.strip():
            return {}
        return parse_json_bytes(raw)
