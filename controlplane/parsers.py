"""JSON request bodies, parsed one way everywhere: orjson, which is fast and strict. It refuses what would poison
what is stored (lone UTF-16 surrogates, NaN and infinities) and nesting deeper than 1,024 levels (where the
standard library's parser raises RecursionError), so each is a 400 naming the field rather than a 500 or a
broken model build later."""

import json
import math
from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.parsers import BaseParser

from controlplane.errors import Invalid

MAX_DEPTH = 1024


def json_body(body: bytes) -> Any:
    """The value of a JSON body; `Invalid` saying what is wrong, and in which field when it can."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise _refusal(body, error) from None


def _refusal(body: bytes, error: orjson.JSONDecodeError) -> Invalid:
    """Why orjson refused a body. The standard library's parser takes what orjson does not store (lone
    surrogates, NaN, infinities): when it reads the body, the first such value is named."""
    if "depth" in str(error):
        return Invalid(f"The body is nested deeper than {MAX_DEPTH} levels.")
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return Invalid(f"The body is not valid JSON: {error}")
    field = _unstorable(value, "")
    if field is None:
        return Invalid(f"The body is not valid JSON: {error}")
    # The key at fault may be in the path: escaped, so that the error itself can be sent.
    field = field.encode(errors="backslashreplace").decode()
    return Invalid("Contains a lone UTF-16 surrogate, NaN or an infinite number.", field=field or None)


def _unstorable(value: Any, path: str) -> str | None:
    """The path of the first string (or key) with a lone surrogate or the first non-finite number in `value`."""
    if isinstance(value, str):
        return path if _has_surrogate(value) else None
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, list):
        items: Any = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    elif isinstance(value, dict):
        items = ((f"{path}.{key}" if path else key, item) for key, item in value.items())
        for key in value:
            if _has_surrogate(key):
                return f"{path}.{key}" if path else key
    else:
        return None
    for item_path, item in items:
        if (found := _unstorable(item, item_path)) is not None:
            return found
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


class JsonParser(BaseParser):
    """DRF's parser for `application/json`, on `json_body`."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        return json_body(stream.read() if stream is not None else b"")
