"""Recognise payment card numbers: a known issuer's prefix and length, and a valid Luhn check digit."""

import re

_GROUPED_DIGITS = re.compile(r"\d+([ -]\d+)*")
# Visa; Mastercard; American Express; Discover, UnionPay and JCB; Diners Club
_ISSUER = re.compile(
    r"4(\d{12}|\d{15}|\d{18})"
    r"|(5[1-5]\d\d|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)\d{12}"
    r"|3[47]\d{13}"
    r"|(6011|65\d\d|64[4-9]\d|62\d\d|352[89]|35[3-8]\d)\d{12,15}"
    r"|(30[0-5]\d|3[689]\d\d)\d{10,15}"
)


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits ends with a valid Luhn check digit."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def is_card_number(value: str) -> bool:
    """Whether `value` is a payment card number, written as digits alone or in groups split by spaces or dashes."""
    if not 13 <= len(value) <= 23 or not _GROUPED_DIGITS.fullmatch(value):
        return False
    digits = value.replace(" ", "").replace("-", "")
    return _ISSUER.fullmatch(digits) is not None and luhn_valid(digits)
