from typing import Any

import pytest

from apimodel.diff import change_list, diff_is_empty, diff_models, endpoint_key


def test_it_finds_nothing_between_equal_models(make_entry, model_of) -> None:
    model = model_of([make_entry(url="https://a.example/u/1", response_json={"id": 1})])
    diff = diff_models(model, model)
    assert diff == {
        "endpoints_added": [],
        "endpoints_removed": [],
        "endpoints_changed": [],
        "security_schemes_added": [],
        "security_schemes_removed": [],
        "breaking": False,
    }
    assert diff_is_empty(diff)


def test_it_lists_added_and_removed_endpoints(make_entry, model_of) -> None:
    old = model_of([make_entry(url="https://a.example/a"), make_entry(url="https://a.example/b")])
    new = model_of([make_entry(url="https://a.example/b"), make_entry("POST", "https://a.example/c")])
    diff = diff_models(old, new)
    assert diff["endpoints_added"] == [
        {"method": "POST", "host": "a.example", "path": "/c", "breaking": False, "reason": "new endpoint"}
    ]
    assert diff["endpoints_removed"] == [
        {"method": "GET", "host": "a.example", "path": "/a", "breaking": True, "reason": "endpoint removed"}
    ]
    assert diff["breaking"] and not diff_is_empty(diff)


def test_it_lists_field_changes(make_entry, model_of) -> None:
    old = model_of([make_entry(url="https://a.example/u?q=x", response_json={"id": 1, "name": "a"})])
    new = model_of([make_entry(url="https://a.example/u?page=2", response_json={"id": "x", "email": "a@b.example"})])
    (changed,) = diff_models(old, new)["endpoints_changed"]
    body = "response 200 application/json"
    assert changed["fields_added"] == [
        {"in": "query", "field": "page", "type": "integer", "required": True}
        | {"breaking": True, "reason": "new required query parameter"},
        {"in": body, "field": "$.email", "type": "string(email)", "required": True}
        | {"breaking": False, "reason": "new response field"},
    ]
    assert changed["fields_removed"] == [
        {"in": "query", "field": "q", "type": "string", "required": True}
        | {"breaking": False, "reason": "query parameter no longer sent"},
        {"in": body, "field": "$.name", "type": "string", "required": True}
        | {"breaking": True, "reason": "response field removed"},
    ]
    assert changed["fields_changed"] == [
        {"in": body, "field": "$.id", "old_type": "integer", "new_type": "string"}
        | {"old_required": True, "new_required": True}
        | {"breaking": True, "reason": "response field type changed from integer to string"}
    ]


def test_it_lists_status_and_auth_changes(make_entry, model_of) -> None:
    old = model_of([make_entry(headers={"Authorization": "Bearer t"}), make_entry(status=404)])
    new = model_of([make_entry(headers={"X-Api-Key": "k"}), make_entry(status=500), make_entry(status=201)])
    diff = diff_models(old, new)
    (changed,) = diff["endpoints_changed"]
    assert changed["statuses_added"] == [
        {"status": "201", "breaking": False, "reason": "new status 201"},
        {"status": "500", "breaking": True, "reason": "new error status 500"},
    ]
    assert changed["statuses_removed"] == [
        {"status": "404", "breaking": False, "reason": "status 404 no longer returned"}
    ]
    assert [(c["scheme"], c["breaking"]) for c in changed["auth_added"]] == [("apikey_header:x-api-key", False)]
    assert [(c["scheme"], c["breaking"]) for c in changed["auth_removed"]] == [("bearer", True)]
    assert [c["scheme"] for c in diff["security_schemes_added"]] == ["apikey_header:x-api-key"]
    assert [(c["scheme"], c["breaking"]) for c in diff["security_schemes_removed"]] == [("bearer", True)]


def test_it_matches_templates_whatever_their_parameter_names(make_entry, model_of) -> None:
    old = model_of([make_entry(url="https://a.example/things/1")])
    new = model_of([make_entry(url="https://a.example/things/1")])
    new["endpoints"][0]["path"] = "/things/{id}"
    assert diff_models(old, new)["endpoints_added"] == []
    assert endpoint_key("get", "/things/{thing_id}") == endpoint_key("GET", "/things/{id}") == ("GET", "/things/{}")


# Classification by direction, on made-up one-endpoint models.


def model(
    *, parameters: tuple[dict[str, Any], ...] = (), request: dict[str, Any] | None = None, **responses: Any
) -> dict:
    endpoint = {
        "method": "POST",
        "host": "a.example",
        "path": "/orders",
        "parameters": list(parameters),
        "request_body": {"application/json": request} if request else {},
        "responses": {
            status[1:]: {"count": 1, "content": {"application/json": body}} for status, body in responses.items()
        },
        "auth": ["none"],
    }
    return {"endpoints": [endpoint], "security_schemes": {}}


def obj(required: list[str] | None = None, **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties) if required is None else required,
    }


INT, NUM, STR, UUID = {"type": "integer"}, {"type": "number"}, {"type": "string"}, {"type": "string", "format": "uuid"}
NULLABLE_STR = {"type": ["string", "null"]}


def only_change(old: dict, new: dict) -> dict[str, Any]:
    (change,) = change_list(diff_models(old, new))
    return change


@pytest.mark.parametrize(
    ("old", "new", "breaking", "reason"),
    [
        (obj([], note=STR), obj(note=STR), True, "request field became required"),
        (obj(note=STR), obj([], note=STR), False, "request field became optional"),
        (obj(qty=NUM), obj(qty=INT), True, "request field type narrowed from number to integer"),
        (obj(qty=INT), obj(qty=NUM), False, "request field type widened from integer to number"),
        (obj(id=STR), obj(id=UUID), True, "request field type narrowed from string to string(uuid)"),
        (obj(note=NULLABLE_STR), obj(note=STR), True, "request field type narrowed from string|null to string"),
        (obj(), obj(note=STR), True, "new required request field"),
        (obj(), obj([], note=STR), False, "new optional request field"),
        (obj(note=STR), obj(), False, "request field no longer sent"),
    ],
)
def test_request_changes_break_clients_when_the_api_asks_more_of_them(old, new, breaking, reason) -> None:
    change = only_change(model(request=old, s201=obj()), model(request=new, s201=obj()))
    assert (change["in"], change["breaking"], change["reason"]) == ("request application/json", breaking, reason)


@pytest.mark.parametrize(
    ("old", "new", "breaking", "reason"),
    [
        (obj(id=INT), obj(), True, "response field removed"),
        (obj(), obj(id=INT), False, "new response field"),
        (obj(id=INT), obj([], id=INT), True, "response field no longer always present"),
        (obj([], id=INT), obj(id=INT), False, "response field now always present"),
        (obj(id=INT), obj(id=STR), True, "response field type changed from integer to string"),
        (obj(id=INT), obj(id=NUM), True, "response field type changed from integer to number"),
        (obj(id=NULLABLE_STR), obj(id=STR), False, "response field type narrowed from string|null to string"),
    ],
)
def test_response_changes_break_clients_when_they_get_what_they_did_not_before(old, new, breaking, reason) -> None:
    change = only_change(model(s200=old), model(s200=new))
    assert (change["in"], change["breaking"], change["reason"]) == ("response 200 application/json", breaking, reason)


@pytest.mark.parametrize(
    ("old", "new", "breaking", "reason"),
    [
        (False, True, True, "query parameter became required"),
        (True, False, False, "query parameter became optional"),
    ],
)
def test_a_parameter_that_became_required_breaks_clients(old: bool, new: bool, breaking: bool, reason: str) -> None:
    def limit(required: bool) -> tuple[dict[str, Any], ...]:
        return ({"name": "limit", "in": "query", "required": required, "schema": INT},)

    change = only_change(model(parameters=limit(old), s200=obj()), model(parameters=limit(new), s200=obj()))
    assert (change["change"], change["field"], change["breaking"], change["reason"]) == (
        "field_changed",
        "limit",
        breaking,
        reason,
    )


def test_a_type_and_presence_change_together_give_both_reasons() -> None:
    change = only_change(model(request=obj([], qty=NUM), s201=obj()), model(request=obj(qty=INT), s201=obj()))
    assert change["breaking"]
    assert change["reason"] == "request field type narrowed from number to integer; request field became required"


def test_the_change_list_names_each_changes_endpoint_and_kind(make_entry, model_of) -> None:
    old = model_of([make_entry("POST", "https://a.example/orders", request_json={"sku": "a"}, response_json={"id": 1})])
    new = model_of(
        [
            make_entry("POST", "https://a.example/orders", request_json={"sku": "a", "qty": 1}, response_json={}),
            make_entry("GET", "https://a.example/orders"),
        ]
    )
    diff = diff_models(old, new)
    assert diff["breaking"]
    assert [
        (c["method"], c["path"], c["change"], c["field"], c["breaking"], c["reason"]) for c in change_list(diff)
    ] == [
        ("POST", "/orders", "field_added", "$.qty", True, "new required request field"),
        ("POST", "/orders", "field_removed", "$.id", True, "response field removed"),
    ]
    assert [(e["path"], e["breaking"]) for e in diff["endpoints_added"]] == [("/orders", False)]


def test_a_model_that_only_adds_an_endpoint_does_not_break_clients(make_entry, model_of) -> None:
    old = model_of([make_entry(url="https://a.example/a", response_json={"id": 1})])
    new = model_of(
        [make_entry(url="https://a.example/a", response_json={"id": 1}), make_entry(url="https://a.example/b")]
    )
    diff = diff_models(old, new)
    assert not diff["breaking"] and change_list(diff) == []
    assert [e["path"] for e in diff["endpoints_added"]] == ["/b"]
