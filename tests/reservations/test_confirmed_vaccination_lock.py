"""A confirmed dose is locked at the database (PostgreSQL trigger): only a correction, which
writes a new version, changes it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from reservations import roles
from reservations.models import Vaccination
from reservations.services.vaccinations import vaccination_confirm, vaccination_correct
from tests.vrs_export.cohort import NOW, build_cohort, venue_staff
from tests.world import World

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_a_plain_update_or_delete_of_a_confirmed_dose_is_refused(world: World) -> None:
    cohort = build_cohort(world)
    record = Vaccination.objects.filter(status="active").order_by("pk").first()
    assert record is not None
    admin = venue_staff("office", roles.ADMINISTRATORS)
    requester = cohort.requester().__class__(channel="office", actor="operator", user=admin)
    vaccination_confirm(record_ids=[record.record_id], requester=requester)
    locked = Vaccination.objects.filter(pk=record.pk)
    for change in (
        {"lot_number": "ZZ9999"},
        {"vaccinated_on": dt.date(2021, 1, 1)},
        {"confirmed": False},
        {"status": "cancelled"},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            locked.update(**change)
    with pytest.raises(IntegrityError), transaction.atomic():
        locked.delete()
    # The correction is the way: the confirmed version is superseded, untouched otherwise.
    successor = vaccination_correct(
        record=record, requester=requester, reason="ロットの読み違い", lot_number="FA5765", now=NOW
    )
    old = Vaccination.objects.get(pk=record.pk)
    assert (old.status, old.lot_number, old.confirmed) == ("superseded", record.lot_number, True)
    assert (successor.version, successor.lot_number, successor.confirmed) == (2, "FA5765", False)
    # An unconfirmed record is not locked by the trigger (the services still guard it).
    Vaccination.objects.filter(pk=successor.pk).update(doctor_name="宮崎 二郎")
