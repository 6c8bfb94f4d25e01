import base64
import json

import pytest

from apimodel import InvalidEntry, redact_entry, witness_from_entry
from apimodel.formats import placeholder_jwt

SECRET = "s3cr3t-T0ken-Value-9f8e7d"
JWT = placeholder_jwt(["sub", "role"]).rsplit(".", 1)[0] + ".realsignature"


@pytest.fixture
def rich_entry(make_entry):
    entry = make_entry(
        "POST",
        "https://api.example.com:8443/v1/users/42/notes?q=Ada%20Lovelace&limit=10&since=2024-01-31",
        201,
        headers={
            "Authorization": f"Bearer {SECRET}",
            "X-Request-Id": "3f2b8c1e-9d4a-4b6c-8e7f-1a2b3c4d5e6f",
            "Cookie": "theme=dark; sessionid=abcdef123456",
            "User-Agent": "curl/8.0",
        },
        request_json={"title": "Dinner with Grace Hopper", "email": "grace@navy.example", "stars": 5},
        response_json={"id": "3f2b8c1e-9d4a-4b6c-8e7f-1a2b3c4d5e6f", "owner": {"name": "Ada Lovelace", "phone": None}},
        response_headers={"Set-Cookie": "sessionid=zzz999; Path=/; HttpOnly", "X-RateLimit-Remaining": "99"},
    )
    entry["serverIPAddress"] = "10.1.2.3"
    return entry


def test_it_keeps_method_host_path_and_status(rich_entry) -> None:
    witness = witness_from_entry(rich_entry)
    assert (witness["method"], witness["scheme"], witness["host"], witness["path"]) == (
        "POST",
        "https",
        "api.example.com:8443",
        "/v1/users/42/notes",
    )
    assert witness["response"]["status"] == 201


def test_it_drops_every_value(rich_entry) -> None:
    text = json.dumps(witness_from_entry(rich_entry))
    for value in [
        SECRET,
        "Ada",
        "Lovelace",
        "Grace",
        "grace@navy",
        "abcdef123456",
        "zzz999",
        "dark",
        "curl",
        "99",
        "10.1",
    ]:
        assert value not in text


def test_it_keeps_query_names_with_value_shapes(rich_entry) -> None:
    assert witness_from_entry(rich_entry)["query"] == {
        "limit": {"type": "integer"},
        "q": {"type": "string"},
        "since": {"type": "string", "format": "date"},
    }


def test_it_keeps_shapes_only_of_non_standard_headers(rich_entry) -> None:
    witness = witness_from_entry(rich_entry)
    assert witness["request"]["headers"] == {
        "authorization": None,
        "cookie": None,
        "user-agent": None,
        "x-request-id": {"type": "string", "format": "uuid"},
    }
    assert witness["response"]["headers"]["x-ratelimit-remaining"] == {"type": "integer"}


def test_it_keeps_cookie_names(rich_entry) -> None:
    witness = witness_from_entry(rich_entry)
    assert witness["request"]["cookies"] == ["sessionid", "theme"]
    assert witness["response"]["cookies"] == ["sessionid"]


def test_it_keeps_body_schemas(rich_entry) -> None:
    witness = witness_from_entry(rich_entry)
    assert witness["request"]["body"]["properties"]["email"] == {"type": "string", "format": "email"}
    assert witness["response"]["body"]["properties"]["owner"]["properties"]["phone"] == {"type": "null"}
    assert witness["request"]["content_type"] == "application/json"


def test_it_keeps_sizes_and_time(rich_entry) -> None:
    witness = witness_from_entry(rich_entry)
    assert witness["request"]["size"] == len(rich_entry["request"]["postData"]["text"])
    assert witness["response"]["size"] == rich_entry["response"]["content"]["size"]
    assert witness["time_ms"] == 10.0
    assert witness["started_at"] == "2024-01-01T00:00:00.000Z"


def test_it_sums_timings_when_time_is_missing(make_entry) -> None:
    entry = make_entry()
    del entry["time"]
    entry["timings"] = {"blocked": -1, "dns": 2, "connect": 5, "ssl": 3, "send": 1, "wait": 20, "receive": 2}
    assert witness_from_entry(entry)["time_ms"] == 30.0


@pytest.mark.parametrize(
    ("headers", "url", "auth"),
    [
        ({}, "https://a.example/x", {"scheme": "none"}),
        (
            {"Authorization": "Basic " + base64.b64encode(b"ada:pw").decode()},
            "https://a.example/x",
            {"scheme": "basic"},
        ),
        ({"Authorization": f"Bearer {SECRET}"}, "https://a.example/x", {"scheme": "bearer"}),
        ({"Authorization": f"Bearer {JWT}"}, "https://a.example/x", {"scheme": "jwt", "claims": ["role", "sub"]}),
        ({"X-API-Key": SECRET}, "https://a.example/x", {"scheme": "apikey_header:x-api-key"}),
        ({}, f"https://a.example/x?api_key={SECRET}", {"scheme": "apikey_query:api_key"}),
        ({"Cookie": f"csrftoken=1; sessionid={SECRET}"}, "https://a.example/x", {"scheme": "cookie:sessionid"}),
    ],
)
def test_it_keeps_the_auth_scheme_only(make_entry, headers, url, auth) -> None:
    witness = witness_from_entry(make_entry("GET", url, headers=headers))
    assert witness["auth"] == auth
    assert SECRET not in json.dumps(witness)


def test_it_reads_form_bodies(make_entry) -> None:
    entry = make_entry(
        "POST",
        "https://a.example/login",
        post_data={"mimeType": "application/x-www-form-urlencoded", "text": "user=ada&remember=true&age=36"},
    )
    body = witness_from_entry(entry)["request"]["body"]
    assert body["properties"] == {
        "age": {"type": "integer"},
        "remember": {"type": "boolean"},
        "user": {"type": "string"},
    }


def test_it_reads_multipart_bodies(make_entry) -> None:
    text = (
        '--XyZ\r\nContent-Disposition: form-data; name="caption"\r\n\r\nMy cat\r\n'
        '--XyZ\r\nContent-Disposition: form-data; name="photo"; filename="cat.png"\r\n'
        "Content-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ--\r\n"
    )
    entry = make_entry(
        "POST", "https://a.example/photos", post_data={"mimeType": "multipart/form-data; boundary=XyZ", "text": text}
    )
    body = witness_from_entry(entry)["request"]["body"]
    assert body["properties"] == {"caption": {"type": "string"}, "photo": {"type": "string", "format": "binary"}}


def test_it_keeps_only_type_and_size_of_other_bodies(make_entry) -> None:
    entry = make_entry("POST", "https://a.example/notes", post_data={"mimeType": "text/plain", "text": "Dear Ada"})
    request = witness_from_entry(entry)["request"]
    assert (request["content_type"], request["size"], request["body"]) == ("text/plain", 8, None)


def test_it_is_lenient_with_missing_parts() -> None:
    witness = witness_from_entry({"request": {"method": "GET", "url": "http://a.example"}, "response": {"status": 204}})
    assert witness["path"] == "/"
    assert witness["time_ms"] is None
    assert witness["request"]["headers"] == {}


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"request": {"url": "https://a.example/"}, "response": {"status": 200}}, "request.method"),
        ({"request": {"method": "GET", "url": "/relative"}, "response": {"status": 200}}, "request.url"),
        ({"request": {"method": "GET", "url": "ftp://a.example/"}, "response": {"status": 200}}, "request.url"),
        ({"request": {"method": "GET", "url": "https://a.example/"}, "response": {"status": "200"}}, "response.status"),
        ({"request": {"method": "GET", "url": "https://a.example/"}}, "response"),
    ],
)
def test_it_rejects_entries_without_required_parts(entry, field) -> None:
    with pytest.raises(InvalidEntry) as error:
        witness_from_entry(entry)
    assert error.value.field == field


def test_redacting_keeps_the_witness(rich_entry) -> None:
    assert witness_from_entry(redact_entry(rich_entry)) == witness_from_entry(rich_entry)


def test_redacting_a_jwt_keeps_its_claim_names(make_entry) -> None:
    entry = make_entry(headers={"Authorization": f"Bearer {JWT}"})
    redacted = redact_entry(entry)
    assert "realsignature" not in json.dumps(redacted)
    assert witness_from_entry(redacted)["auth"] == {"scheme": "jwt", "claims": ["role", "sub"]}


def test_redacting_drops_values(rich_entry) -> None:
    text = json.dumps(redact_entry(rich_entry))
    for value in [SECRET, "Ada", "Grace", "abcdef123456", "zzz999", "dark", "curl", "10.1.2.3", "Lovelace"]:
        assert value not in text
    assert "/v1/users/42/notes" in text


def test_it_records_which_path_segments_a_body_names_as_identifiers(make_entry) -> None:
    answer = {"key": "mit", "owner": {"login": "octocat"}, "type": "license", "spdx_id": "MIT"}
    entry = make_entry(url="https://api.example.com/licenses/mit/owners/octocat/license", response_json=answer)
    assert witness_from_entry(entry)["path_echoes"] == [1, 3]


def test_only_identifier_fields_of_objects_echo_a_segment(make_entry) -> None:
    answers = [
        {"data": {"type": "widgets", "kind": "pay"}},  # type words and other fields name no object
        {"items": [{"id": "pay"}]},  # objects inside arrays are other objects
        {"id": "Pay", "account_name": "PAY"},  # the text must be the segment's exactly
        {"id": 7, "uuid": "7"},  # numbers are ids by themselves
    ]
    for answer in answers:
        entry = make_entry(url="https://api.example.com/widgets/pay/7", response_json=answer)
        assert witness_from_entry(entry)["path_echoes"] == []


def test_request_bodies_and_forms_echo_segments_too(make_entry) -> None:
    form = {"mimeType": "application/x-www-form-urlencoded", "text": "name=nightly&x=1"}
    assert witness_from_entry(make_entry("PUT", "https://a.example/jobs/nightly", post_data=form))["path_echoes"] == [1]
    entry = make_entry("PUT", "https://a.example/jobs/nightly", request_json={"job": {"name": "nightly"}})
    assert witness_from_entry(entry)["path_echoes"] == [1]


def test_redacting_keeps_the_echoes_and_drops_every_other_value(make_entry) -> None:
    entry = make_entry(
        "PUT",
        "https://a.example/teams/sre/members/ada",
        request_json={"handle": "ada", "note": "secret plan"},
        response_json={"team": {"slug": "sre", "name": "Site Reliability"}, "login": "grace"},
    )
    redacted = redact_entry(entry)
    assert witness_from_entry(redacted) == witness_from_entry(entry)
    assert witness_from_entry(entry)["path_echoes"] == [1, 3]
    text = json.dumps(redacted)
    assert "secret plan" not in text and "Site Reliability" not in text and "grace" not in text
