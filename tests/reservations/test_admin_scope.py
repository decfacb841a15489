"""The admin in a deployment of two municipalities (issue 18): staff of 日南市 (A) list, open
and choose only A's rows; 都城市's (B) answer 404 and are refused as choices; superusers see
both; reading residents in the admin writes the audit trail (reservations/admin_scope.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission, User
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from channels.api.models import PartnerKey
from channels.notify.models import Broadcast, OutboundMessage
from channels.phone.models import Call, CallVolumeEvent, RecordAccess, SeasonPlan
from reservations import roles
from reservations.models import (
    Campaign,
    ClosedDay,
    CohortOpening,
    DayCancellation,
    Municipality,
    OpeningCheck,
    Program,
    Reservation,
    ReservationEvent,
    Resident,
    Site,
    StaffAssignment,
    Ticket,
    Vaccination,
)
from reservations.services.booking import reservation_book
from tests.world import World
from vrs_export.models import ExportBatch, ReconcileRun

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 30)


@dataclass
class City:
    world: World
    resident: Resident
    ticket: Ticket
    reservation: Reservation
    vaccination: Vaccination
    rows: dict[str, Model]  # admin "app_model" → this city's row of it


@dataclass
class TwoCities:
    a: City
    b: City


@pytest.fixture(autouse=True)
def _clock(now: dt.datetime) -> Iterator[None]:
    with time_machine.travel(now, tick=False):
        yield


def _city(world: World, now: dt.datetime, name: str, kana: str, superuser: User) -> City:
    municipality = world.municipality
    slot = world.slot(DAY, capacity=3)
    day = slot.operating_day
    ticket = world.resident(name=name)
    ticket.resident.name_kana = kana
    ticket.resident.save(update_fields=["name_kana"])
    reservation = reservation_book(ticket=ticket, slot=slot, requester=world.web, now=now)
    vaccination = Vaccination.objects.create(
        resident=ticket.resident,
        ticket=ticket,
        campaign=world.campaign,
        vaccine=world.vaccine,
        antigen=world.vaccine.antigen,
        dose_number=1,
        vaccinated_on=dt.date(2026, 10, 20),
        site=world.site,
        given_in_municipality_code=municipality.code,
    )
    campaign = Campaign.objects.create(
        code=f"local-{municipality.code}",
        name=f"{municipality.name}独自",
        program=Program.objects.get(code="covid-primary"),
        municipality=municipality,
        starts_on=dt.date(2026, 10, 1),
    )
    opening = CohortOpening.objects.create(municipality=municipality, opens_at=now)
    event = ReservationEvent.objects.filter(reservation=reservation).first()
    assert event is not None
    cancelled_day = world.day(DAY + dt.timedelta(days=1))
    cancellation = DayCancellation.objects.create(
        operating_day=cancelled_day, requested_by=superuser
    )
    rows: dict[str, Model] = {
        "reservations_municipality": municipality,
        "reservations_site": world.site,
        "reservations_operatingday": day,
        "reservations_slot": slot,
        "reservations_resident": ticket.resident,
        "reservations_ticket": ticket,
        "reservations_reservation": reservation,
        "reservations_reservationevent": event,
        "reservations_vaccination": vaccination,
        "reservations_campaign": campaign,
        "reservations_cohortopening": opening,
        "reservations_openingcheck": OpeningCheck.objects.create(
            opening=opening, ran_at=now, trigger="admin", blocked=False
        ),
        "reservations_daycancellation": cancellation,
        "phone_callvolumeevent": CallVolumeEvent.objects.create(
            municipality=municipality, date=DAY, kind="opens", multiplier=2
        ),
        "phone_call": Call.objects.create(
            operator=world.operator, municipality=municipality, started_at=now, ended_at=now
        ),
        "phone_recordaccess": RecordAccess.objects.create(
            user=world.operator,
            resident=ticket.resident,
            municipality=municipality,
            action="viewed",
            at=now,
        ),
        "phone_seasonplan": SeasonPlan.objects.create(
            municipality=municipality,
            name=f"{municipality.name} 2026",
            starts_on=dt.date(2026, 10, 1),
            ends_on=dt.date(2027, 3, 31),
        ),
        "notify_outboundmessage": OutboundMessage.objects.create(
            event=event,
            reservation=reservation,
            resident=ticket.resident,
            channel="sms",
            purpose="confirmation",
            address="+819012345678",
            body="予約を受け付けました",
        ),
        "notify_broadcast": Broadcast.objects.create(cancellation=cancellation),
        "vrs_export_exportbatch": ExportBatch.objects.create(
            municipality_code=municipality.code,
            format="vrs",
            encoding="utf-8",
            date_from=DAY,
            date_to=DAY,
            status="done",
            via="web",
            started_at=now,
        ),
        "vrs_export_reconcilerun": ReconcileRun.objects.create(
            municipality_code=municipality.code,
            mode="preview",
            via="web",
            sha256="0" * 64,
            started_at=now,
        ),
    }
    key, _clear = PartnerKey.objects.create_key(
        name=f"portal-{municipality.code}", partner="ポータル", user=world.operator
    )
    assert isinstance(key, PartnerKey)
    key.municipalities.set([municipality])
    rows["api_partnerkey"] = key
    ClosedDay.objects.create(municipality=municipality, date=DAY, name="市の記念日")
    return City(
        world=world,
        resident=ticket.resident,
        ticket=ticket,
        reservation=reservation,
        vaccination=vaccination,
        rows=rows,
    )


@pytest.fixture
def root() -> User:
    return User.objects.create_superuser("root", password="x")


@pytest.fixture
def cities(world: World, now: dt.datetime, root: User) -> TwoCities:
    neighbour = world.neighbour()
    return TwoCities(
        a=_city(world, now, "日南 花子", "ニチナン ハナコ", root),
        b=_city(neighbour, now, "都城 次郎", "ミヤコノジョウ ジロウ", root),
    )


def _administrator(cities: TwoCities, username: str = "a-admin") -> User:
    """An administrator (自治体管理者) of A, who may also read and change the channels' and
    the users' screens: only the scope stops them at B."""
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.ADMINISTRATORS))
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["phone", "notify", "sms", "api", "vrs_export", "auth"]
        )
    )
    StaffAssignment.objects.create(user=user, municipality=cities.a.world.municipality)
    return User.objects.get(pk=user.pk)


@pytest.fixture
def admin_client(client: Client, cities: TwoCities) -> Client:
    client.force_login(_administrator(cities))
    return client


SCOPED = [
    "reservations_municipality",
    "reservations_site",
    "reservations_operatingday",
    "reservations_slot",
    "reservations_resident",
    "reservations_ticket",
    "reservations_reservation",
    "reservations_reservationevent",
    "reservations_vaccination",
    "reservations_campaign",
    "reservations_cohortopening",
    "reservations_openingcheck",
    "reservations_daycancellation",
    "phone_callvolumeevent",
    "phone_call",
    "phone_recordaccess",
    "phone_seasonplan",
    "notify_outboundmessage",
    "notify_broadcast",
    "vrs_export_exportbatch",
    "vrs_export_reconcilerun",
    "api_partnerkey",
]


def _listed(client: Client, admin_name: str) -> set[Any]:
    response = client.get(reverse(f"admin:{admin_name}_changelist"))
    assert response.status_code == 200, admin_name
    return {row.pk for row in response.context["cl"].result_list}


@pytest.mark.parametrize("admin_name", SCOPED)
def test_an_administrator_lists_only_their_city(
    admin_client: Client, cities: TwoCities, admin_name: str
) -> None:
    listed = _listed(admin_client, admin_name)
    assert cities.a.rows[admin_name].pk in listed
    assert cities.b.rows[admin_name].pk not in listed


@pytest.mark.parametrize("admin_name", SCOPED)
def test_the_other_citys_object_pages_are_404(
    admin_client: Client, cities: TwoCities, admin_name: str
) -> None:
    own, other = cities.a.rows[admin_name].pk, cities.b.rows[admin_name].pk
    assert admin_client.get(reverse(f"admin:{admin_name}_change", args=[own])).status_code == 200
    for view in ("change", "delete", "history"):
        response = admin_client.get(reverse(f"admin:{admin_name}_{view}", args=[other]))
        assert response.status_code == 404, (admin_name, view)


@pytest.mark.parametrize("admin_name", SCOPED)
def test_a_superuser_sees_both_cities(
    client: Client, root: User, cities: TwoCities, admin_name: str
) -> None:
    client.force_login(root)
    listed = _listed(client, admin_name)
    assert {cities.a.rows[admin_name].pk, cities.b.rows[admin_name].pk} <= listed


def test_an_unassigned_member_of_staff_sees_no_city(client: Client, cities: TwoCities) -> None:
    nobody = User.objects.create_user("nobody", password="x", is_staff=True)
    nobody.groups.add(Group.objects.get(name=roles.ADMINISTRATORS))
    client.force_login(nobody)
    assert _listed(client, "reservations_resident") == set()


def _filter_choices(client: Client, admin_name: str, field_path: str) -> list[Any]:
    response = client.get(reverse(f"admin:{admin_name}_changelist"))
    specs = [s for s in response.context["cl"].filter_specs if s.field_path == field_path]
    # Django leaves out a related filter with a single choice.
    return [pk for spec in specs for pk, _name in spec.lookup_choices]


def test_the_filters_list_only_their_municipalities_and_sites(
    client: Client, cities: TwoCities, root: User
) -> None:
    a, b = cities.a.world, cities.b.world
    third = a.neighbour(code="452033", name="延岡市")
    staff = _administrator(cities)
    StaffAssignment.objects.create(user=staff, municipality=third.municipality)
    client.force_login(staff)
    wanted = {a.municipality.pk, third.municipality.pk}
    assert set(_filter_choices(client, "reservations_resident", "municipality")) == wanted
    sites = set(_filter_choices(client, "reservations_slot", "operating_day__site"))
    assert sites == {a.site.pk, third.site.pk}
    client.force_login(root)
    everyone = set(_filter_choices(client, "reservations_resident", "municipality"))
    assert everyone == wanted | {b.municipality.pk}


def test_a_filter_naming_the_other_city_shows_none_of_it(
    admin_client: Client, cities: TwoCities
) -> None:
    response = admin_client.get(
        reverse("admin:reservations_resident_changelist"),
        {"municipality__id__exact": cities.b.world.municipality.pk},
    )
    assert response.status_code == 200
    assert cities.b.resident not in response.context["cl"].result_list


def _refused(response: Any, field: str) -> None:
    assert response.status_code == 200  # the form again, not a redirect after saving
    errors = response.context["adminform"].form.errors
    assert field in errors, errors


ADD_FORMS: list[tuple[str, str, Callable[[City], dict[str, Any]]]] = [
    ("reservations_site", "municipality", lambda c: {"municipality": c.world.municipality.pk}),
    (
        "reservations_operatingday",
        "site",
        lambda c: {"site": c.world.site.pk},
    ),
    (
        "reservations_cohortopening",
        "municipality",
        lambda c: {"municipality": c.world.municipality.pk},
    ),
    ("reservations_campaign", "municipality", lambda c: {"municipality": c.world.municipality.pk}),
    ("phone_seasonplan", "municipality", lambda c: {"municipality": c.world.municipality.pk}),
    (
        "phone_callvolumeevent",
        "municipality",
        lambda c: {"municipality": c.world.municipality.pk},
    ),
    ("api_partnerkey", "municipalities", lambda c: {"municipalities": [c.world.municipality.pk]}),
]


@pytest.mark.parametrize(("admin_name", "field", "choice"), ADD_FORMS)
def test_a_form_choosing_the_other_city_is_refused(
    admin_client: Client,
    cities: TwoCities,
    admin_name: str,
    field: str,
    choice: Callable[[City], dict[str, Any]],
) -> None:
    model = type(cities.a.rows[admin_name])
    before = model._default_manager.count()
    response = admin_client.post(reverse(f"admin:{admin_name}_add"), choice(cities.b))
    _refused(response, field)
    assert model._default_manager.count() == before
    # Their own city is a choice the same field accepts.
    response = admin_client.get(reverse(f"admin:{admin_name}_add"))
    choices = response.context["adminform"].form.fields[field].queryset
    assert cities.a.world.municipality.pk in {
        getattr(row, "municipality_id", row.pk) for row in choices
    }
    assert not any(
        getattr(row, "municipality_id", row.pk) == cities.b.world.municipality.pk for row in choices
    )


def test_a_ticket_for_the_other_citys_resident_is_refused_without_naming_them(
    admin_client: Client, cities: TwoCities
) -> None:
    b = cities.b
    response = admin_client.post(
        reverse("admin:reservations_ticket_add"),
        {
            "municipality": cities.a.world.municipality.pk,
            "number": "9999999999",
            "resident": b.resident.pk,
            "status": "active",
        },
    )
    _refused(response, "resident")
    assert not Ticket.objects.filter(number="9999999999").exists()
    assert b.resident.name not in response.content.decode()


def test_a_broadcast_for_the_other_citys_day_is_refused(
    admin_client: Client, cities: TwoCities
) -> None:
    other_day = cities.b.world.day(DAY + dt.timedelta(days=2))
    response = admin_client.post(
        reverse("admin:notify_broadcast_add"), {"operating_day": other_day.pk}
    )
    _refused(response, "operating_day")
    assert not DayCancellation.objects.filter(operating_day=other_day).exists()


def test_a_superuser_may_choose_either_city(client: Client, root: User, cities: TwoCities) -> None:
    client.force_login(root)
    response = client.post(
        reverse("admin:reservations_site_add"),
        {"municipality": cities.b.world.municipality.pk, "name": "都城市第二会場", "kind": "mass"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Site.objects.filter(name="都城市第二会場").exists()


def test_staff_cannot_add_or_delete_a_municipality(admin_client: Client, cities: TwoCities) -> None:
    assert admin_client.get(reverse("admin:reservations_municipality_add")).status_code == 403
    own = cities.a.world.municipality.pk
    url = reverse("admin:reservations_municipality_delete", args=[own])
    assert admin_client.get(url).status_code == 403


def _user_form(user: User, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The User admin's change form with the StaffAssignment inline's rows (all new)."""
    data: dict[str, Any] = {
        "username": user.username,
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": "2026-11-01",
        "date_joined_1": "09:00:00",
        "staff_assignments-TOTAL_FORMS": str(len(rows)),
        "staff_assignments-INITIAL_FORMS": "0",
        "staff_assignments-MIN_NUM_FORMS": "0",
        "staff_assignments-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"staff_assignments-{index}-{name}"] = value
    return data


def test_an_administrator_assigns_only_their_own_city(
    admin_client: Client, cities: TwoCities
) -> None:
    clerk = User.objects.create_user("clerk", password="x", is_staff=True)
    url = reverse("admin:auth_user_change", args=[clerk.pk])
    b = cities.b.world
    response = admin_client.post(url, _user_form(clerk, [{"municipality": b.municipality.pk}]))
    assert response.status_code == 200
    assert not StaffAssignment.objects.filter(user=clerk).exists()
    a = cities.a.world
    response = admin_client.post(url, _user_form(clerk, [{"municipality": a.municipality.pk}]))
    assert response.status_code == 302
    (given,) = StaffAssignment.objects.filter(user=clerk)
    assert (given.municipality_id, given.site_id) == (a.municipality.pk, None)


def test_the_user_admin_shows_and_keeps_the_other_citys_rows(
    admin_client: Client, cities: TwoCities
) -> None:
    a, b = cities.a.world, cities.b.world
    clerk = User.objects.create_user("clerk", password="x", is_staff=True)
    StaffAssignment.objects.create(user=clerk, municipality=b.municipality)
    url = reverse("admin:auth_user_change", args=[clerk.pk])
    response = admin_client.get(url)
    (formset,) = [f for f in response.context["inline_admin_formsets"]]
    assert list(formset.formset.queryset) == []
    response = admin_client.post(url, _user_form(clerk, [{"municipality": a.municipality.pk}]))
    assert response.status_code == 302
    kept = StaffAssignment.objects.filter(user=clerk).values_list("municipality", flat=True)
    assert set(kept) == {a.municipality.pk, b.municipality.pk}


def test_a_site_of_another_municipality_is_refused_even_for_a_superuser(
    client: Client, root: User, cities: TwoCities
) -> None:
    client.force_login(root)
    clerk = User.objects.create_user("clerk", password="x", is_staff=True)
    url = reverse("admin:auth_user_change", args=[clerk.pk])
    row = {"municipality": cities.a.world.municipality.pk, "site": cities.b.world.site.pk}
    response = client.post(url, _user_form(clerk, [row]))
    assert response.status_code == 200
    assert "この会場は担当自治体の会場ではありません。" in response.content.decode()
    assert not StaffAssignment.objects.filter(user=clerk).exists()


def test_a_clinics_staff_cannot_give_the_whole_city(client: Client, cities: TwoCities) -> None:
    a = cities.a.world
    clinic = _administrator(cities, "clinic-admin")
    StaffAssignment.objects.filter(user=clinic).update(site=a.site)
    client.force_login(User.objects.get(pk=clinic.pk))
    clerk = User.objects.create_user("clerk", password="x", is_staff=True)
    url = reverse("admin:auth_user_change", args=[clerk.pk])
    response = client.post(url, _user_form(clerk, [{"municipality": a.municipality.pk}]))
    assert response.status_code == 200
    assert "自治体全体を担当に加えられるのは" in response.content.decode()
    row = {"municipality": a.municipality.pk, "site": a.site.pk}
    response = client.post(url, _user_form(clerk, [row]))
    assert response.status_code == 302
    assert StaffAssignment.objects.filter(user=clerk, site=a.site).exists()


def test_a_partner_key_acts_only_as_their_own_staff(
    admin_client: Client, cities: TwoCities, root: User
) -> None:
    response = admin_client.get(reverse("admin:api_partnerkey_add"))
    users = set(response.context["adminform"].form.fields["user"].queryset)
    assert cities.a.world.operator in users
    assert root not in users
    two_city_key = cities.b.rows["api_partnerkey"]
    assert isinstance(two_city_key, PartnerKey)
    two_city_key.municipalities.add(cities.a.world.municipality)
    # A key reaching B as well is not A's to read or edit.
    assert two_city_key.pk not in _listed(admin_client, "api_partnerkey")


def _admin_reads(resident: Resident) -> list[RecordAccess]:
    return list(RecordAccess.objects.filter(resident=resident, channel="admin"))


def test_the_resident_list_is_an_audited_read_of_each_resident_shown(
    admin_client: Client, cities: TwoCities
) -> None:
    admin_client.get(reverse("admin:reservations_resident_changelist"))
    (read,) = _admin_reads(cities.a.resident)
    assert read.action == RecordAccess.Action.VIEWED
    assert read.user.username == "a-admin"
    assert read.municipality == cities.a.world.municipality
    assert read.detail["page"] == "admin_resident_changelist"
    assert _admin_reads(cities.b.resident) == []


@pytest.mark.parametrize(
    ("admin_name", "row"),
    [
        ("reservations_resident", lambda c: c.resident),
        ("reservations_ticket", lambda c: c.ticket),
        ("reservations_reservation", lambda c: c.reservation),
        ("reservations_vaccination", lambda c: c.vaccination),
    ],
)
def test_opening_a_residents_record_is_an_audited_read(
    admin_client: Client, cities: TwoCities, admin_name: str, row: Callable[[City], Model]
) -> None:
    url = reverse(f"admin:{admin_name}_change", args=[row(cities.a).pk])
    assert admin_client.get(url).status_code == 200
    reads = [r for r in _admin_reads(cities.a.resident) if r.detail["page"].endswith("_change")]
    assert len(reads) == 1
    assert reads[0].detail["page"] == f"admin_{admin_name.removeprefix('reservations_')}_change"
    if admin_name == "reservations_reservation":
        assert reads[0].detail["code"] == cities.a.reservation.code


def test_a_refused_page_writes_no_audit_row(admin_client: Client, cities: TwoCities) -> None:
    url = reverse("admin:reservations_resident_change", args=[cities.b.resident.pk])
    assert admin_client.get(url).status_code == 404
    assert _admin_reads(cities.b.resident) == []


def test_a_superusers_reads_are_audited_too(client: Client, root: User, cities: TwoCities) -> None:
    client.force_login(root)
    client.get(reverse("admin:reservations_resident_changelist"))
    assert len(_admin_reads(cities.a.resident)) == 1
    assert len(_admin_reads(cities.b.resident)) == 1
    assert Municipality.objects.count() == 2
