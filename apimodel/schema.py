"""JSON Schema inference of values, melding across witnesses, and value redaction.

Schemas are plain JSON Schema (2020-12) dicts. A schema with several types keeps the
keywords of each type side by side (`properties` apply to objects, `format` to strings),
so melding never needs `anyOf`. `meld` is commutative and associative, so the model does
not depend on the order witnesses arrive in.
"""

import re
from typing import Any

from apimodel.formats import id_kind, placeholder, string_format

Schema = dict[str, Any]

MAX_PROPERTIES = 100
# this many distinct keys with none always present: the keys are data, the object a map
DYNAMIC_KEYS_MIN = 40
MAX_DEPTH = 12
MAX_ITEMS = 50

_TYPE_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")
_INTEGER_TEXT = re.compile(r"-?(0|[1-9]\d{0,17})")
_NUMBER_TEXT = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")


def text_schema(text: str) -> Schema:
    """Schema of a text value (query parameter, header, form field): numbers and booleans
    are recognised, other strings get a format when one is detected."""
    if _INTEGER_TEXT.fullmatch(text):
        return {"type": "integer"}
    if _NUMBER_TEXT.fullmatch(text):
        return {"type": "number"}
    if text in ("true", "false"):
        return {"type": "boolean"}
    return _string_schema(text)


def redact_text(text: str) -> str:
    """A placeholder text with the same `text_schema` as `text`."""
    kind = text_schema(text)
    if kind["type"] == "integer":
        return "0"
    if kind["type"] == "number":
        return "0.5"
    if kind["type"] == "boolean":
        return "false"
    return placeholder(kind.get("format"))


def _string_schema(value: str) -> Schema:
    fmt = string_format(value)
    return {"type": "string", "format": fmt} if fmt else {"type": "string"}


def has_dynamic_keys(obj: dict[str, Any]) -> bool:
    """Keys that are ids (or too many to be a record) make the object a map."""
    return len(obj) > MAX_PROPERTIES or (bool(obj) and all(id_kind(key) for key in obj))


def infer_schema(value: object, depth: int = 0) -> Schema:
    """Schema of a JSON value: structure, leaf types and formats, never the values."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return _string_schema(value)
    if depth >= MAX_DEPTH:
        return {}
    if isinstance(value, list):
        schema: Schema = {"type": "array"}
        for item in value[:MAX_ITEMS]:
            item_schema = infer_schema(item, depth + 1)
            schema["items"] = meld(schema["items"], item_schema) if "items" in schema else item_schema
        return schema
    if isinstance(value, dict):
        if has_dynamic_keys(value):
            values = [infer_schema(v, depth + 1) for v in value.values()]
            return {"type": "object", "additionalProperties": _meld_all(values)}
        keys = sorted(value)
        properties = {key: infer_schema(value[key], depth + 1) for key in keys}
        return {"type": "object", "properties": properties, "required": keys}
    return {}


def redact_json(value: object, depth: int = 0) -> object:
    """A JSON value of the same schema as `value` with every leaf replaced by a placeholder."""
    if value is None or isinstance(value, bool):
        return None if value is None else False
    if isinstance(value, int):
        return 0
    if isinstance(value, float):
        return 0.5
    if isinstance(value, str):
        return placeholder(string_format(value))
    if depth >= MAX_DEPTH:
        return [] if isinstance(value, list) else {}
    if isinstance(value, list):
        return [redact_json(item, depth + 1) for item in value[:MAX_ITEMS]]
    if isinstance(value, dict):
        if has_dynamic_keys(value):
            # ids used as keys are values too: number them instead
            return {str(i): redact_json(v, depth + 1) for i, v in enumerate(value.values())}
        return {key: redact_json(v, depth + 1) for key, v in value.items()}
    return None


def _types(schema: Schema) -> list[str]:
    kind = schema.get("type")
    if kind is None:
        return []
    return [kind] if isinstance(kind, str) else list(kind)


def _meld_all(schemas: list[Schema]) -> Schema:
    result = schemas[0]
    for schema in schemas[1:]:
        result = meld(result, schema)
    return result


def _meld_objects(a: Schema, b: Schema) -> Schema:
    if "additionalProperties" in a or "additionalProperties" in b:
        return _as_map(a, b)
    props_a: dict[str, Schema] = a.get("properties", {})
    props_b: dict[str, Schema] = b.get("properties", {})
    names = sorted(props_a.keys() | props_b.keys())
    required = sorted(set(a.get("required", ())) & set(b.get("required", ())))
    if len(names) > MAX_PROPERTIES or (len(names) >= DYNAMIC_KEYS_MIN and not required):
        return _as_map(a, b)
    properties = {
        name: meld(props_a[name], props_b[name])
        if name in props_a and name in props_b
        else props_a[name]
        if name in props_a
        else props_b[name]
        for name in names
    }
    return {"properties": properties, "required": required}


def _as_map(*schemas: Schema) -> Schema:
    values: list[Schema] = []
    for schema in schemas:
        if "additionalProperties" in schema:
            values.append(schema["additionalProperties"])
        values.extend(schema.get("properties", {}).values())
    return {"additionalProperties": _meld_all(values)} if values else {}


def meld(a: Schema, b: Schema) -> Schema:
    """Join two schemas: union of types (integer widens to number), properties required
    only when required on both sides, formats kept only when both sides agree."""
    if a == b:
        return a
    types_a, types_b = _types(a), _types(b)
    if not types_a or not types_b:
        return {}
    types = set(types_a) | set(types_b)
    if "number" in types:
        types.discard("integer")
    ordered = [kind for kind in _TYPE_ORDER if kind in types]
    result: Schema = {"type": ordered[0] if len(ordered) == 1 else ordered}
    if "object" in types:
        if "object" in types_a and "object" in types_b:
            result.update(_meld_objects(a, b))
        else:
            source = a if "object" in types_a else b
            result.update({k: source[k] for k in ("properties", "required", "additionalProperties") if k in source})
    if "array" in types:
        items = [s["items"] for s in (a, b) if "array" in _types(s) and "items" in s]
        if items:
            result["items"] = _meld_all(items)
    if "string" in types:
        formats = [s.get("format") for s in (a, b) if "string" in _types(s)]
        if formats[0] is not None and all(fmt == formats[0] for fmt in formats):
            result["format"] = formats[0]
    return result
