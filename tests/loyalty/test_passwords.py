import argon2
import pytest

from loyalty.auth.passwords import MIN_PASSWORD_LENGTH, PasswordHasher, password_problem

EMAIL = "jan.jansen@example.com"


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def test_round_trip(hasher: PasswordHasher) -> None:
    hashed = hasher.hash("vlinder kompas regenjas")
    assert hashed != "vlinder kompas regenjas"
    assert hasher.verify(hashed, "vlinder kompas regenjas")


def test_hashes_are_salted(hasher: PasswordHasher) -> None:
    assert hasher.hash("same password") != hasher.hash("same password")


def test_wrong_password_is_false(hasher: PasswordHasher) -> None:
    hashed = hasher.hash("vlinder kompas regenjas")
    assert not hasher.verify(hashed, "vlinder kompas regenjaS")
    assert not hasher.verify(hashed, "")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not a hash",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaA",  # well-formed but truncated
    ],
)
def test_garbage_hash_is_false(hasher: PasswordHasher, garbage: str) -> None:
    assert hasher.verify(garbage, "vlinder kompas regenjas") is False


def test_uses_argon2id(hasher: PasswordHasher) -> None:
    assert hasher.hash("x").startswith("$argon2id$v=19$m=8192,t=1,p=1$")


def test_defaults_are_the_library_defaults() -> None:
    library = argon2.PasswordHasher()
    hashed = PasswordHasher().hash("x")
    expected = f"$argon2id$v=19$m={library.memory_cost},t={library.time_cost},"
    assert hashed.startswith(expected)


def test_needs_rehash_when_parameters_change(hasher: PasswordHasher) -> None:
    hashed = hasher.hash("vlinder kompas regenjas")
    assert not hasher.needs_rehash(hashed)
    assert PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1).needs_rehash(hashed)
    assert PasswordHasher(time_cost=1, memory_cost=16384, parallelism=1).needs_rehash(hashed)


def test_unreadable_hash_needs_rehash(hasher: PasswordHasher) -> None:
    assert hasher.needs_rehash("not a hash")


@pytest.mark.parametrize(
    "password",
    ["vlinder kompas regenjas", "koffie-met-slagroom-7", "Zeven gele tulpen op het dak!"],
)
def test_strong_passphrase_passes(password: str) -> None:
    assert password_problem(password, user_inputs=[EMAIL, "Jan", "Jansen"]) is None


def test_too_short() -> None:
    assert MIN_PASSWORD_LENGTH == 10
    assert password_problem("Xq7#vL2!p") == "Password must be at least 10 characters long."


def test_length_counts_characters_not_bytes() -> None:
    # Nine characters but 36 bytes in UTF-8: still too short.
    assert password_problem("🐝🦉🐙🦊🐢🦔🐌🦋🐞") == "Password must be at least 10 characters long."


def test_too_long() -> None:
    assert password_problem("x7#Q" * 65) == "Password must be at most 256 characters long."


def test_long_password_is_checked_quickly() -> None:
    # zxcvbn only sees the start (it refuses long input), which here is a strong phrase.
    assert password_problem("vlinder kompas regenjas " * 10) is None


@pytest.mark.parametrize("password", ["password123", "qwertyuiop12", "1234567890", "aaaaaaaaaaaa"])
def test_common_passwords_are_rejected(password: str) -> None:
    problem = password_problem(password)
    assert problem is not None
    assert problem.startswith("Password is too easy to guess.")


def test_common_password_message_explains_why() -> None:
    assert password_problem("password123") == (
        "Password is too easy to guess. This is a very common password."
    )


@pytest.mark.parametrize("password", ["jan.jansen2024!", "XJAN.JANSEN-koffie-met-melk"])
def test_email_local_part_is_rejected(password: str) -> None:
    assert password_problem(password, user_inputs=[EMAIL]) == (
        "Password must not contain your email address."
    )


def test_short_email_local_part_is_allowed() -> None:
    # "bea" is too short to be a meaningful part of a password on its own.
    assert password_problem("bea vlinder kompas", user_inputs=["bea@example.com"]) is None


@pytest.mark.parametrize(
    ("password", "user_inputs"),
    [
        ("Jan.Jansen.123", ["Jan Jansen"]),
        ("JanJansen2024!", ["Jan", "Jansen"]),
        ("JanJansen1985", [EMAIL]),
        ("JanDeVries2024", ["Jan de Vries"]),
    ],
)
def test_password_based_on_the_users_name_is_rejected(
    password: str, user_inputs: list[str]
) -> None:
    assert password_problem(password) is None  # strong enough for someone else
    problem = password_problem(password, user_inputs=user_inputs)
    assert problem is not None
    assert problem.startswith("Password is too easy to guess.")
