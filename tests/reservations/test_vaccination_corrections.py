"""Corrections, cancellations and the confirmation lock; entry validation of doses."""

from __future__ import annotations

import datetime as dt

import pytest

from reservations import roles
from reservations.exceptions import PermissionDenied, ReasonRequired, VaccinationInvalid
from reservations.models import Actor, Channel, Vaccination
from reservations.services.booking import Requester
from reservations.services.vaccinations import (
    vaccination_cancel,
    vaccination_confirm,
    vaccination_correct,
    vaccination_record,
)
from tests.vrs_export.cohort import venue_staff
from tests.world import World, jst

pytestmark = pytest.mark.django_db
NOW = jst(2026, 11, 2, 9)
D = dt.date


def staff(username: str, *groups: str) -> Requester:
    return Requester(
        channel=Channel.COUNTER, actor=Actor.OPERATOR, user=venue_staff(username, *groups)
    )


def dose(world: World, on: D, **options: object) -> Vaccination:
    ticket = options.pop("ticket", None) or world.resident()
    return vaccination_record(
        resident=ticket.resident,  # type: ignore[attr-defined]
        ticket=ticket,  # type: ignore[arg-type]
        vaccine=world.vaccine,
        vaccinated_on=on,
        requester=world.phone(),
        site=world.site,
        lot_number="FF3620",
        doctor_name="宮崎 一郎",
        now=NOW,
        **options,  # type: ignore[arg-type]
    )


def test_a_correction_is_a_new_version_with_reason_and_author(world: World) -> None:
    first = dose(world, D(2026, 10, 20))
    clerk = staff("clerk")
    corrected = vaccination_correct(
        record=first, requester=clerk, reason="ロット番号の読み違い", lot_number="FA5765", now=NOW
    )
    first.refresh_from_db()
    assert (first.status, first.lot_number, first.version) == ("superseded", "FF3620", 1)
    assert (corrected.status, corrected.lot_number, corrected.version) == ("active", "FA5765", 2)
    assert corrected.record_id == first.record_id and corrected.supersedes == first
    assert corrected.change_reason == "ロット番号の読み違い"
    assert corrected.recorded_by == clerk.user
    assert Vaccination.objects.filter(record_id=first.record_id).count() == 2


def test_a_correction_needs_a_reason_a_change_and_the_permission(world: World) -> None:
    first = dose(world, D(2026, 10, 20))
    with pytest.raises(ReasonRequired):
        vaccination_correct(record=first, requester=staff("a"), reason=" ", lot_number="X1")
    with pytest.raises(VaccinationInvalid):
        vaccination_correct(record=first, requester=staff("b"), reason="r", lot_number="FF3620")
    with pytest.raises(PermissionDenied):
        vaccination_correct(record=first, requester=world.phone(), reason="r", lot_number="X1")


def test_a_stale_version_cannot_be_corrected_twice(world: World) -> None:
    first = dose(world, D(2026, 10, 20))
    vaccination_correct(record=first, requester=staff("a"), reason="r", lot_number="X1", now=NOW)
    with pytest.raises(VaccinationInvalid):
        vaccination_correct(record=first, requester=staff("b"), reason="r", lot_number="X2")


def test_a_confirmed_record_is_locked_except_for_an_explicit_correction(world: World) -> None:
    first = dose(world, D(2026, 10, 20))
    with pytest.raises(PermissionDenied):
        vaccination_confirm(record_ids=[first.record_id], requester=staff("venue"))
    municipal = staff("city", roles.VENUE_STAFF, roles.EXPORTERS)
    assert vaccination_confirm(record_ids=[first.record_id], requester=municipal) == 1
    first.refresh_from_db()
    assert first.confirmed
    with pytest.raises(VaccinationInvalid):
        vaccination_correct(record=first, requester=staff("venue2"), reason="r", lot_number="X1")
    with pytest.raises(VaccinationInvalid):
        vaccination_cancel(record=first, requester=staff("venue3"), reason="r")
    corrected = vaccination_correct(
        record=first, requester=municipal, reason="予診票と照合", lot_number="X1", now=NOW
    )
    assert corrected.version == 2 and not corrected.confirmed
    # Recording the same dose again is not a way around the lock either.
    with pytest.raises(VaccinationInvalid):
        dose(world, D(2026, 10, 20), ticket=first.ticket, dose_number=1)


def test_a_correction_keeps_the_dose_order(world: World) -> None:
    one = dose(world, D(2026, 10, 1))
    two = dose(world, D(2026, 10, 22), ticket=one.ticket)
    with pytest.raises(VaccinationInvalid):
        vaccination_correct(
            record=one, requester=staff("a"), reason="r", vaccinated_on=D(2026, 10, 22), now=NOW
        )
    with pytest.raises(VaccinationInvalid):
        vaccination_correct(
            record=two, requester=staff("b"), reason="r", vaccinated_on=D(2026, 9, 30), now=NOW
        )
    with pytest.raises(VaccinationInvalid):
        vaccination_correct(
            record=two, requester=staff("c"), reason="r", vaccinated_on=D(2026, 11, 3), now=NOW
        )


def test_a_cancellation_is_a_final_version_and_frees_the_dose_number(world: World) -> None:
    one = dose(world, D(2026, 10, 1))
    two = dose(world, D(2026, 10, 22), ticket=one.ticket)
    with pytest.raises(VaccinationInvalid):
        vaccination_cancel(record=one, requester=staff("a"), reason="別人")
    cancelled = vaccination_cancel(record=two, requester=staff("b"), reason="別人の券で記録")
    assert (cancelled.status, cancelled.version) == ("cancelled", 2)
    again = dose(world, D(2026, 10, 23), ticket=one.ticket)
    assert again.dose_number == 2 and again.record_id != two.record_id
    with pytest.raises(VaccinationInvalid):
        vaccination_correct(record=cancelled, requester=staff("c"), reason="r", lot_number="X")


def test_entry_refuses_a_second_dose_on_the_same_day(world: World) -> None:
    one = dose(world, D(2026, 10, 1))
    with pytest.raises(VaccinationInvalid):
        dose(world, D(2026, 10, 1), ticket=one.ticket)


def test_entry_refuses_a_covid_dose_before_the_first_japanese_dose(world: World) -> None:
    with pytest.raises(VaccinationInvalid):
        dose(world, D(2021, 2, 16))


def test_entry_refuses_a_dose_number_that_does_not_follow_history(world: World) -> None:
    with pytest.raises(VaccinationInvalid):
        dose(world, D(2026, 10, 1), dose_number=2)


def test_entry_refuses_a_doctor_name_longer_than_vrs_allows(world: World) -> None:
    ticket = world.resident()
    with pytest.raises(VaccinationInvalid):
        vaccination_record(
            resident=ticket.resident,
            vaccine=world.vaccine,
            vaccinated_on=D(2026, 10, 1),
            requester=world.phone(),
            doctor_name="長" * 21,
            now=NOW,
        )


def test_the_admin_confirms_records_for_permitted_staff_only(world: World, client: object) -> None:
    from django.test import Client

    assert isinstance(client, Client)
    first = dose(world, D(2026, 10, 20))
    url = "/admin/reservations/vaccination/"
    action = {"action": "confirm_selected", "_selected_action": [first.pk]}
    client.force_login(venue_staff("venue-admin"))
    client.post(url, action)
    first.refresh_from_db()
    assert not first.confirmed
    client.force_login(venue_staff("city-admin", roles.EXPORTERS))
    client.post(url, action)
    first.refresh_from_db()
    assert first.confirmed
