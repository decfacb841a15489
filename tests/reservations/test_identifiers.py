"""Tests for reservations.identifiers.

No database is needed (municipality codes read the default, empty
MUNICIPALITY_CODES_ADDED): messages are lazy and are never rendered here;
failures are compared by ``IdentifierError.code``.
"""

from __future__ import annotations

import random
from datetime import date

import pytest

from reservations.identifiers import (
    ERAS,
    SEX_FEMALE,
    SEX_MALE,
    SEX_UNKNOWN,
    IdentifierError,
    OcrLine,
    add_check_digit,
    damm_check_digit,
    format_reservation_code,
    format_wareki,
    is_mobile_phone,
    is_valid_municipality_code,
    is_valid_reservation_code,
    looks_like_ocr_line,
    municipality_check_digit,
    normalize_municipality_code,
    normalize_number_input,
    normalize_phone,
    normalize_reservation_code,
    normalize_ticket_number,
    parse_birth_date,
    parse_date_loose,
    parse_ocr_line,
    parse_sex,
    phone_to_national_digits,
    reservation_code_generate,
)

TODAY = date(2024, 6, 1)


def _code_of(exc_info: pytest.ExceptionInfo[IdentifierError]) -> str:
    return exc_info.value.code


# --- IdentifierError --------------------------------------------------------


def test_it_is_a_value_error_carrying_code_and_message() -> None:
    error = IdentifierError("ticket_number_invalid", "message")
    assert isinstance(error, ValueError)
    assert error.code == "ticket_number_invalid"
    assert error.message == "message"
    assert str(error) == "ticket_number_invalid"


def test_it_raises_with_a_lazy_message_that_is_not_rendered() -> None:
    with pytest.raises(IdentifierError) as exc_info:
        normalize_ticket_number("abc")
    assert exc_info.value.message is not None


# --- normalize_number_input -------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0123456789", "0123456789"),
        ("０１２３４５６７８９", "0123456789"),
        ("0123 456\u3000789", "0123456789"),
        (" 012-345 ", "012345"),
        ("1\u20102\u20113\u20124\u20135\u20146\u20157\u22128", "12345678"),
        ("1ー2ｰ3－4﹣5─6", "123456"),
        ("\ufeff12\u200b3\t4\n", "1234"),
        ("+81 90-1234-5678", "+819012345678"),
    ],
)
def test_it_strips_separators_and_folds_width(typed: str, expected: str) -> None:
    assert normalize_number_input(typed) == expected


def test_it_does_not_validate_when_normalizing() -> None:
    assert normalize_number_input("abc-def") == "abcdef"


# --- municipality code ------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "131016",
        "431001",
        "452041",
        "131041",  # remainder 0 -> check digit 1
        "131130",  # remainder 1 -> check digit 0
        "011002",  # leading zero kept
        "131024",
        "141003",
        "271004",
        "062014",
        "130001",
    ],
)
def test_it_accepts_valid_municipality_codes(code: str) -> None:
    assert is_valid_municipality_code(code)
    assert normalize_municipality_code(code) == code
    assert add_check_digit(code[:5]) == code
    assert municipality_check_digit(code[:5]) == code[5]


@pytest.mark.parametrize(
    "code",
    [
        "131017",  # wrong check digit
        "131040",  # naive "remainder 0 -> 0" would accept it
        "13101",  # 5 digits
        "1310160",  # 7 digits
        "",
        "13101a",
        "１３１０１６",  # strict form refuses full-width
        "131-016",  # strict form refuses separators
    ],
)
def test_it_rejects_invalid_municipality_codes_strictly(code: str) -> None:
    assert not is_valid_municipality_code(code)


def test_it_normalizes_typed_municipality_codes() -> None:
    assert normalize_municipality_code("１３１０１６") == "131016"
    assert normalize_municipality_code(" 131-016 ") == "131016"


@pytest.mark.parametrize("typed", ["131017", "131040", "13101", "1310160", "", "abcdef", "٣١٠١٦١"])
def test_it_rejects_bad_typed_municipality_codes(typed: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        normalize_municipality_code(typed)
    assert _code_of(exc_info) == "municipality_code_invalid"


def test_it_gives_different_messages_for_length_and_check_digit() -> None:
    with pytest.raises(IdentifierError) as too_short:
        normalize_municipality_code("13101")
    with pytest.raises(IdentifierError) as wrong_check:
        normalize_municipality_code("131017")
    assert too_short.value.message is not wrong_check.value.message


@pytest.mark.parametrize("bad", ["1310", "131016", "1310a", "", "１３１０１"])
def test_it_refuses_to_compute_check_digit_of_non_five_digit_input(bad: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        add_check_digit(bad)
    assert _code_of(exc_info) == "municipality_code_invalid"


def test_it_computes_check_digits_that_validate_for_every_remainder() -> None:
    seen_remainders: set[int] = set()
    for n in range(0, 100000, 7):
        five = f"{n:05d}"
        weighted = sum(int(d) * w for d, w in zip(five, (6, 5, 4, 3, 2), strict=True))
        seen_remainders.add(weighted % 11)
        code = add_check_digit(five)
        expected = {0: "1", 1: "0"}.get(weighted % 11, str(11 - weighted % 11))
        assert code[5] == expected
    assert seen_remainders == set(range(11))


# --- ticket number ----------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0000000001", "0000000001"),
        ("0000000000", "0000000000"),  # format-valid; issuance is a DB question
        ("０１２３-４５６ ７８９", "0123456789"),
        ("1234567890", "1234567890"),
    ],
)
def test_it_normalizes_ticket_numbers(typed: str, expected: str) -> None:
    assert normalize_ticket_number(typed) == expected


@pytest.mark.parametrize("typed", ["123456789", "12345678901", "A123456789", "", "12345.6789"])
def test_it_rejects_bad_ticket_numbers(typed: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        normalize_ticket_number(typed)
    assert _code_of(exc_info) == "ticket_number_invalid"


# --- OCR line ---------------------------------------------------------------


def test_it_parses_an_ocr_line() -> None:
    assert parse_ocr_line("111310160000000001") == OcrLine(
        ticket_kind="1",
        dose_count=1,
        municipality_code="131016",
        ticket_number="0000000001",
    )


def test_it_parses_a_typed_ocr_line_with_separators() -> None:
    line = parse_ocr_line("１ ３ 011002-0123456789")
    assert line.ticket_kind == "1"
    assert line.dose_count == 3
    assert line.municipality_code == "011002"
    assert line.ticket_number == "0123456789"


@pytest.mark.parametrize(
    "typed",
    [
        "130123450000012345",  # 012345: check digit should be 3, is 5
        "111310170000000001",  # 131017: wrong check digit
        "11131016000000001",  # 17 digits
        "1113101600000000011",  # 19 digits
        "11131016000000000A",
        "",
    ],
)
def test_it_rejects_bad_ocr_lines(typed: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        parse_ocr_line(typed)
    assert _code_of(exc_info) == "ocr_line_invalid"


def test_it_tells_ocr_lines_from_ticket_numbers_by_shape() -> None:
    assert looks_like_ocr_line("111310160000000001")
    assert looks_like_ocr_line("１１ 131016 0000000001")
    assert looks_like_ocr_line("111310170000000001")  # shape only; parsing will refuse it
    assert not looks_like_ocr_line("0000000001")
    assert not looks_like_ocr_line("11131016000000001")
    assert not looks_like_ocr_line("")


# --- dates ------------------------------------------------------------------


def test_it_lists_eras_oldest_first() -> None:
    assert [era.name for era in ERAS] == ["明治", "大正", "昭和", "平成", "令和"]
    assert [era.letter for era in ERAS] == ["M", "T", "S", "H", "R"]
    assert [era.start for era in ERAS] == sorted(era.start for era in ERAS)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1947-04-01", date(1947, 4, 1)),
        ("1947/4/1", date(1947, 4, 1)),
        ("1947.4.1", date(1947, 4, 1)),
        ("19470401", date(1947, 4, 1)),
        ("1947年4月1日", date(1947, 4, 1)),
        ("１９４７年４月１日", date(1947, 4, 1)),
        (" 1947 - 04 - 01 ", date(1947, 4, 1)),
        ("1947ー04ー01", date(1947, 4, 1)),
        ("昭和22年5月3日", date(1947, 5, 3)),
        ("昭和 22 年 5 月 3 日", date(1947, 5, 3)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("令和1年5月1日", date(2019, 5, 1)),
        ("㍼22年5月3日", date(1947, 5, 3)),
        ("昭22.5.3", date(1947, 5, 3)),
        ("S22.5.3", date(1947, 5, 3)),
        ("s22/5/3", date(1947, 5, 3)),
        ("S22-05-03", date(1947, 5, 3)),
        ("Ｓ２２．５．３", date(1947, 5, 3)),
        ("S22年5月3日", date(1947, 5, 3)),
        ("R1.5.1", date(2019, 5, 1)),
        ("R元.5.1", date(2019, 5, 1)),
        ("H31.4.30", date(2019, 4, 30)),
        ("T15.12.24", date(1926, 12, 24)),
        ("S1.12.25", date(1926, 12, 25)),
        ("S64.1.7", date(1989, 1, 7)),
        ("H1.1.8", date(1989, 1, 8)),
        ("h01.01.08", date(1989, 1, 8)),
        ("M45.7.29", date(1912, 7, 29)),
        ("T1.7.30", date(1912, 7, 30)),
        ("S220503", date(1947, 5, 3)),
        ("r060401", date(2024, 4, 1)),
        ("2000-02-29", date(2000, 2, 29)),
    ],
)
def test_it_parses_western_and_wareki_dates(typed: str, expected: date) -> None:
    assert parse_date_loose(typed) == expected
    assert parse_birth_date(typed, today=TODAY) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "2021-02-30",  # does not exist
        "1900-02-29",  # not a leap year
        "平成31年5月1日",  # 平成 ended 2019-04-30
        "S64.1.8",  # 平成 began 1989-01-08
        "H1.1.7",  # still 昭和
        "T15.12.25",  # 昭和 began 1926-12-25
        "M45.7.30",  # 大正 began 1912-07-30
        "M1.1.1",  # before our Meiji start date
        "S0.1.1",
        "S22.13.1",
        "S22.5.32",
        "1947-4/1",  # mixed separators
        "1947/04",
        "470401",
        "S2253",  # compact form needs 6 digits
        "X22.5.3",
        "昭和元.5.3x",
        "",
        "不明",
        "0000-01-01",
    ],
)
def test_it_rejects_bad_dates(typed: str) -> None:
    with pytest.raises(IdentifierError) as loose:
        parse_date_loose(typed)
    assert _code_of(loose) == "date_invalid"
    with pytest.raises(IdentifierError) as birth:
        parse_birth_date(typed, today=TODAY)
    assert _code_of(birth) == "birth_date_invalid"


def test_it_rejects_birth_dates_in_the_future() -> None:
    assert parse_birth_date("2024-06-01", today=TODAY) == TODAY
    with pytest.raises(IdentifierError) as exc_info:
        parse_birth_date("2024-06-02", today=TODAY)
    assert _code_of(exc_info) == "birth_date_invalid"
    with pytest.raises(IdentifierError):
        parse_birth_date("R6.6.2", today=TODAY)


def test_it_allows_future_dates_when_loose() -> None:
    assert parse_date_loose("R99.1.1") == date(2117, 1, 1)


def test_it_defaults_today_for_birth_dates() -> None:
    assert parse_birth_date("1947-04-01") == date(1947, 4, 1)
    with pytest.raises(IdentifierError):
        parse_birth_date("9999-12-31")


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(1947, 5, 3), "昭和22年5月3日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1926, 12, 24), "大正15年12月24日"),
        (date(1912, 7, 30), "大正元年7月30日"),
        (date(1912, 7, 29), "明治45年7月29日"),
        (date(2024, 4, 1), "令和6年4月1日"),
    ],
)
def test_it_formats_wareki(d: date, expected: str) -> None:
    assert format_wareki(d) == expected
    assert parse_date_loose(expected) == d


def test_it_refuses_to_format_dates_before_meiji() -> None:
    with pytest.raises(IdentifierError):
        format_wareki(date(1868, 10, 22))


def test_it_round_trips_wareki_around_every_era_boundary() -> None:
    for era in ERAS[1:]:
        for offset in (-1, 0, 1):
            d = date.fromordinal(era.start.toordinal() + offset)
            assert parse_date_loose(format_wareki(d)) == d


# --- phone numbers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("090-1234-5678", "+819012345678"),
        ("09012345678", "+819012345678"),
        ("０９０－１２３４－５６７８", "+819012345678"),
        ("090ー1234ー5678", "+819012345678"),
        ("+81 90 1234 5678", "+819012345678"),
        ("+819012345678", "+819012345678"),
        ("03-1234-5678", "+81312345678"),
        ("03(1234)5678", "+81312345678"),
        ("050-1234-5678", "+815012345678"),
        ("070-1234-5678", "+817012345678"),
    ],
)
def test_it_normalizes_phone_numbers_to_e164(typed: str, expected: str) -> None:
    assert normalize_phone(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "090-1234-567",  # too short
        "090-1234-56789",  # too long
        "03-1234-567O",  # letter O, must not be read as a keypad letter
        "tel:090-1234-5678",
        "090-1234-5678 内線12",
        "abc",
        "12345",
    ],
)
def test_it_rejects_bad_phone_numbers(typed: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        normalize_phone(typed)
    assert _code_of(exc_info) == "phone_invalid"


@pytest.mark.parametrize(
    ("e164", "mobile"),
    [
        ("+819012345678", True),
        ("+818012345678", True),
        ("+817012345678", True),
        ("+81312345678", False),  # Tokyo landline
        ("+815012345678", False),  # 050 IP phone
        ("+81120123456", False),  # free dial
        ("not a number", False),
        ("+8190123", False),
    ],
)
def test_it_tells_mobile_numbers_apart(e164: str, mobile: bool) -> None:
    assert is_mobile_phone(e164) is mobile


def test_it_gives_national_digits_with_trunk_prefix() -> None:
    assert phone_to_national_digits("+819012345678") == "09012345678"
    assert phone_to_national_digits("+81312345678") == "0312345678"
    with pytest.raises(IdentifierError) as exc_info:
        phone_to_national_digits("+8190")
    assert _code_of(exc_info) == "phone_invalid"


# --- sex --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1", SEX_MALE),
        ("2", SEX_FEMALE),
        ("１", SEX_MALE),
        ("２", SEX_FEMALE),
        ("男", SEX_MALE),
        ("女", SEX_FEMALE),
        ("男性", SEX_MALE),
        ("女性", SEX_FEMALE),
        ("M", SEX_MALE),
        ("F", SEX_FEMALE),
        ("m", SEX_MALE),
        ("f", SEX_FEMALE),
        ("Ｍ", SEX_MALE),
        ("male", SEX_MALE),
        ("Female", SEX_FEMALE),
        (" 女 ", SEX_FEMALE),
        ("", SEX_UNKNOWN),
        ("\u3000", SEX_UNKNOWN),
        ("0", SEX_UNKNOWN),
    ],
)
def test_it_parses_sex(typed: str, expected: str) -> None:
    assert parse_sex(typed) == expected


def test_it_uses_iso_5218_codes() -> None:
    assert (SEX_UNKNOWN, SEX_MALE, SEX_FEMALE) == ("0", "1", "2")


@pytest.mark.parametrize("typed", ["3", "9", "x", "男女", "other", "不明"])
def test_it_rejects_unknown_sex_values(typed: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        parse_sex(typed)
    assert _code_of(exc_info) == "sex_invalid"


# --- reservation code -------------------------------------------------------


def test_it_computes_the_reference_damm_check_digit() -> None:
    # The worked example in Damm's description: 572 -> 4.
    assert damm_check_digit("572") == "4"


@pytest.mark.parametrize("bad", ["12a", "", "１２３"])
def test_it_refuses_damm_for_non_digits(bad: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        damm_check_digit(bad)
    assert _code_of(exc_info) == "reservation_code_invalid"


def test_it_generates_valid_codes() -> None:
    rng = random.Random(20240601)
    for _ in range(1000):
        code = reservation_code_generate(rng)
        assert len(code) == 9
        assert code[0] != "0"
        assert is_valid_reservation_code(code)
        assert normalize_reservation_code(code) == code


def test_it_generates_with_the_system_random_by_default() -> None:
    assert is_valid_reservation_code(reservation_code_generate())


def test_it_generates_reproducibly_from_a_seeded_rng() -> None:
    first = [reservation_code_generate(random.Random(7)) for _ in range(3)]
    assert first == [reservation_code_generate(random.Random(7)) for _ in range(3)]


def _single_substitutions(code: str) -> list[str]:
    return [
        code[:i] + digit + code[i + 1 :]
        for i in range(len(code))
        for digit in "0123456789"
        if digit != code[i]
    ]


def _adjacent_transpositions(code: str) -> list[str]:
    return [
        code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        for i in range(len(code) - 1)
        if code[i] != code[i + 1]
    ]


def test_it_catches_every_single_digit_error_and_adjacent_transposition() -> None:
    rng = random.Random(5218)
    for _ in range(200):
        code = reservation_code_generate(rng)
        for wrong in _single_substitutions(code):
            assert not is_valid_reservation_code(wrong), (code, wrong)
        for wrong in _adjacent_transpositions(code):
            assert not is_valid_reservation_code(wrong), (code, wrong)


def test_it_uses_a_weakly_totally_antisymmetric_quasigroup() -> None:
    # The table properties Damm's guarantees rest on, probed through the public
    # function: the check digit of "c x y" is T[T[T[0][c]][x]][y], and T[0] is a
    # permutation, so every row of T is reached as c varies.
    for c in range(10):
        row = [int(damm_check_digit(f"{c}{x}")) for x in range(10)]
        assert sorted(row) == list(range(10))  # each row a permutation
        for x in range(10):
            for y in range(10):
                if x != y:  # swapping two different digits always shows
                    assert damm_check_digit(f"{c}{x}{y}") != damm_check_digit(f"{c}{y}{x}")
    for x in range(10):
        column = [int(damm_check_digit(f"{c}{x}")) for c in range(10)]
        assert sorted(column) == list(range(10))  # each column a permutation


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "12345678",  # 8 digits
        "1234567890",  # 10 digits
        "12345678a",
    ],
)
def test_it_rejects_malformed_reservation_codes(typed: str) -> None:
    assert not is_valid_reservation_code(typed)
    with pytest.raises(IdentifierError) as exc_info:
        normalize_reservation_code(typed)
    assert _code_of(exc_info) == "reservation_code_invalid"


def test_it_rejects_a_leading_zero_even_with_a_right_check_digit() -> None:
    body = "01234567"
    code = body + damm_check_digit(body)
    assert not is_valid_reservation_code(code)
    with pytest.raises(IdentifierError):
        normalize_reservation_code(code)


def test_it_normalizes_read_back_reservation_codes() -> None:
    code = reservation_code_generate(random.Random(1))
    spoken = f"{code[:3]}ー{code[3:6]} {code[6:]}"
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in code)
    assert normalize_reservation_code(spoken) == code
    assert normalize_reservation_code(full_width) == code
    assert normalize_reservation_code(format_reservation_code(code)) == code


def test_it_formats_reservation_codes_in_threes() -> None:
    assert format_reservation_code("123456789") == "123-456-789"
    with pytest.raises(IdentifierError) as exc_info:
        format_reservation_code("12345678")
    assert _code_of(exc_info) == "reservation_code_invalid"
