"""A fixed set of dose records for export tests: same bytes on every run and every database."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.contrib.auth.models import Group, User

from reservations import roles
from reservations.models import Actor, Channel, Municipality, Site, Ticket, Vaccination, Vaccine
from reservations.services.booking import Requester
from reservations.services.vaccinations import (
    vaccination_cancel,
    vaccination_correct,
    vaccination_import_external,
    vaccination_record,
)
from tests.world import World, jst

NOW = jst(2026, 11, 2, 9, 0)
REGISTERED = jst(2026, 11, 1, 18, 30) + dt.timedelta(seconds=5)


@dataclass
class Cohort:
    world: World
    site: Site
    staff: User
    tickets: dict[str, Ticket]

    def requester(self) -> Requester:
        return Requester(channel=Channel.COUNTER, actor=Actor.OPERATOR, user=self.staff)


def venue_staff(username: str = "venue", *groups: str) -> User:
    roles.ensure_staff_groups()
    user = User.objects.create_user(username, password="x", is_staff=True)
    for name in groups or (roles.VENUE_STAFF,):
        user.groups.add(Group.objects.get(name=name))
    return User.objects.get(pk=user.pk)


def give(
    cohort: Cohort,
    ticket: Ticket,
    on: dt.date,
    *,
    lot: str = "FF3620",
    doctor: str = "宮崎 一郎",
    vaccine: Vaccine | None = None,
) -> Vaccination:
    return vaccination_record(
        resident=ticket.resident,
        ticket=ticket,
        vaccine=vaccine or cohort.world.vaccine,
        vaccinated_on=on,
        requester=cohort.requester(),
        site=cohort.site,
        lot_number=lot,
        doctor_name=doctor,
        now=NOW,
    )


def build_cohort(world: World) -> Cohort:
    """Four people: a three-dose history, a corrected dose, a dose imported from VRS followed
    by one of ours, and a cancelled dose whose doctor's name needs CSV quoting."""
    site = Site.objects.create(
        pk=9001, municipality=world.municipality, name="日南市総合運動公園", vrs_name="文化センター"
    )
    staff = venue_staff("cohort-staff", roles.VENUE_STAFF, roles.EXPORTERS)
    tickets = {}
    for key, number, atena in (
        ("a", "0000000001", ""),
        ("b", "0000012345", "12345"),
        ("c", "0000000300", ""),
        ("d", "0100000004", ""),
    ):
        first = world.resident(name=f"住民 {key}")
        ticket = Ticket.objects.filter(pk=first.pk)
        ticket.update(number=number)
        first.resident.atena_number = atena
        first.resident.save()
        tickets[key] = Ticket.objects.get(pk=first.pk)
    cohort = Cohort(world=world, site=site, staff=staff, tickets=tickets)
    give(cohort, tickets["a"], dt.date(2021, 6, 1))
    give(cohort, tickets["a"], dt.date(2021, 6, 22), lot="FA5765")
    give(cohort, tickets["a"], dt.date(2026, 10, 20), lot="GH-0001")
    wrong = give(cohort, tickets["b"], dt.date(2026, 10, 21), lot="XX0000")
    vaccination_correct(
        record=wrong,
        requester=cohort.requester(),
        reason="ロット番号の読み違い",
        lot_number="ＦＦ３６２０",
        now=NOW,
    )
    Municipality.objects.create(code="131016", name="千代田区")
    vaccination_import_external(
        resident=tickets["c"].resident,
        ticket=tickets["c"],
        vaccine=world.vaccine,
        reported_dose_number=1,
        vaccinated_on=dt.date(2021, 7, 1),
        registered_at=jst(2021, 7, 1, 17, 2) + dt.timedelta(seconds=3),
        given_in_municipality_code="131016",
        site_name="自衛隊東京大規模接種センター",
        doctor_name="東京 次郎",
        lot_number="EY0779",
        requester=cohort.requester(),
        now=NOW,
    )
    give(cohort, tickets["c"], dt.date(2026, 10, 22), doctor="日南 三郎")
    mistaken = give(cohort, tickets["d"], dt.date(2026, 10, 23), doctor='Smith, "Jr"')
    vaccination_cancel(record=mistaken, requester=cohort.requester(), reason="別人の記録", now=NOW)
    # Fixed identities and registration times, so the golden files are byte-exact.
    first_versions = Vaccination.objects.filter(version=1).order_by("pk")
    for index, record in enumerate(first_versions, start=1):
        Vaccination.objects.filter(record_id=record.record_id).update(
            record_id=uuid.UUID(int=index)
        )
    Vaccination.objects.filter(source=Vaccination.Source.OUR_SITE).update(created_at=REGISTERED)
    return cohort
