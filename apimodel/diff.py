"""Compare two API models: endpoints, fields, status codes and auth that changed."""

import re
from collections.abc import Iterator, Mapping
from typing import Any

_PARAM = re.compile(r"\{[^{}]*\}")

EndpointKey = tuple[str, str, str]


def _key(endpoint: Mapping[str, Any]) -> EndpointKey:
    # parameter names may differ between builds; the template's shape is what matters
    return endpoint["host"], _PARAM.sub("{}", endpoint["path"]), endpoint["method"]


def describe_type(schema: Mapping[str, Any]) -> str:
    """A short type label: `integer`, `string(uuid)|null`, `any`."""
    kind = schema.get("type")
    if kind is None:
        return "any"
    kinds = [kind] if isinstance(kind, str) else list(kind)
    fmt = schema.get("format")
    return "|".join(f"string({fmt})" if k == "string" and fmt else k for k in kinds)


def schema_fields(schema: Mapping[str, Any], path: str = "$") -> Iterator[tuple[str, str]]:
    """(field path, type label) of every node of a schema: `$.data[].id`, `$.meta{}`."""
    yield path, describe_type(schema)
    for name, sub in schema.get("properties", {}).items():
        yield from schema_fields(sub, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), Mapping):
        yield from schema_fields(schema["additionalProperties"], f"{path}{{}}")
    if isinstance(schema.get("items"), Mapping):
        yield from schema_fields(schema["items"], f"{path}[]")


def _endpoint_fields(endpoint: Mapping[str, Any], statuses: set[str]) -> dict[tuple[str, str], str]:
    """Every field of an endpoint keyed by (where, field); response fields of `statuses` only."""
    fields: dict[tuple[str, str], str] = {}
    for param in endpoint["parameters"]:
        if param["in"] != "path":
            fields[(param["in"], param["name"])] = describe_type(param["schema"])
    for media, schema in endpoint["request_body"].items():
        fields.update({(f"request {media}", path): label for path, label in schema_fields(schema)})
    for status in statuses:
        for media, schema in endpoint["responses"][status]["content"].items():
            fields.update({(f"response {status} {media}", path): label for path, label in schema_fields(schema)})
    return fields


def _ref(endpoint: Mapping[str, Any]) -> dict[str, str]:
    return {"method": endpoint["method"], "host": endpoint["host"], "path": endpoint["path"]}


def _endpoint_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    shared = set(old["responses"]) & set(new["responses"])
    before, after = _endpoint_fields(old, shared), _endpoint_fields(new, shared)
    changes: dict[str, Any] = {
        "fields_added": [{"in": w, "field": f, "type": after[(w, f)]} for w, f in sorted(after.keys() - before.keys())],
        "fields_removed": [
            {"in": w, "field": f, "type": before[(w, f)]} for w, f in sorted(before.keys() - after.keys())
        ],
        "fields_changed": [
            {"in": w, "field": f, "old_type": before[(w, f)], "new_type": after[(w, f)]}
            for w, f in sorted(before.keys() & after.keys())
            if before[(w, f)] != after[(w, f)]
        ],
        "statuses_added": sorted(set(new["responses"]) - set(old["responses"])),
        "statuses_removed": sorted(set(old["responses"]) - set(new["responses"])),
        "auth_added": sorted(set(new["auth"]) - set(old["auth"])),
        "auth_removed": sorted(set(old["auth"]) - set(new["auth"])),
    }
    if not any(changes.values()):
        return None
    return {**_ref(new), **changes}


def diff_models(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """What changed from `old` to `new` (two `ModelBuilder.result()` models).

    Endpoints match by host, method and path template (parameter names aside). Fields
    are compared per parameter location, request body and response status present in both.
    """
    before = {_key(e): e for e in old["endpoints"]}
    after = {_key(e): e for e in new["endpoints"]}
    changed = [_endpoint_changes(before[key], after[key]) for key in sorted(before.keys() & after.keys())]
    return {
        "endpoints_added": [_ref(after[key]) for key in sorted(after.keys() - before.keys())],
        "endpoints_removed": [_ref(before[key]) for key in sorted(before.keys() - after.keys())],
        "endpoints_changed": [change for change in changed if change is not None],
        "security_schemes_added": sorted(new["security_schemes"].keys() - old["security_schemes"].keys()),
        "security_schemes_removed": sorted(old["security_schemes"].keys() - new["security_schemes"].keys()),
    }
