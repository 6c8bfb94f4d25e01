import pytest

from apimodel.formats import FORMATS, id_kind, jwt_claim_names, placeholder, placeholder_jwt, string_format


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3f2b8c1e-9d4a-4b6c-8e7f-1a2b3c4d5e6f", "uuid"),
        ("ada@example.org", "email"),
        ("https://example.org/a?b=c", "uri"),
        ("2024-02-29T10:11:12Z", "date-time"),
        ("2024-02-29T10:11:12.123+02:00", "date-time"),
        ("2024-02-29", "date"),
        ("23:59:01", "time"),
        ("192.168.10.1", "ipv4"),
        ("2001:db8:85a3::8a2e:370:7334", "ipv6"),
        ("+4930123456789", "phone"),
        ("9f86d081884c7d659a2feaa0c55ad015", "hex"),
        ("aGVsbG8gd29ybGQsIHRoaXMgaXMgYmFzZTY0IQ==", "base64"),
        ("sk9Xa2Lq7Pz0Wm4Nb8Vc", "token"),
        ("PxfujWHYRaGCWVqVCVrBAg", "token"),
    ],
)
def test_it_detects_formats(value: str, expected: str) -> None:
    assert string_format(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "hello world",
        "Alice Smith",
        "2024-13-45",
        "12345",
        "deadbeefcafe",
        "not@an email",
        "v1.2.3",
        "",
        "true",
        "getUserAccountSettingsByName",
        "XMLHttpRequestHandler",
    ],
)
def test_it_stays_conservative_on_ordinary_strings(value: str) -> None:
    assert string_format(value) is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_its_placeholders_keep_their_format(fmt: str) -> None:
    assert string_format(placeholder(fmt)) == fmt


def test_it_reads_jwt_claim_names_only() -> None:
    token = placeholder_jwt(["sub", "exp", "email"])
    assert jwt_claim_names(token) == ["email", "exp", "sub"]
    assert jwt_claim_names("abc.def.ghi") is None


@pytest.mark.parametrize(
    ("segment", "kind"),
    [
        ("42", "integer"),
        ("cus_NffrFeUfNV2Hib", "token"),
        ("5f3a9c2b", "token"),
        ("2024-01-31", "date"),
        ("ada@example.org", "email"),
        ("users", None),
        ("v2", None),
        ("oauth2", None),
        ("sha256", None),
        ("me", None),
        ("report-2024", None),
        ("QAtIbDKzQmCnHSvQde-VWw", "token"),
    ],
)
def test_it_tells_ids_from_words(segment: str, kind: str | None) -> None:
    assert id_kind(segment) == kind
