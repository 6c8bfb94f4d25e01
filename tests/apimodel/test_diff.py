from apimodel.diff import diff_models


def test_it_finds_nothing_between_equal_models(make_entry, model_of) -> None:
    model = model_of([make_entry(url="https://a.example/u/1", response_json={"id": 1})])
    assert diff_models(model, model) == {
        "endpoints_added": [],
        "endpoints_removed": [],
        "endpoints_changed": [],
        "security_schemes_added": [],
        "security_schemes_removed": [],
    }


def test_it_lists_added_and_removed_endpoints(make_entry, model_of) -> None:
    old = model_of([make_entry(url="https://a.example/a"), make_entry(url="https://a.example/b")])
    new = model_of([make_entry(url="https://a.example/b"), make_entry("POST", "https://a.example/c")])
    diff = diff_models(old, new)
    assert diff["endpoints_added"] == [{"method": "POST", "host": "a.example", "path": "/c"}]
    assert diff["endpoints_removed"] == [{"method": "GET", "host": "a.example", "path": "/a"}]


def test_it_lists_field_changes(make_entry, model_of) -> None:
    old = model_of([make_entry(url="https://a.example/u?q=x", response_json={"id": 1, "name": "a"})])
    new = model_of([make_entry(url="https://a.example/u?page=2", response_json={"id": "x", "email": "a@b.example"})])
    (changed,) = diff_models(old, new)["endpoints_changed"]
    body = "response 200 application/json"
    assert changed["fields_added"] == [
        {"in": "query", "field": "page", "type": "integer"},
        {"in": body, "field": "$.email", "type": "string(email)"},
    ]
    assert changed["fields_removed"] == [
        {"in": "query", "field": "q", "type": "string"},
        {"in": body, "field": "$.name", "type": "string"},
    ]
    assert changed["fields_changed"] == [{"in": body, "field": "$.id", "old_type": "integer", "new_type": "string"}]


def test_it_lists_status_and_auth_changes(make_entry, model_of) -> None:
    old = model_of([make_entry(headers={"Authorization": "Bearer t"}), make_entry(status=404)])
    new = model_of([make_entry(headers={"X-Api-Key": "k"}), make_entry(status=500)])
    diff = diff_models(old, new)
    (changed,) = diff["endpoints_changed"]
    assert (changed["statuses_added"], changed["statuses_removed"]) == (["500"], ["404"])
    assert (changed["auth_added"], changed["auth_removed"]) == (["apikey_header:x-api-key"], ["bearer"])
    assert (diff["security_schemes_added"], diff["security_schemes_removed"]) == (
        ["apikey_header:x-api-key"],
        ["bearer"],
    )


def test_it_matches_templates_whatever_their_parameter_names(make_entry, model_of) -> None:
    old = model_of([make_entry(url="https://a.example/things/1")])
    new = model_of([make_entry(url="https://a.example/things/1")])
    new["endpoints"][0]["path"] = "/things/{id}"
    assert diff_models(old, new)["endpoints_added"] == []
