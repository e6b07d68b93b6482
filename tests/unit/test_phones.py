import pytest

from core import phones
from core.errors import InvalidPhoneNumber


@pytest.mark.parametrize(
    "raw, region, expected",
    [
        ("+7 916 123-45-67", "RU", "+79161234567"),
        ("8 (916) 123-45-67", "RU", "+79161234567"),
        ("89161234567", "RU", "+79161234567"),
        ("+79161234567", "RU", "+79161234567"),
        ("  +7-916-123-45-67  ", "RU", "+79161234567"),
        ("+44 20 7946 0958", "RU", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("(201) 555-0123", "US", "+12015550123"),
    ],
)
def test_valid_numbers_are_normalised_to_e164(raw, region, expected):
    assert phones.normalize(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "   ", "123", "abc", "+7 916 123", "+7916123456789012", "+0 123 456", None, 79161234567, ["+79161234567"], "9" * 65])
def test_invalid_numbers_are_refused(raw):
    with pytest.raises(InvalidPhoneNumber):
        phones.normalize(raw, "RU")


def test_telegram_contact_numbers_without_plus_are_international():
    # Telegram sends "79161234567"; read with region RU it would be a national number (wrong).
    assert phones.normalize_from_telegram("79161234567") == "+79161234567"
    assert phones.normalize_from_telegram("+442079460958") == "+442079460958"
    with pytest.raises(InvalidPhoneNumber):
        phones.normalize_from_telegram("")


def test_mask_hides_the_middle():
    assert phones.mask("+79161234567") == "+7916*****67"
    assert "12345" not in phones.mask("+79161234567")
    assert phones.mask(None) == "-"
