"""Witnesses as a daemon uploads them, and the check the control plane runs on each before storing it.

A daemon makes its witnesses itself (`witness_from_entry`, after obfuscation) and uploads them as JSON with
`witness_format` = WITNESS_FORMAT (`witness_json`: as stored, but each body's schema as JSON text): the control
plane checks them (`check_witness`) and stores them, instead of making them again from HAR entries. The form
holds no values by construction, and the check keeps it so: every key is known, every leaf is a name, a type, a
format, a size, a timing, a status, a path segment or an auth scheme, and anything else is refused naming the
field. WITNESS_FORMAT changes with what `witness_from_entry` makes (keys, meanings), so that a daemon of another
version is told so rather than building wrong models.

The check is written for speed (it runs per uploaded witness): plain type and key-set tests, no copies, and a
body's schema is read and checked once per distinct text (remembered like `witness_from_entry`'s). A checked
witness keeps its bodies' texts: the control plane stores them as they came (`traces.models.witnesses_pack`), and
`read_bodies` makes the witness `witness_from_entry` made of it.
"""

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from apimodel.formats import FORMATS
from apimodel.schema import MAX_DEPTH, Schema
from apimodel.witness import (
    MAX_BODY_SCHEMA_BYTES,
    MAX_HOST_LENGTH,
    MAX_PATH_LENGTH,
    MEMO_BYTES,
    InvalidEntry,
    Witness,
    _Memo,
    is_standard_header,
)

WITNESS_FORMAT = 1

WITNESS_KEYS = frozenset(
    ["started_at", "method", "scheme", "host", "path", "path_echoes", "query", "auth", "request", "response", "time_ms"]
)
_REQUEST_KEYS = frozenset(["headers", "cookies", "content_type", "size", "body"])
_RESPONSE_KEYS = _REQUEST_KEYS | {"status"}
_SCHEMA_KEYS = frozenset(["type", "format", "properties", "required", "additionalProperties", "items"])
# Tuples, not sets, for what values are compared with: `in` takes an unhashable value (a list where a name should
# be) without raising.
_TYPE_NAMES = ("string", "object", "array", "integer", "number", "boolean", "null")
_FORMAT_NAMES = (*FORMATS, "binary")  # binary: a multipart file
_METHOD = re.compile(r"[A-Z][A-Z-]{0,15}")
_HOST = re.compile(rf"[^/?#@]{{1,{MAX_HOST_LENGTH}}}")
_PATH = re.compile(rf"/[^?#]{{0,{MAX_PATH_LENGTH - 1}}}")
_SCHEMES = ("http", "https")
_PLAIN_AUTH = ("none", "basic", "bearer")
_AUTH_KEYS = frozenset(["scheme"])
_JWT_AUTH_KEYS = frozenset(["scheme", "claims"])


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def witness_json(witness: Witness) -> bytes:
    """A witness as the daemon uploads it: compact UTF-8 JSON, with each body's schema as JSON text (one string for
    the control plane to read instead of a hundred objects, and the same text for the same schema: it checks each
    text once). A lone surrogate (from a `\\ud800` escape in a body's key) becomes "?", as the control plane
    stores it (`traces.models.witnesses_pack`)."""
    request, response = witness["request"], witness["response"]
    uploaded = {
        **witness,
        "request": {**request, "body": None if request["body"] is None else _compact(request["body"])},
        "response": {**response, "body": None if response["body"] is None else _compact(response["body"])},
    }
    return _compact(uploaded).encode(errors="replace")


def _body_schema(text: str) -> Schema:
    """The schema a body's JSON text holds, checked; InvalidEntry if it is not one."""
    if len(text) > MAX_BODY_SCHEMA_BYTES:
        raise _refuse("", f"a body's schema takes at most {MAX_BODY_SCHEMA_BYTES} characters")
    try:
        schema = json.loads(text)
    except (ValueError, RecursionError):
        raise _refuse("", "must be the JSON text of a schema") from None
    check_schema(schema)
    return cast(Schema, schema)


# The body texts checked last (obfuscated bodies of one shape have one schema, so one text).
_body_schemas = _Memo(_body_schema, len, MEMO_BYTES // 4)
# The schemas of the body texts read last: shared by the witnesses read, as `witness_from_entry` shares them, so
# never changed in place.
_read_schemas: _Memo[str, Schema] = _Memo(json.loads, len, MEMO_BYTES // 4)


def read_bodies(witness: Witness) -> Witness:
    """`witness` (checked, or stored) made the witness `witness_from_entry` makes, in place: each body's schema read
    from its JSON text, once per distinct text; a body that is a schema already (stored before bodies were kept as
    text) stays as it is, and so does anything not shaped as a witness (for the builder to refuse)."""
    for part in ("request", "response"):
        message = witness.get(part)
        if type(message) is dict and type(body := message.get("body")) is str:
            message["body"] = _read_schemas.get(body)
    return witness


def _refuse(field: str, message: str) -> InvalidEntry:
    return InvalidEntry(field, message)


def _within(prefix: str, error: InvalidEntry) -> InvalidEntry:
    """`error` of a part, named from its parent."""
    return InvalidEntry(f"{prefix}.{error.field}" if error.field else prefix, error.message)


def _keys(value: object, keys: frozenset[str], field: str, what: str) -> Mapping[str, Any]:
    """`value` as an object with exactly `keys`."""
    if type(value) is not dict:
        raise _refuse(field, f"must be {what} object")
    if value.keys() != keys:
        unknown = sorted(value.keys() - keys)
        if unknown:
            name = f"{field}.{unknown[0]}" if field else unknown[0]
            raise _refuse(name, f"is not a field of a witness (witness_format {WITNESS_FORMAT})")
        missing = sorted(keys - value.keys())
        raise _refuse(f"{field}.{missing[0]}" if field else missing[0], "is required")
    return value


def _is_size(value: object) -> bool:
    # an integer past 64 bits reads back as a float
    return (type(value) is int or type(value) is float) and value >= 0


def _names(value: object, field: str) -> list[str]:
    if type(value) is not list or not all(type(name) is str for name in value):
        raise _refuse(field, "must be a list of names")
    return value


def _is_leaf(schema: object) -> bool:
    """`{}` or `{"type": <one type>}`: most schemas in a body, checked without a call."""
    return type(schema) is dict and (not schema or (len(schema) == 1 and schema.get("type") in _TYPE_NAMES))


def check_schema(schema: object, depth: int = 0) -> None:
    """A JSON Schema as `infer_schema`, `text_schema` and `meld` make them: types, formats, property names and
    nothing else (no `enum`, `const`, `default`, `example`: those hold values). InvalidEntry names the keyword."""
    if _is_leaf(schema):
        return
    if type(schema) is not dict:
        raise _refuse("", "must be a schema object")
    if depth > MAX_DEPTH:  # `infer_schema` makes `{}` below it
        raise _refuse("", f"schemas nest at most {MAX_DEPTH} deep")
    if not schema.keys() <= _SCHEMA_KEYS:
        raise _refuse(sorted(schema.keys() - _SCHEMA_KEYS)[0], "is not a schema keyword a witness holds")
    kind = schema.get("type")
    if (kind is not None and kind not in _TYPE_NAMES) and (
        type(kind) is not list or not kind or not all(k in _TYPE_NAMES for k in kind)
    ):
        raise _refuse("type", "must be a JSON type or a list of them")
    fmt = schema.get("format")
    if fmt is not None and fmt not in _FORMAT_NAMES:
        raise _refuse("format", f"must be one of {', '.join(_FORMAT_NAMES)}")
    properties = schema.get("properties")
    if properties is not None:
        if type(properties) is not dict:
            raise _refuse("properties", "must be an object of schemas")
        for name, child in properties.items():
            # `_is_leaf`, inline: most properties are leaves
            if type(child) is not dict or (child and (len(child) != 1 or child.get("type") not in _TYPE_NAMES)):
                try:
                    check_schema(child, depth + 1)
                except InvalidEntry as error:
                    raise _within(f"properties.{name}", error) from None
    required = schema.get("required")
    # names the schema's properties, each once (any other item, a list or a number, makes the counts differ); as
    # inferred, all of them in order
    if (
        required is not None
        and (properties is None or required != list(properties))
        and (type(required) is not list or len(_names_in(properties, required)) != len(required))
    ):
        raise _refuse("required", "must be a list of the schema's property names")
    for keyword in ("items", "additionalProperties"):
        child = schema.get(keyword)
        if child is not None and not _is_leaf(child):
            try:
                check_schema(child, depth + 1)
            except InvalidEntry as error:
                raise _within(keyword, error) from None


def _names_in(properties: dict[str, Any] | None, names: list[Any]) -> set[str]:
    """The items of `names` that are keys of `properties`."""
    try:
        return properties.keys() & names if properties else set()
    except TypeError:  # an unhashable item
        return set()


def _shapes(value: object, field: str, *, headers: bool) -> Mapping[str, Any]:
    """Query or header shapes: schemas by name (a well-known header has none: only its name is kept)."""
    if type(value) is not dict:
        raise _refuse(field, "must be an object of schemas by name")
    for name, shape in value.items():
        if headers:
            if name != name.lower():
                raise _refuse(f"{field}.{name}", "header names are lower-cased")
            if is_standard_header(name):
                if shape is not None:
                    raise _refuse(f"{field}.{name}", "a well-known header keeps only its name (null)")
                continue
        try:
            check_schema(shape)
        except InvalidEntry as error:
            raise _within(f"{field}.{name}", error) from None
    return value


def _message(value: object, field: str, keys: frozenset[str]) -> Mapping[str, Any]:
    message = _keys(value, keys, field, "a message")
    _shapes(message["headers"], f"{field}.headers", headers=True)
    _names(message["cookies"], f"{field}.cookies")
    media = message["content_type"]
    if media is not None and (type(media) is not str or not media or ";" in media or media != media.strip().lower()):
        raise _refuse(f"{field}.content_type", "must be a lower-cased media type without parameters, or null")
    if not _is_size(message["size"]):
        raise _refuse(f"{field}.size", "must be a size in bytes")
    body = message["body"]
    if body is not None:
        if type(body) is not str:
            raise _refuse(f"{field}.body", "must be the JSON text of a schema, or null")
        try:
            _body_schemas.get(body)
        except InvalidEntry as error:
            raise _within(f"{field}.body", error) from None
    return message


def _auth(value: object, query: Mapping[str, Any], request: Mapping[str, Any]) -> None:
    """`{"scheme": name}`, or `{"scheme": "jwt", "claims": [name]}`; a scheme that names where the credential is
    names one of the request's headers, query parameters or cookies."""
    auth = _keys(value, _JWT_AUTH_KEYS if type(value) is dict and "claims" in value else _AUTH_KEYS, "auth", "an auth")
    scheme = auth["scheme"]
    if "claims" in auth:
        if scheme != "jwt":
            raise _refuse("auth.claims", "only a jwt scheme has claims")
        _names(auth["claims"], "auth.claims")
        return
    if scheme in _PLAIN_AUTH:
        return
    if type(scheme) is str:
        kind, sep, name = scheme.partition(":")
        names = {"apikey_header": request["headers"], "apikey_query": query, "cookie": request["cookies"]}.get(kind)
        if sep and names is not None and name in names:
            return
    raise _refuse(
        "auth.scheme",
        "must be none, basic, bearer, jwt, or apikey_header:, apikey_query: or cookie: with one of the request's names",
    )


def _started_at(value: object) -> None:
    if value is None:
        return
    try:
        datetime.fromisoformat(value).astimezone(UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise _refuse("started_at", "must be an ISO 8601 date and time, or null") from None


def check_witness(value: object) -> dict[str, Any]:
    """`value`, as it is, if it is a witness of WITNESS_FORMAT as uploaded (`witness_json`: each body's schema as JSON
    text) of one `witness_from_entry` makes (`read_bodies` gives that one back); InvalidEntry naming the field
    (`request.body.properties.id.format`) otherwise."""
    witness = _keys(value, WITNESS_KEYS, "", "a witness")
    method = witness["method"]
    if type(method) is not str or not _METHOD.fullmatch(method):
        raise _refuse("method", "must be an upper-case HTTP method (up to 16 letters and dashes)")
    if witness["scheme"] not in _SCHEMES:
        raise _refuse("scheme", "must be http or https")
    host = witness["host"]
    if type(host) is not str or not _HOST.fullmatch(host) or host != host.lower():
        raise _refuse("host", f"must be a lower-cased host[:port] of at most {MAX_HOST_LENGTH} characters")
    path = witness["path"]
    if type(path) is not str or not _PATH.fullmatch(path):
        raise _refuse("path", f"must be a URL path (starting with /, at most {MAX_PATH_LENGTH} characters)")
    echoes = witness["path_echoes"]
    if type(echoes) is not list:
        raise _refuse("path_echoes", "must be a list of path segment indexes")
    if echoes:
        segments = path.count("/")
        previous = -1
        for index in echoes:
            if type(index) is not int or not previous < index < segments:
                raise _refuse("path_echoes", "must be increasing indexes of the path's segments")
            previous = index
    query = _shapes(witness["query"], "query", headers=False)
    request = _message(witness["request"], "request", _REQUEST_KEYS)
    response = _message(witness["response"], "response", _RESPONSE_KEYS)
    status = response["status"]
    if type(status) is not int or not 100 <= status <= 599:
        raise _refuse("response.status", "must be an HTTP status code (100-599)")
    _auth(witness["auth"], query, request)
    _started_at(witness["started_at"])
    time = witness["time_ms"]
    if time is not None and not _is_size(time):
        raise _refuse("time_ms", "must be a duration in milliseconds, or null")
    return cast(dict[str, Any], value)
