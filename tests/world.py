"""A small, explicit cast for tests (no factories): one city, one site, residents, staff.

`world` builds 日南市 with a mass site giving the routine COVID-19 vaccine (pfizer-12, two
products available) and helpers to add days, slots and residents. Times are JST.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY  # type: ignore[import-untyped]
from django_otp.plugins.otp_totp.models import TOTPDevice  # type: ignore[import-untyped]

from channels.phone.second_factor import must_use_second_factor
from reservations import roles
from reservations.models import (
    Actor,
    Campaign,
    Channel,
    Municipality,
    OperatingDay,
    Program,
    Resident,
    Site,
    Slot,
    StaffAssignment,
    Ticket,
    Vaccine,
)
from reservations.services.booking import Requester
from reservations.services.rules import rules_load

JST = dt.timezone(dt.timedelta(hours=9))
_ticket_numbers = itertools.count(1)


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=JST)


@dataclass
class World:
    municipality: Municipality
    site: Site
    campaign: Campaign
    vaccine: Vaccine
    operator: User
    web: Requester = field(default_factory=lambda: Requester(channel=Channel.WEB))

    def phone(self) -> Requester:
        return Requester(channel=Channel.PHONE, actor=Actor.OPERATOR, user=self.operator)

    def day(
        self,
        date: dt.date,
        *,
        vaccine: Vaccine | None = None,
        campaign: Campaign | None = None,
        site: Site | None = None,
        opens: int = 60,
        closes: int = 0,
        change_closes: int = 1,
        release_hours: int | None = None,
    ) -> OperatingDay:
        day, _created = OperatingDay.objects.get_or_create(
            site=site or self.site,
            date=date,
            vaccine=vaccine or self.vaccine,
            defaults={
                "campaign": campaign or self.campaign,
                "booking_opens_days_before": opens,
                "booking_closes_days_before": closes,
                "change_closes_days_before": change_closes,
                "phone_reserve_release_hours": release_hours,
            },
        )
        return day

    def slot(
        self,
        date: dt.date,
        hour: int = 10,
        minute: int = 0,
        *,
        capacity: int = 5,
        reserved: int = 0,
        **day_options: object,
    ) -> Slot:
        day = self.day(date, **day_options)  # type: ignore[arg-type]
        start = jst(date.year, date.month, date.day, hour, minute)
        slot, _created = Slot.objects.get_or_create(
            operating_day=day,
            starts_at=start,
            defaults={
                "ends_at": start + dt.timedelta(minutes=15),
                "capacity": capacity,
                "phone_reserved": reserved,
            },
        )
        return slot

    def neighbour(
        self, code: str = "452025", name: str = "都城市", *, operator_serves_both: bool = False
    ) -> World:
        """Another municipality (default 都城市) with a site of its own, sharing this world's
        campaign, vaccine and operator: its `slot()` and `resident()` are that city's. The
        operator works for this world's city only, unless `operator_serves_both` (a
        contractor's operator assigned to both, who reaches the core's own refusals)."""
        municipality = Municipality.objects.create(
            code=code, name=name, call_centre_phone="0986-00-0000"
        )
        if operator_serves_both:
            StaffAssignment.objects.create(user=self.operator, municipality=municipality)
        site = Site.objects.create(municipality=municipality, name=f"{name}総合体育館")
        return World(
            municipality=municipality,
            site=site,
            campaign=self.campaign,
            vaccine=self.vaccine,
            operator=self.operator,
        )

    def primary_series(self) -> World:
        """Switch to a two-dose primary-series campaign (from 2026-01-01, no end), so a dose-1
        booking books dose 2 with it (セット予約)."""
        campaign = Campaign.objects.create(
            code="test-primary",
            name="初回接種（テスト）",
            program=Program.objects.get(code="covid-primary"),
            starts_on=dt.date(2026, 1, 1),
        )
        campaign.vaccines.add(self.vaccine)
        self.campaign = campaign
        return self

    def resident(
        self,
        birth_date: dt.date = dt.date(1950, 4, 1),
        *,
        attested: bool = False,
        name: str = "日南 花子",
    ) -> Ticket:
        resident = Resident.objects.create(
            municipality=self.municipality,
            name=name,
            name_kana="ニチナン ハナコ",
            birth_date=birth_date,
            high_risk_attested=attested,
            phone="+819012345678",
        )
        return Ticket.objects.create(
            municipality=self.municipality,
            number=f"{next(_ticket_numbers):010d}",
            resident=resident,
        )


def staff_with(name: str, *codenames: str) -> User:
    """A staff login holding exactly these permissions (by codename), working for the home
    municipality when it exists (reservations/staff_scope.py), fresh from the database so that
    its permission cache is empty."""
    user = User.objects.create_user(name, password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    home = Municipality.objects.filter(code=settings.HOME_MUNICIPALITY_CODE).first()
    if home is not None:
        StaffAssignment.objects.create(user=user, municipality=home)
    return User.objects.get(pk=user.pk)


def sign_in_verified(
    client: Client, user: User, *, force_login: Callable[[], None] | None = None
) -> None:
    """client.force_login(user) with the second factor already given, as after both sign-in
    steps (channels/phone/second_factor.py): a confirmed device of the user's is what
    django_otp.login would have put in the session. force_login alone leaves an administrator,
    an exporter or a superuser at the code page. (`force_login`: Django's own, when
    client.force_login itself is this helper: tests/conftest.py.)"""
    if force_login is None:
        client.force_login(user)
    else:
        force_login()
    if not must_use_second_factor(user):
        return  # their session stays as the password step leaves it
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@pytest.fixture
def national_rules(db: None) -> None:
    rules_load()


@pytest.fixture
def world(national_rules: None) -> World:
    return world_build()


def world_build() -> World:
    """日南市 with one site, the national rules' 2026 campaign and vaccine, and an operator
    working for it (the `world` fixture, for tests that build it outside a fixture)."""
    municipality = Municipality.objects.create(
        code="452041", name="日南市", call_centre_phone="0987-00-0000"
    )
    site = Site.objects.create(municipality=municipality, name="日南市文化センター")
    roles.ensure_staff_groups()
    operator = User.objects.create_user("operator", password="x", is_staff=True)
    operator.groups.add(Group.objects.get(name=roles.OPERATORS))
    StaffAssignment.objects.create(user=operator, municipality=municipality)
    return World(
        municipality=municipality,
        site=site,
        campaign=Campaign.objects.get(code="covid-routine-2026"),
        vaccine=Vaccine.objects.get(code="pfizer-12"),
        operator=User.objects.get(pk=operator.pk),
    )


@pytest.fixture
def now() -> dt.datetime:
    """A fixed 'now' inside the 2026 routine season, for tests that book future slots."""
    return jst(2026, 11, 2, 9, 0)


@pytest.fixture
def season_clock(now: dt.datetime) -> Iterator[time_machine.Coordinates]:
    """The process clock at `now`, ticking, for tests whose code reads the clock itself (pages,
    tasks, live servers: every thread of this process sees it) and that build their dates from
    "today". Without it they would fall outside the 2026 season once it has passed."""
    with time_machine.travel(now, tick=True) as traveller:
        yield traveller


def local_date(moment: dt.datetime) -> dt.date:
    return timezone.localdate(moment)
