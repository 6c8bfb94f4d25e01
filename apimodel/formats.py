"""Detect the data format of a string value, and make placeholders that keep it.

Detection is conservative: a format is reported only when the value leaves little doubt,
because a wrong format is worse than none.
"""

import base64
import binascii
import datetime as dt
import functools
import ipaddress
import json
import re

from apimodel.cards import is_card_number

FORMATS = (
    "uuid",
    "jwt",
    "email",
    "uri",
    "date-time",
    "date",
    "time",
    "ipv4",
    "ipv6",
    "phone",
    "card-number",
    "hex",
    "base64",
    "token",
)

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+\S*")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_IPV6 = re.compile(r"[0-9a-fA-F:.]*:[0-9a-fA-F:.]*")
_PHONE = re.compile(r"\+[1-9][0-9 ().-]{6,20}")
_HEX = re.compile(r"[0-9a-f]{16,}|[0-9A-F]{16,}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{20,}={0,2}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}")
_JWT = re.compile(r"(eyJ[A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)")
_LETTER_DIGIT_SWITCH = re.compile(r"[A-Za-z][0-9]|[0-9][A-Za-z]")
_CAMEL_WORD = re.compile(r"[A-Z]?[a-z]{2,}")
# shorter mixed-case words are too often names (`iPhone`, `McDonald`)
RANDOM_LETTERS_MIN = 16

_PLACEHOLDERS = {
    "uuid": "00000000-0000-4000-8000-000000000000",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "date-time": "2000-01-01T00:00:00Z",
    "date": "2000-01-01",
    "time": "00:00:00",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "phone": "+15555550100",
    # grouped, so that as a query or form value it stays a string and not an integer
    "card-number": "4242 4242 4242 4242",
    "hex": "0123456789abcdef0123456789abcdef",
    "base64": "cGxhY2Vob2xkZXI+cGxhY2Vob2xkZXI/",
    "token": "a1b2c3d4e5f6g7h8",
}


def _b64url_json(part: str) -> object:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError):
        return None


def jwt_claim_names(token: str) -> list[str] | None:
    """Return the sorted claim names of a JWT, or None when `token` is not a JWT."""
    match = _JWT.fullmatch(token)
    if match is None:
        return None
    header = _b64url_json(match.group(1))
    payload = _b64url_json(match.group(2))
    if not isinstance(header, dict) or "alg" not in header or not isinstance(payload, dict):
        return None
    return sorted(str(name) for name in payload)


def placeholder_jwt(claims: list[str]) -> str:
    """Build an unsigned-looking JWT with the given claim names and placeholder values."""

    def encode(value: object) -> str:
        raw = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    header = encode({"alg": "HS256", "typ": "JWT"})
    return f"{header}.{encode(dict.fromkeys(claims, 0))}.c2lnbmF0dXJl"


def _valid_date_time(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


def _valid_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _random_letters(value: str) -> bool:
    """Long mixed-case letters that mostly read as no camel-case words (`PxfujWHYRaGCWVqVCVrBAg`, not
    `getUserAccountSettings`)."""
    letters = sum(c.isalpha() for c in value)
    worded = sum(len(word) for word in _CAMEL_WORD.findall(value))
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
    return len(value) >= RANDOM_LETTERS_MIN and mixed and 2 * worded < letters


def _looks_random(value: str) -> bool:
    """A token-like string: letters and digits interleaved, mixed case with digits, or random letters."""
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    if not has_alpha:
        return False
    if not has_digit:
        return _random_letters(value)
    if len(_LETTER_DIGIT_SWITCH.findall(value)) >= 3:
        return True
    return any(c.isupper() for c in value) and any(c.islower() for c in value)


# Remembered: field names and obfuscated values (placeholders) recur in almost every body.
@functools.lru_cache(maxsize=8192)
def string_format(value: str) -> str | None:
    """Return the detected format of a string (one of FORMATS), or None."""
    size = len(value)
    if size < 7 or size > 4096:
        return None
    if size == 36 and _UUID.fullmatch(value):
        return "uuid"
    if value.startswith("eyJ") and jwt_claim_names(value) is not None:
        return "jwt"
    if "://" in value:
        return "uri" if _URI.fullmatch(value) else None
    if "@" in value:
        return "email" if _EMAIL.fullmatch(value) else None
    first = value[0]
    if first.isdigit():
        if _DATE_TIME.fullmatch(value) and _valid_date_time(value):
            return "date-time"
        if size == 10 and _DATE.fullmatch(value) and _valid_date(value):
            return "date"
        if _TIME.fullmatch(value):
            return "time"
        if _IPV4.fullmatch(value) and _valid_ip(value):
            return "ipv4"
        if size >= 13 and is_card_number(value):
            return "card-number"
    if ":" in value and _IPV6.fullmatch(value) and _valid_ip(value):
        return "ipv6"
    if first == "+" and _PHONE.fullmatch(value) and 8 <= sum(c.isdigit() for c in value) <= 15:
        return "phone"
    if _HEX.fullmatch(value) and not value.isdigit() and any(c.isdigit() for c in value):
        return "hex"
    if _BASE64.fullmatch(value) and size % 4 == 0 and any(c in "+/=" for c in value):
        return "base64"
    if _TOKEN.fullmatch(value) and _looks_random(value):
        return "token"
    return None


_PREFIXED_ID = re.compile(r"[a-z]{2,8}_[A-Za-z0-9]{8,}")
_CODE_ID = re.compile(r"[A-Za-z]{1,4}[-_]?\d{4,}")
_INTEGER = re.compile(r"\d+")
_ID_CHARS = re.compile(r"[A-Za-z0-9_-]+")


@functools.lru_cache(maxsize=8192)
def id_kind(text: str) -> str | None:
    """Say what kind of identifier `text` is ("integer" or a format), or None for a word.

    Used for path segments and object keys, where a value that is an id becomes a parameter.
    """
    if _INTEGER.fullmatch(text):
        return "integer"
    fmt = string_format(text)
    if fmt is not None and fmt != "uri":
        return fmt
    if _PREFIXED_ID.fullmatch(text) and _looks_random(text.split("_", 1)[1]):
        return "token"
    # short letters then many digits (INV-00123, sku12345); names like sha256 have fewer digits
    if _CODE_ID.fullmatch(text):
        return "token"
    if len(text) >= 8 and _ID_CHARS.fullmatch(text) and len(_LETTER_DIGIT_SWITCH.findall(text)) >= 3:
        return "token"
    return None


def placeholder(fmt: str | None) -> str:
    """A fixed value of the given format (empty string for no format)."""
    if fmt is None:
        return ""
    if fmt == "jwt":
        return placeholder_jwt([])
    return _PLACEHOLDERS[fmt]
