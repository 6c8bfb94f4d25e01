"""HAR 1.2 documents: their entries, and which entries are API traffic.

Shared by the server (HAR uploads) and the agent (`--har`), so both read a file the same way.
"""

import json
from collections.abc import Mapping
from typing import Any


class HarError(ValueError):
    """A document is not a HAR file; the message says what is wrong."""


def har_entries(content: bytes) -> list[Any]:
    """The `log.entries` of a HAR document (raw bytes); HarError when it is not one."""
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise HarError(f"not a JSON HAR file: {error}") from error
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        raise HarError("not a HAR file: log.entries is missing")
    entries: list[Any] = log["entries"]
    return entries


def is_http_exchange(entry: Mapping[str, Any]) -> bool:
    """False for what browsers record beside API traffic: data:, blob: or extension URLs, and requests
    that never got a response (status 0)."""
    request, response = entry.get("request"), entry.get("response")
    url = request.get("url") if isinstance(request, Mapping) else None
    status = response.get("status") if isinstance(response, Mapping) else None
    other_scheme = isinstance(url, str) and not url.lower().startswith(("http://", "https://"))
    return not other_scheme and status != 0
