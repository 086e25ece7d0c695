"""Member numbers (Luhn), card barcodes and hashed secrets."""

from __future__ import annotations

import hashlib
import random
import re

import pytest

from loyalty.core.identifiers import (
    MEMBER_NUMBER_DIGITS,
    format_member_number,
    hash_secret,
    is_valid_member_number,
    luhn_check_digit,
    new_card_barcode,
    new_member_number,
    new_secret,
    normalise_member_number,
    secrets_match,
)


def reference_luhn_valid(number: str) -> bool:
    """Textbook Luhn check of a whole number (check digit included), written independently."""
    total = 0
    for position, ch in enumerate(reversed(number)):
        d = int(ch)
        if position % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


@pytest.mark.parametrize(
    ("payload", "check"),
    [
        ("7992739871", "3"),  # the classic example
        ("411111111111111", "1"),  # Visa test card 4111 1111 1111 1111
        ("37828224631000", "5"),  # Amex test card 3782 822463 10005
        ("0", "0"),
        ("1", "8"),
        ("9", "1"),
        ("000000000", "0"),
        ("123456789", "7"),
    ],
)
def test_luhn_check_digit_of_known_numbers(payload: str, check: str) -> None:
    assert luhn_check_digit(payload) == check
    assert reference_luhn_valid(payload + check)


def test_luhn_check_digit_agrees_with_reference_on_random_payloads() -> None:
    rng = random.Random(20261123)
    for _ in range(2000):
        payload = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 18)))
        digit = luhn_check_digit(payload)
        assert reference_luhn_valid(payload + digit), payload
        wrong = str((int(digit) + 1) % 10)
        assert not reference_luhn_valid(payload + wrong), payload


def test_new_member_numbers_are_ten_valid_digits() -> None:
    numbers = [new_member_number() for _ in range(1000)]
    for number in numbers:
        assert len(number) == MEMBER_NUMBER_DIGITS == 10
        assert number.isdigit()
        assert number[0] != "0"  # no leading zero that a spreadsheet would eat
        assert is_valid_member_number(number)
        assert reference_luhn_valid(number)
    assert len(set(numbers)) > 990  # random, not a counter stuck on one value


def test_every_single_changed_digit_is_detected() -> None:
    number = new_member_number()
    for position in range(len(number)):
        for digit in "0123456789":
            if digit == number[position]:
                continue
            changed = number[:position] + digit + number[position + 1 :]
            assert not is_valid_member_number(changed), (number, changed)


def test_adjacent_swaps_are_detected() -> None:
    # Luhn catches every transposition of adjacent digits except 09 <-> 90.
    valid = "799273987" + luhn_check_digit("799273987")
    assert is_valid_member_number(valid)
    for i in range(len(valid) - 1):
        a, b = valid[i], valid[i + 1]
        if a == b or {a, b} == {"0", "9"}:
            continue
        swapped = valid[:i] + b + a + valid[i + 2 :]
        assert not is_valid_member_number(swapped), swapped


def test_is_valid_member_number_reads_what_people_type() -> None:
    number = new_member_number()
    assert is_valid_member_number(format_member_number(number))
    assert is_valid_member_number(f" {number[:3]}-{number[3:6]}-{number[6:]} ")
    assert not is_valid_member_number(number[:-1])  # too short
    assert not is_valid_member_number(number + "0")  # too long
    assert not is_valid_member_number("")
    assert not is_valid_member_number("abcdefghij")


def test_normalise_member_number_keeps_digits_only() -> None:
    assert normalise_member_number(" 1234 5678-90 ") == "1234567890"
    assert normalise_member_number("no digits") == ""


def test_format_member_number_groups_of_four() -> None:
    assert format_member_number("1234567890") == "1234 5678 90"
    assert format_member_number("12345678") == "1234 5678"
    assert format_member_number("123") == "123"
    assert format_member_number("") == ""
    number = new_member_number()
    assert format_member_number(number).replace(" ", "") == number


def test_card_barcodes_are_unique_and_unrelated_to_member_numbers() -> None:
    barcodes = [new_card_barcode() for _ in range(5000)]
    assert len(set(barcodes)) == len(barcodes)
    for barcode in barcodes:
        # Upper-case base32 behind a recognisable prefix: fits QR, Code 128 and PDF417.
        assert re.fullmatch(r"TRW[A-Z2-7]{24}", barcode), barcode
    for _ in range(200):
        number = new_member_number()
        barcode = new_card_barcode()
        assert number not in barcode
        assert number[:-1] not in barcode


def test_new_secret_has_prefix_and_entropy() -> None:
    secrets = {new_secret("rt_") for _ in range(500)}
    assert len(secrets) == 500
    for secret in secrets:
        assert secret.startswith("rt_")
        assert len(secret) >= 3 + 43  # 32 random bytes, url-safe base64
        assert re.fullmatch(r"rt_[A-Za-z0-9_-]+", secret)


def test_hash_secret_is_sha256_hex() -> None:
    assert hash_secret("abc") == hashlib.sha256(b"abc").hexdigest()
    assert hash_secret("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert hash_secret("é") == hashlib.sha256("é".encode()).hexdigest()
    assert hash_secret("abc") != hash_secret("abd")


def test_secrets_match_only_the_right_secret() -> None:
    secret = new_secret("trw_")
    stored = hash_secret(secret)
    assert secrets_match(secret, stored)
    assert not secrets_match(secret + "x", stored)
    assert not secrets_match(secret[:-1], stored)
    assert not secrets_match("", stored)
    assert not secrets_match(secret, hash_secret("something else"))
    assert not secrets_match(stored, stored)  # the hash itself is not the secret


def test_client_keys_are_trimmed_and_bounded() -> None:
    import pytest

    from loyalty.core.errors import DomainError
    from loyalty.core.identifiers import client_key

    assert client_key("  till-7-000042 ") == "till-7-000042"
    assert client_key("x" * 200) == "x" * 200
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(DomainError) as refused:
            client_key(bad)
        assert (refused.value.code, refused.value.field) == ("INVALID_EXTERNAL_ID", "externalId")
    with pytest.raises(DomainError) as refused:
        client_key("k" * 161, "idempotencyKey", "INVALID_IDEMPOTENCY_KEY", max_length=160)
    expected = ("INVALID_IDEMPOTENCY_KEY", "idempotencyKey")
    assert (refused.value.code, refused.value.field) == expected
