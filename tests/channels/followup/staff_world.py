"""Shared pieces of the health-centre staff screens' tests: a clock on day 1 of a follow-up,
staff of the two follow-up roles, followed people (with and without a Resident row), a photo
file on disk."""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path
from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group, User

from channels.followup.apps import ensure_followup_roles
from channels.followup.models import FollowedPerson, FollowUp, FollowUpPhoto, Questionnaire
from channels.followup.services import followup_start
from reservations.models import Municipality, Resident, StaffAssignment
from reservations.roles import FOLLOWUP_DOCTORS, HEALTH_CENTRE_STAFF
from tests.world import jst

DAY1 = dt.date(2026, 11, 2)
DAY2 = DAY1 + dt.timedelta(days=1)
DAY3 = DAY1 + dt.timedelta(days=2)
# Day 1, 10:00 JST: after the invitations, before the 12:00 reminder and the 17:00 cut-off.
NOW = jst(2026, 11, 2, 10, 0)


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return jst(day.year, day.month, day.day, hour, minute)


def staff_of(name: str, group: str, *municipalities: Municipality) -> User:
    """A member of staff in one of the follow-up roles' groups, working for `municipalities`,
    fresh from the database (empty permission cache)."""
    ensure_followup_roles()
    user = User.objects.create_user(name, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    for municipality in municipalities:
        StaffAssignment.objects.create(user=user, municipality=municipality)
    return User.objects.get(pk=user.pk)


def health_staff(name: str, *municipalities: Municipality) -> User:
    return staff_of(name, HEALTH_CENTRE_STAFF, *municipalities)


def doctor(name: str, *municipalities: Municipality) -> User:
    return staff_of(name, FOLLOWUP_DOCTORS, *municipalities)


def followed(
    municipality: Municipality,
    name: str = "油津 花子",
    *,
    resident: Resident | None = None,
    phone: str = "+819011112222",
    proxy_phone: str = "",
    birth_date: dt.date = dt.date(1950, 4, 1),
) -> FollowedPerson:
    return FollowedPerson.objects.create(
        municipality=municipality,
        resident=resident,
        name=name,
        phone=phone,
        proxy_phone=proxy_phone,
        birth_date=birth_date,
    )


def home_care() -> Questionnaire:
    return Questionnaire.objects.get(code="home-care", is_active=True)


def ship_questionnaires() -> None:
    """The shipped questionnaires, written again as their migration writes them when a
    transactional test before this one flushed them."""
    if not Questionnaire.objects.filter(code="home-care", is_active=True).exists():
        shipped = importlib.import_module(
            "channels.followup.migrations.0002_shipped_questionnaires"
        )
        shipped.ship(apps, None)


def follow(person: FollowedPerson, *, days: int = 3, start: dt.date = DAY1) -> FollowUp:
    return followup_start(
        person=person, questionnaire=home_care(), start_date=start, days=days, now=at(start, 8)
    ).followup


def home(
    temperature: str = "36.8", spo2: str = "97", symptoms: list[str] | None = None
) -> dict[str, Any]:
    return {
        "temperature": temperature,
        "spo2": spo2,
        "pulse": "72",
        "symptoms": symptoms or ["none"],
    }


# A tiny valid PNG (1×1, grey): what the review page serves back byte for byte.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a49444154789c63680000000201010d0a2db40000000049454e44ae426082"
)
STORED_NAME = "k4Jw0cTq9ZbXv7YhL2mN3pQr.png"


def photo(
    followup: FollowUp, root: Path, *, day: dt.date = DAY1, name: str = STORED_NAME
) -> FollowUpPhoto:
    """A pending photo of `followup` whose file exists under `root` (FOLLOWUP_PHOTO_ROOT)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(PNG)
    return FollowUpPhoto.objects.create(
        followup=followup,
        for_date=day,
        question_key="kit",
        stored_name=name,
        content_type="image/png",
        size_bytes=len(PNG),
        uploaded_at=at(day, 9),
    )
