import json

import pytest
from openapi_spec_validator import validate

from apimodel.openapi import to_openapi
from apimodel.sensitive import SENSITIVE, mark_schema, name_kind, schema_kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("email", "email"),
        ("billingEmail", "email"),
        ("contact_email_address", "email"),
        ("E-Mail", "email"),
        ("emails", "email"),
        ("customer_phone_number", "phone"),
        ("mobile", "phone"),
        ("cardNumber", "card_number"),
        ("cvv2", "card_number"),
        ("new_password", "password"),
        ("PASSWORD", "password"),
        ("refresh_token", "secret"),
        ("client_secret", "secret"),
        ("APIKey", "secret"),
        ("x-session-id", "secret"),
        ("ssn", "national_id"),
        ("passport_number", "national_id"),
        ("X-Client-IP", "ip_address"),
        ("last_login_ip", "ip_address"),
        ("remote_addr", "ip_address"),
        ("ipv6", "ip_address"),
        ("date_of_birth", "birth_date"),
        ("dob", "birth_date"),
        ("lastName", "person_name"),
        ("address_line_2", "postal_address"),
        ("postalCode", "postal_address"),
        ("iban", "bank_account"),
        ("routing_number", "bank_account"),
    ],
)
def test_names_say_what_they_hold(name: str, kind: str) -> None:
    assert name_kind(name) == kind


@pytest.mark.parametrize(
    "name",
    [
        "name",
        "email_verified_at",
        "token_type",
        "tokens_used",
        "next_page_token",
        "pageToken",
        "zip",
        "skip",
        "shipping_method",
        "account_id",
        "address",
        "card",
        "description",
        "",
        "2",
    ],
)
def test_other_names_hold_nothing_sensitive(name: str) -> None:
    assert name_kind(name) is None


def test_a_format_says_it_whatever_the_name() -> None:
    assert schema_kind({"type": "string", "format": "email"}, "contact") == "email"
    assert schema_kind({"type": "string", "format": "jwt"}, None) == "secret"
    assert schema_kind({"type": "string", "format": "card-number"}, "n") == "card_number"
    assert schema_kind({"type": "string", "format": "ipv4"}, "origin") == "ip_address"
    assert schema_kind({"type": "string", "format": "uuid"}, "id") is None


def test_names_count_on_scalar_values_only() -> None:
    assert schema_kind({"type": ["integer", "null"]}, "ssn") == "national_id"
    assert schema_kind({}, "password") == "password"
    assert schema_kind({"type": "boolean"}, "email") is None
    assert schema_kind({"type": "object", "properties": {}}, "password") is None


def test_it_marks_fields_deep_in_a_schema_and_leaves_the_schema_as_it_was() -> None:
    schema = {
        "type": "object",
        "properties": {
            "user": {
                "type": "object",
                "properties": {"mail": {"type": "string", "format": "email"}, "email_verified": {"type": "boolean"}},
            },
            "phones": {"type": "array", "items": {"type": "string"}},
            "device_tokens": {"type": "object", "additionalProperties": {"type": "string"}},
            "title": {"type": "string", SENSITIVE: "password"},
        },
    }
    before = json.dumps(schema, sort_keys=True)
    kinds: set[str] = set()
    marked = mark_schema(schema, None, kinds)
    assert json.dumps(schema, sort_keys=True) == before
    assert kinds == {"email", "phone", "secret"}
    properties = marked["properties"]
    assert properties["user"]["properties"]["mail"][SENSITIVE] == "email"
    assert SENSITIVE not in properties["user"]["properties"]["email_verified"]
    assert properties["phones"]["items"][SENSITIVE] == "phone" and SENSITIVE not in properties["phones"]
    assert properties["device_tokens"]["additionalProperties"][SENSITIVE] == "secret"
    assert SENSITIVE not in properties["title"]


def test_it_returns_a_schema_without_sensitive_parts_unchanged() -> None:
    schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
    assert mark_schema(schema, None, set()) is schema


def sensitive_entries(make_entry) -> list:
    headers = {"X-Client-IP": "203.0.113.9", "X-Request-Id": "r1"}
    url = "https://shop.example/orders?email=ada%40example.org&page=2"
    body = {"card": {"number": "4242 4242 4242 4242", "holder_name": "Ada"}, "password": "hunter22"}
    return [make_entry("POST", url, 201, headers=headers, request_json=body, response_json={"id": 7})]


def test_the_model_lists_and_marks_sensitive_parts_without_their_values(make_entry, model_of) -> None:
    model = model_of(sensitive_entries(make_entry))
    (endpoint,) = model["endpoints"]
    assert endpoint["sensitive"] == ["card_number", "email", "ip_address", "password"]
    marks = {p["name"]: p.get(SENSITIVE) for p in endpoint["parameters"]}
    assert marks == {"email": "email", "page": None, "x-client-ip": "ip_address", "x-request-id": None}
    body = endpoint["request_body"]["application/json"]["properties"]
    assert body["card"]["properties"]["number"][SENSITIVE] == "card_number"
    assert body["password"][SENSITIVE] == "password"
    text = json.dumps(model)
    assert not any(value in text for value in ("ada@", "203.0.113", "4242", "hunter22", "Ada"))


def test_a_model_without_sensitive_parts_says_so(make_entry, endpoint_of) -> None:
    assert endpoint_of([make_entry(url="https://a.example/items?page=1", response_json={"id": 1})])["sensitive"] == []


def test_the_openapi_export_carries_the_marks(make_entry, model_of) -> None:
    document = to_openapi(model_of(sensitive_entries(make_entry)), title="Shop")
    validate(document)
    operation = document["paths"]["/orders"]["post"]
    assert operation[SENSITIVE] == ["card_number", "email", "ip_address", "password"]
    assert {p["name"]: p.get(SENSITIVE) for p in operation["parameters"]}["email"] == "email"
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["password"][SENSITIVE] == "password"
    assert (
        SENSITIVE
        not in document["paths"]["/orders"]["post"]["responses"]["201"]["content"]["application/json"]["schema"][
            "properties"
        ]["id"]
    )


def test_one_operation_on_two_hosts_is_marked_from_its_melded_parts(make_entry, model_of) -> None:
    model = model_of(
        [
            make_entry("POST", "https://a.example/signup", request_json={"contact": "ada@example.org", "pwd": "x"}),
            make_entry("POST", "https://b.example/signup?ip=10.0.0.1", request_json={"contact": "+4930123456789"}),
        ]
    )
    document = to_openapi(model, title="T")
    validate(document)
    operation = document["paths"]["/signup"]["post"]
    properties = operation["requestBody"]["content"]["application/json"]["schema"]["properties"]
    # an email on one host and a phone on the other: no format is left to say which
    assert SENSITIVE not in properties["contact"] and properties["pwd"][SENSITIVE] == "password"
    assert operation["parameters"][0][SENSITIVE] == "ip_address"
    assert operation[SENSITIVE] == ["email", "ip_address", "password", "phone"]


def test_it_exports_models_stored_before_marks_existed() -> None:
    endpoint = {
        "method": "GET",
        "host": "a.example",
        "path": "/x",
        "parameters": [],
        "request_body": {},
        "responses": {"200": {"count": 1, "content": {}}},
        "auth": ["none"],
    }
    document = to_openapi({"endpoints": [endpoint]}, title="T")
    validate(document)
    assert SENSITIVE not in document["paths"]["/x"]["get"]
