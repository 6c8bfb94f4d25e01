"""Recognise how a request authenticates, keeping the scheme and never the credential."""

import functools
import re
from typing import Any

from apimodel.formats import jwt_claim_names

_API_KEY_HEADER = re.compile(r"(x-)?(.*[-_])?(api[-_]?key|api[-_]?token|auth[-_]?token|access[-_]?token)")
_API_KEY_QUERY = re.compile(r"api[-_]?key|api[-_]?token|access[-_]?token|auth[-_]?token")
_SESSION_COOKIE = re.compile(r".*sess.*|sid|.*[._-]sid|.*auth.*|.*[-_]token", re.IGNORECASE)
_NOT_AUTH = re.compile(r".*(csrf|xsrf).*", re.IGNORECASE)
_SCHEME_KIND = {"header": "apikey_header", "query": "apikey_query", "cookie": "cookie"}


def auth_from_request(headers: dict[str, str], query_names: list[str], cookie_names: list[str]) -> dict[str, Any]:
    """The auth scheme of a request: `{"scheme": name}`, plus `"claims"` (names) for a JWT.

    Scheme names: `none`, `basic`, `bearer`, `jwt`, `apikey_header:<header>`,
    `apikey_query:<param>`, `cookie:<cookie>`. `headers` has lower-cased names.
    """
    authorization = headers.get("authorization", "").strip()
    if authorization:
        kind, _, credential = authorization.partition(" ")
        kind = kind.lower()
        if kind == "basic":
            return {"scheme": "basic"}
        if kind == "bearer":
            claims = jwt_claim_names(credential.strip())
            return {"scheme": "bearer"} if claims is None else {"scheme": "jwt", "claims": claims}
        return {"scheme": "apikey_header:authorization"}
    for location, names in (("header", headers), ("query", query_names), ("cookie", cookie_names)):
        for name in sorted(names):
            if is_credential(location, name):
                return {"scheme": f"{_SCHEME_KIND[location]}:{name}"}
    return {"scheme": "none"}


@functools.lru_cache(maxsize=4096)
def is_credential(location: str, name: str) -> bool:
    """Whether a header (lower-cased name), query parameter or cookie carries a credential."""
    if _NOT_AUTH.fullmatch(name):
        return False
    if location == "header":
        return name == "authorization" or _API_KEY_HEADER.fullmatch(name) is not None
    if location == "query":
        return _API_KEY_QUERY.fullmatch(name.lower()) is not None
    return location == "cookie" and _SESSION_COOKIE.fullmatch(name) is not None


def auth_location(scheme: str) -> tuple[str, str] | None:
    """Where an API-key or cookie scheme carries its credential: `("header", name)`,
    `("query", name)` or `("cookie", name)`; None for the other schemes."""
    kind, _, name = scheme.partition(":")
    location = {scheme_kind: location for location, scheme_kind in _SCHEME_KIND.items()}.get(kind)
    return None if location is None else (location, name)


def security_scheme(scheme: str, claims: list[str] | None = None) -> dict[str, Any]:
    """The OpenAPI securityScheme object for a scheme name from `auth_from_request`."""
    location = auth_location(scheme)
    if location is not None:
        return {"type": "apiKey", "in": location[0], "name": location[1]}
    if scheme == "jwt":
        jwt: dict[str, Any] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        if claims:
            jwt["x-jwt-claims"] = claims
        return jwt
    return {"type": "http", "scheme": scheme}
