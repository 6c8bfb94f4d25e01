"""JSON request bodies, parsed one way everywhere: orjson, which is fast and strict. It refuses what would poison
what is stored (lone UTF-16 surrogates, NaN and infinities) and nesting deeper than 1,024 (where the standard
library's parser raises RecursionError), so each is a 400 rather than a 500 or a broken build later."""

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


class JsonParser(BaseParser):
    """DRF's parser for `application/json`, on orjson."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return orjson.loads(stream.read() if stream is not None else b"")
        except orjson.JSONDecodeError as error:
            raise ParseError(f"The body is not valid JSON: {error}") from error
