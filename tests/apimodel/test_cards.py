import pytest

from apimodel.cards import is_card_number, luhn_valid
from apimodel.formats import string_format
from apimodel.schema import redact_text, text_schema


def with_check_digit(body: str) -> str:
    """`body` followed by the digit that makes it pass the Luhn check."""
    return next(body + digit for digit in "0123456789" if luhn_valid(body + digit))


@pytest.mark.parametrize(
    "value",
    [
        with_check_digit("411111111111111"),  # 16-digit Visa
        with_check_digit("520000000000000"),  # Mastercard
        with_check_digit("222300000000000"),  # Mastercard, 2-series
        with_check_digit("37000000000000"),  # American Express
        with_check_digit("601100000000000"),  # Discover
    ],
)
def test_it_knows_card_numbers_by_issuer_length_and_check_digit(value: str) -> None:
    assert is_card_number(value)


def test_it_reads_grouped_card_numbers() -> None:
    number = with_check_digit("545454545454545")
    grouped = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    assert is_card_number(grouped) and is_card_number(grouped.replace(" ", "-"))
    assert string_format(grouped) == "card-number" and string_format(number) == "card-number"


def test_it_rejects_a_wrong_check_digit_and_other_numbers() -> None:
    number = with_check_digit("411111111111111")
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    numeric_id = with_check_digit("172938475610293")  # no issuer starts with 1
    visa_of_14_digits = with_check_digit("4000123412341")
    assert not is_card_number(wrong) and not is_card_number(numeric_id) and not is_card_number(visa_of_14_digits)
    assert not is_card_number(number[:8] + "x" + number[9:]) and not is_card_number(number + "  ")
    assert string_format(numeric_id) is None


def test_a_card_number_stays_one_after_redaction() -> None:
    number = with_check_digit("411111111111111")
    grouped = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    assert text_schema(grouped) == {"type": "string", "format": "card-number"}
    assert text_schema(redact_text(grouped)) == text_schema(grouped)
