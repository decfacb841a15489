"""Every test vector of vrs.md §8.5, at the layer that decides it."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.apps import apps

from reservations.exceptions import VaccinationInvalid
from reservations.identifiers import (
    IdentifierError,
    add_check_digit,
    is_valid_municipality_code,
    normalize_municipality_code,
    normalize_ticket_number,
    parse_ocr_line,
)
from reservations.services.vaccinations import lot_number_clean, vaccination_record
from tests.world import World, jst
from vrs_export.formats import (
    JST,
    Dose,
    dose_problems,
    encoding_problems,
    format_timestamp,
    parse_date8,
    parse_timestamp14,
)

TODAY = dt.date(2026, 11, 2)

VALID_DOSE = Dose(
    pk=1,
    record_id="00000000-0000-0000-0000-000000000001",
    version=1,
    kind="1",
    resident_id=1,
    resident_municipality="452041",
    atena_number="",
    ticket_number="0000000001",
    dose_number=1,
    vaccinated_on="20211001",
    registered_at="20211001120000",
    given_in="452041",
    site_code="1",
    site_name="文化センター",
    doctor_name="宮崎 一郎",
    maker="ファイザー",
    brand="コミナティ筋注",
    lot_number="FF3620",
    channel="WEB",
    confirmed=False,
    previous_dose_on="",
    has_duplicate=False,
)


def problems(**changes: object) -> list[str]:
    dose = dataclasses.replace(VALID_DOSE, **changes)  # type: ignore[arg-type]
    return dose_problems(dose, today=TODAY.strftime("%Y%m%d"), strict_sequence=True)


def test_the_reference_dose_is_valid() -> None:
    assert problems() == []


@pytest.mark.parametrize("code", ["131016", "431001", "452041", "131041", "131130", "011002"])
def test_vectors_1_to_6_valid_municipality_codes(code: str) -> None:
    assert is_valid_municipality_code(code)
    assert problems(given_in=code, resident_municipality=code) == []


@pytest.mark.parametrize("code", ["131017", "131040", "13101", "１３１０１６"])
def test_vectors_7_to_10_codes_the_strict_validator_rejects(code: str) -> None:
    assert not is_valid_municipality_code(code)
    assert problems(given_in=code)


def test_vector_9_adds_the_check_digit_and_10_folds_full_width() -> None:
    assert add_check_digit("13101") == "131016"
    assert normalize_municipality_code("１３１０１６") == "131016"


def test_vector_11_keeps_leading_zeros_of_a_ticket_number() -> None:
    assert normalize_ticket_number("0000000001") == "0000000001"
    assert problems(ticket_number="0000000001") == []


@pytest.mark.parametrize("number", ["123456789", "12345678901", "A123456789"])
def test_vectors_12_to_14_invalid_ticket_numbers(number: str) -> None:
    with pytest.raises(IdentifierError):
        normalize_ticket_number(number)
    assert problems(ticket_number=number)


def test_vector_15_splits_an_ocr_line() -> None:
    line = parse_ocr_line("111310160000000001")
    assert (line.ticket_kind, line.dose_count, line.municipality_code, line.ticket_number) == (
        "1",
        1,
        "131016",
        "0000000001",
    )


@pytest.mark.parametrize("line", ["111310170000000001", "11131016000000001"])
def test_vectors_16_and_17_invalid_ocr_lines(line: str) -> None:
    with pytest.raises(IdentifierError):
        parse_ocr_line(line)


def test_vector_18_an_impossible_date() -> None:
    with pytest.raises(ValueError):
        parse_date8("20210230")
    assert parse_date8("20210228") == dt.date(2021, 2, 28)


def test_vector_19_dose_two_before_dose_one_fails_export() -> None:
    assert problems(dose_number=2, vaccinated_on="20210920", previous_dose_on="20211001")


@pytest.mark.django_db
def test_vector_19_dose_two_before_dose_one_is_refused_at_entry(world: World) -> None:
    ticket = world.resident()
    now = jst(2026, 11, 2, 9)
    vaccination_record(
        resident=ticket.resident,
        vaccine=world.vaccine,
        vaccinated_on=dt.date(2021, 10, 1),
        requester=world.phone(),
        now=now,
    )
    with pytest.raises(VaccinationInvalid):
        vaccination_record(
            resident=ticket.resident,
            vaccine=world.vaccine,
            vaccinated_on=dt.date(2021, 9, 20),
            requester=world.phone(),
            now=now,
        )


def test_vector_20_a_future_date_fails_export() -> None:
    tomorrow = TODAY + dt.timedelta(days=1)
    assert problems(vaccinated_on=tomorrow.strftime("%Y%m%d"), registered_at="20261103090000")


@pytest.mark.django_db
def test_vector_20_a_future_date_is_refused_at_entry(world: World) -> None:
    with pytest.raises(VaccinationInvalid):
        vaccination_record(
            resident=world.resident().resident,
            vaccine=world.vaccine,
            vaccinated_on=dt.date(2026, 11, 3),
            requester=world.phone(),
            now=jst(2026, 11, 2, 23, 59),
        )


def test_vector_21_timestamps_are_reformatted_not_passed_through() -> None:
    assert parse_timestamp14("20210412093000") == dt.datetime(2021, 4, 12, 9, 30, tzinfo=JST)
    with pytest.raises(ValueError):
        parse_timestamp14("2021-04-12 09:30")
    utc = dt.datetime(2021, 4, 12, 0, 30, tzinfo=dt.UTC)
    assert format_timestamp(utc) == "20210412093000"


def test_vector_22_lot_numbers() -> None:
    assert lot_number_clean("FF3620") == "FF3620"
    assert lot_number_clean("ＦＦ３６２０") == "FF3620"
    with pytest.raises(VaccinationInvalid):
        lot_number_clean("A" * 21)
    assert problems(lot_number="A" * 21)


def test_vector_23_cp932_refuses_what_it_cannot_hold() -> None:
    assert encoding_problems(["𠮷田 花子"], "cp932")
    assert encoding_problems(["𠮷田 花子"], "utf-8") == []
    assert encoding_problems(["髙橋", "～"], "cp932") == []  # IBM extension and wave dash: fine


def test_vector_24_my_number_is_never_stored() -> None:
    # vrs.md §8.5 #24 applies "only if ever used": the model keeps no 個人番号 at all.
    names = {
        f.name.lower()
        for model in apps.get_app_config("reservations").get_models()
        for f in model._meta.get_fields()
    }
    assert not {n for n in names if "mynumber" in n or "my_number" in n or "kojin" in n}
