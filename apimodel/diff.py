"""Compare two API models: endpoints, fields, status codes and auth that changed, each change marked breaking or not.

Whether a change breaks clients depends on its direction. A request change breaks them when the API asks more of
them: a field or parameter became required, a type narrowed (a value they send is no longer seen accepted), an
auth scheme they use is no longer seen. A response change breaks them when it gives them something they did not
get before: a field removed or no longer always present, a type changed beyond what they handled, a new error
status. A removed endpoint breaks them; new endpoints, new optional request fields and new response fields do not.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_PARAM = re.compile(r"\{[^{}]*\}")
_REQUEST_PLACES = ("query", "header", "cookie")

EndpointKey = tuple[str, str, str]
Change = dict[str, Any]


def _key(endpoint: Mapping[str, Any]) -> EndpointKey:
    # parameter names may differ between builds; the template's shape is what matters
    return endpoint["host"], _PARAM.sub("{}", endpoint["path"]), endpoint["method"]


def endpoint_key(method: str, path: str) -> tuple[str, str]:
    """How an endpoint is matched whatever its parameter names: `("GET", "/users/{}")`."""
    return method.upper(), _PARAM.sub("{}", path)


def _kinds(schema: Mapping[str, Any]) -> frozenset[str]:
    """The kinds of value a schema admits (`integer`, `string(uuid)`, …); empty means any value."""
    kind = schema.get("type")
    if kind is None:
        return frozenset()
    fmt = schema.get("format")
    kinds = [kind] if isinstance(kind, str) else list(kind)
    return frozenset(f"string({fmt})" if k == "string" and fmt else k for k in kinds)


def describe_type(schema: Mapping[str, Any]) -> str:
    """A short type label: `integer`, `string(uuid)|null`, `any`."""
    kind = schema.get("type")
    if kind is None:
        return "any"
    kinds = [kind] if isinstance(kind, str) else list(kind)
    fmt = schema.get("format")
    return "|".join(f"string({fmt})" if k == "string" and fmt else k for k in kinds)


def _admits(wider: frozenset[str], narrower: frozenset[str]) -> bool:
    """Whether every value of the `narrower` kinds is also one of the `wider` kinds."""
    if not wider:
        return True
    if not narrower:
        return False
    return all(
        kind in wider or (kind == "integer" and "number" in wider) or (kind.startswith("string(") and "string" in wider)
        for kind in narrower
    )


@dataclass(frozen=True)
class _Field:
    kinds: frozenset[str]
    label: str
    required: bool


def _field(schema: Mapping[str, Any], required: bool) -> _Field:
    return _Field(_kinds(schema), describe_type(schema), required)


def _schema_fields(schema: Mapping[str, Any], path: str = "$", required: bool = True) -> Iterator[tuple[str, _Field]]:
    """(field path, field) of every node of a schema: `$.data[].id`, `$.meta{}`; a property is required when its
    object always had it."""
    yield path, _field(schema, required)
    always = set(schema.get("required", ()))
    for name, sub in schema.get("properties", {}).items():
        yield from _schema_fields(sub, f"{path}.{name}", name in always)
    if isinstance(schema.get("additionalProperties"), Mapping):
        yield from _schema_fields(schema["additionalProperties"], f"{path}{{}}", False)
    if isinstance(schema.get("items"), Mapping):
        yield from _schema_fields(schema["items"], f"{path}[]")


def _endpoint_fields(endpoint: Mapping[str, Any], statuses: set[str]) -> dict[tuple[str, str], _Field]:
    """Every field of an endpoint keyed by (where, field); response fields of `statuses` only."""
    fields: dict[tuple[str, str], _Field] = {}
    for param in endpoint["parameters"]:
        if param["in"] != "path":
            fields[(param["in"], param["name"])] = _field(param["schema"], param["required"])
    for media, schema in endpoint["request_body"].items():
        fields.update({(f"request {media}", path): field for path, field in _schema_fields(schema)})
    for status in statuses:
        for media, schema in endpoint["responses"][status]["content"].items():
            fields.update({(f"response {status} {media}", path): field for path, field in _schema_fields(schema)})
    return fields


def _noun(where: str) -> str:
    if where in _REQUEST_PLACES:
        return f"{where} parameter"
    return "request field" if where.startswith("request ") else "response field"


def _is_request(where: str) -> bool:
    return where in _REQUEST_PLACES or where.startswith("request ")


def _marked(change: Change, breaking: bool, reason: str) -> Change:
    return {**change, "breaking": breaking, "reason": reason}


def _field_added(where: str, name: str, field: _Field) -> Change:
    change = {"in": where, "field": name, "type": field.label, "required": field.required}
    noun = _noun(where)
    if not _is_request(where):
        return _marked(change, False, f"new {noun}")
    if field.required:
        return _marked(change, True, f"new required {noun}")
    return _marked(change, False, f"new optional {noun}")


def _field_removed(where: str, name: str, field: _Field) -> Change:
    change = {"in": where, "field": name, "type": field.label, "required": field.required}
    if _is_request(where):
        return _marked(change, False, f"{_noun(where)} no longer sent")
    return _marked(change, True, f"{_noun(where)} removed")


def _field_changed(where: str, name: str, old: _Field, new: _Field) -> Change:
    change = {
        "in": where,
        "field": name,
        "old_type": old.label,
        "new_type": new.label,
        "old_required": old.required,
        "new_required": new.required,
    }
    noun, request = _noun(where), _is_request(where)
    findings: list[tuple[bool, str]] = []
    if old.label != new.label:
        # Requests break when the API accepts less; responses when clients get values they did not before.
        if request:
            narrowed = not _admits(new.kinds, old.kinds)
            verb = "narrowed" if narrowed else "widened"
            findings.append((narrowed, f"{noun} type {verb} from {old.label} to {new.label}"))
        else:
            changed = not _admits(old.kinds, new.kinds)
            verb = "changed" if changed else "narrowed"
            findings.append((changed, f"{noun} type {verb} from {old.label} to {new.label}"))
    if old.required != new.required:
        if request:
            findings.append((new.required, f"{noun} became {'required' if new.required else 'optional'}"))
        else:
            findings.append((old.required, f"{noun} {'no longer' if old.required else 'now'} always present"))
    return _marked(change, any(breaking for breaking, _ in findings), "; ".join(reason for _, reason in findings))


def _status_added(status: str) -> Change:
    if int(status) >= 400:
        return _marked({"status": status}, True, f"new error status {status}")
    return _marked({"status": status}, False, f"new status {status}")


def _status_removed(status: str) -> Change:
    return _marked({"status": status}, False, f"status {status} no longer returned")


def _auth_added(scheme: str) -> Change:
    return _marked({"scheme": scheme}, False, f"new auth scheme {scheme}")


def _auth_removed(scheme: str) -> Change:
    return _marked({"scheme": scheme}, True, f"auth scheme {scheme} no longer accepted")


def _ref(endpoint: Mapping[str, Any]) -> dict[str, str]:
    return {"method": endpoint["method"], "host": endpoint["host"], "path": endpoint["path"]}


# The lists of changes inside a changed endpoint, and the kind of change each holds.
CHANGE_KINDS = {
    "fields_added": "field_added",
    "fields_removed": "field_removed",
    "fields_changed": "field_changed",
    "statuses_added": "status_added",
    "statuses_removed": "status_removed",
    "auth_added": "auth_added",
    "auth_removed": "auth_removed",
}


def _endpoint_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    shared = set(old["responses"]) & set(new["responses"])
    before, after = _endpoint_fields(old, shared), _endpoint_fields(new, shared)
    changes: dict[str, list[Change]] = {
        "fields_added": [_field_added(w, f, after[(w, f)]) for w, f in sorted(after.keys() - before.keys())],
        "fields_removed": [_field_removed(w, f, before[(w, f)]) for w, f in sorted(before.keys() - after.keys())],
        "fields_changed": [
            _field_changed(w, f, before[(w, f)], after[(w, f)])
            for w, f in sorted(before.keys() & after.keys())
            if before[(w, f)] != after[(w, f)]
        ],
        "statuses_added": [_status_added(s) for s in sorted(set(new["responses"]) - set(old["responses"]))],
        "statuses_removed": [_status_removed(s) for s in sorted(set(old["responses"]) - set(new["responses"]))],
        "auth_added": [_auth_added(s) for s in sorted(set(new["auth"]) - set(old["auth"]))],
        "auth_removed": [_auth_removed(s) for s in sorted(set(old["auth"]) - set(new["auth"]))],
    }
    if not any(changes.values()):
        return None
    breaking = any(change["breaking"] for items in changes.values() for change in items)
    return {**_ref(new), **changes, "breaking": breaking}


def diff_models(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """What changed from `old` to `new` (two `ModelBuilder.result()` models), each change with `breaking` and a
    `reason`, and `breaking` overall.

    Endpoints match by host, method and path template (parameter names aside). Fields
    are compared per parameter location, request body and response status present in both.
    """
    before = {_key(e): e for e in old["endpoints"]}
    after = {_key(e): e for e in new["endpoints"]}
    changed = [_endpoint_changes(before[key], after[key]) for key in sorted(before.keys() & after.keys())]
    new_schemes, old_schemes = new["security_schemes"].keys(), old["security_schemes"].keys()
    diff: dict[str, Any] = {
        "endpoints_added": [
            _marked(_ref(after[key]), False, "new endpoint") for key in sorted(after.keys() - before.keys())
        ],
        "endpoints_removed": [
            _marked(_ref(before[key]), True, "endpoint removed") for key in sorted(before.keys() - after.keys())
        ],
        "endpoints_changed": [change for change in changed if change is not None],
        "security_schemes_added": [
            _marked({"scheme": scheme}, False, "new security scheme") for scheme in sorted(new_schemes - old_schemes)
        ],
        "security_schemes_removed": [
            _marked({"scheme": scheme}, True, "no endpoint accepts it any more")
            for scheme in sorted(old_schemes - new_schemes)
        ],
    }
    diff["breaking"] = any(item["breaking"] for items in diff.values() for item in items)
    return diff


def diff_is_empty(diff: Mapping[str, Any]) -> bool:
    """Whether a `diff_models` result found no change at all."""
    return not any(value for key, value in diff.items() if key != "breaking")


def change_list(diff: Mapping[str, Any]) -> list[Change]:
    """Every change inside the changed endpoints of a `diff_models` result, one flat list: each names its
    endpoint, what kind of change it is (`field_removed`, `status_added`, …), `breaking` and a `reason`."""
    return [
        {**_ref(endpoint), "change": kind, **item}
        for endpoint in diff["endpoints_changed"]
        for items, kind in CHANGE_KINDS.items()
        for item in endpoint[items]
    ]
