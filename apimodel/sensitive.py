"""Which fields and parameters carry personal or secret data, judged by their names and formats.

Values are never looked at here (witnesses have none): a format says it (`email`, `phone`,
`card-number`, `jwt`, `ipv4`, `ipv6`), or the last words of a name do (`billingEmail`,
`customer_phone_number`, `X-Client-IP`, `refresh_token`). Names count only on scalar values:
`email_verified: true` is not an email. Marked parts carry `x-pawprint-sensitive: <kind>`.
"""

import functools
import re
from typing import Final

from apimodel.paths import singular
from apimodel.schema import Schema

SENSITIVE: Final = "x-pawprint-sensitive"

KINDS = (
    "email",
    "phone",
    "card_number",
    "password",
    "secret",
    "national_id",
    "ip_address",
    "birth_date",
    "person_name",
    "postal_address",
    "bank_account",
)

_FORMAT_KINDS = {
    "email": "email",
    "phone": "phone",
    "card-number": "card_number",
    "jwt": "secret",
    "ipv4": "ip_address",
    "ipv6": "ip_address",
}

# a name is of a kind when its last words are one of these (words split at case changes and punctuation)
_NAME_KINDS = {
    "email": ["email", "email address", "e mail"],
    "phone": ["phone", "phone number", "mobile", "mobile number", "telephone", "msisdn", "fax"],
    "card_number": ["card number", "cc number", "credit card", "credit card number", "cvv", "cvc"],
    "password": ["password", "passwd", "pwd", "passphrase"],
    "secret": [
        "token",
        "secret",
        "api key",
        "apikey",
        "private key",
        "secret key",
        "session id",
        "sessionid",
        "otp",
        "credential",
        "authorization",
    ],
    "national_id": [
        "ssn",
        "social security number",
        "national id",
        "national id number",
        "national insurance number",
        "passport",
        "passport number",
        "tax id",
        "driver license",
        "driver license number",
        "drivers license",
        "driving licence",
        "id card number",
    ],
    # "ipv": ipv4 and ipv6 lose their digits as a trailing word
    "ip_address": ["ip", "ip address", "ip addr", "remote addr", "ipv"],
    "birth_date": ["dob", "birth date", "date of birth", "birthdate", "birthday"],
    "person_name": [
        "first name",
        "last name",
        "full name",
        "given name",
        "family name",
        "middle name",
        "surname",
        "firstname",
        "lastname",
        "fullname",
    ],
    "postal_address": ["street", "street address", "address line", "postal code", "postcode", "zip code", "zipcode"],
    "bank_account": ["iban", "bank account", "bank account number", "account number", "routing number", "sort code"],
}
# tokens that page through results are not secrets
_NOT_SECRET = ("page token", "next token", "continuation token", "pagination token", "cursor token")
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SCALARS = frozenset(["string", "integer", "number"])


@functools.lru_cache(maxsize=4096)
def name_kind(name: str) -> str | None:
    """The kind of sensitive data a field or parameter name says it holds, or None."""
    words = [word.lower() for word in _WORD.findall(name)]
    while words and words[-1].isdigit():  # address_line_2, cvv2
        words.pop()
    if not words:
        return None
    phrase = " ".join([*words[:-1], singular(words[-1])])
    for kind, phrases in _NAME_KINDS.items():
        for candidate in phrases:
            if phrase == candidate or phrase.endswith(" " + candidate):
                if kind == "secret" and phrase.endswith(_NOT_SECRET):
                    return None
                return kind
    return None


def schema_kind(schema: Schema, name: str | None) -> str | None:
    """The kind of sensitive data a value of `schema` named `name` holds: by its format, else by its name."""
    kind = _FORMAT_KINDS.get(schema.get("format", ""))
    if kind is not None or name is None:
        return kind
    types = schema.get("type")
    scalar = types is None or (types in _SCALARS if isinstance(types, str) else not _SCALARS.isdisjoint(types))
    return name_kind(name) if scalar else None


def mark_schema(schema: Schema, name: str | None, kinds: set[str]) -> Schema:
    """`schema` with `x-pawprint-sensitive` on every part that holds sensitive data (and on no other),
    adding the kinds found to `kinds`. Parts that change are copied; `schema` is left as it was."""
    changes: Schema = {}
    properties = schema.get("properties")
    if isinstance(properties, dict):
        marked = {key: mark_schema(sub, key, kinds) for key, sub in properties.items()}
        if any(marked[key] is not properties[key] for key in properties):
            changes["properties"] = marked
    # the values of an array or a map are named by it: `emails: [...]`, `phones_by_label: {...}`
    for keyword in ("items", "additionalProperties"):
        sub = schema.get(keyword)
        if isinstance(sub, dict) and (marked_sub := mark_schema(sub, name, kinds)) is not sub:
            changes[keyword] = marked_sub
    kind = schema_kind(schema, name)
    if kind is not None:
        kinds.add(kind)
    if kind == schema.get(SENSITIVE) and not changes:
        return schema
    copy = {**schema, **changes}
    if kind is None:
        copy.pop(SENSITIVE, None)
    else:
        copy[SENSITIVE] = kind
    return copy
