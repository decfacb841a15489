"""seed_demo: idempotent demo data with which a resident aged 65+ can book straight away."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from reservations import roles
from reservations.management.commands.seed_demo import STAFF_ACCOUNTS, demo_residents
from reservations.models import (
    Campaign,
    Municipality,
    OperatingDay,
    Reservation,
    Resident,
    Site,
    Slot,
    Ticket,
)
from reservations.services.booking import Requester, reservation_book
from reservations.staff_scope import staff_scope
from tests.world import jst

D = dt.date
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def debug_on(settings: SettingsWrapper) -> None:
    # pytest-django runs with DEBUG off; the demo logins are refused there (tested below).
    settings.DEBUG = True


def seed_demo(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "municipalities": Municipality.objects.count(),
        "sites": Site.objects.count(),
        "campaigns": Campaign.objects.count(),
        "days": OperatingDay.objects.count(),
        "slots": Slot.objects.count(),
        "residents": Resident.objects.count(),
        "tickets": Ticket.objects.count(),
        "users": User.objects.count(),
    }


def test_it_is_idempotent() -> None:
    seed_demo("--today", "2026-12-01", "--residents", "40")
    first = counts()

    seed_demo("--today", "2026-12-01", "--residents", "40")

    assert counts() == first
    assert first["municipalities"] == 1
    assert first["sites"] == 3
    assert first["residents"] == first["tickets"] == 40
    assert first["users"] == len(STAFF_ACCOUNTS)


def test_it_sets_up_the_city_and_its_sites() -> None:
    seed_demo("--today", "2026-12-01", "--residents", "10")

    city = Municipality.objects.get(code="452041")
    assert (city.name, city.prefecture) == ("日南市", "宮崎県")
    assert city.call_centre_phone == "0987-00-0000"
    assert city.sms_sender_label == "日南市ワクチン予約"
    sites = {s.name: s for s in Site.objects.filter(municipality=city)}
    assert sites["日南市文化センター"].short_name == "文化センター"
    assert sites["日南市文化センター"].kind == Site.Kind.MASS
    assert sites["油津地区公民館"].short_name == "油津公民館"
    assert sites["日南ファミリークリニック"].kind == Site.Kind.CLINIC
    assert all(s.address.startswith("宮崎県日南市") for s in sites.values())


def test_it_generates_28_days_of_slots_with_the_demo_pattern() -> None:
    seed_demo("--today", "2026-12-01", "--residents", "10")

    dates = set(OperatingDay.objects.values_list("date", flat=True))
    assert min(dates) == D(2026, 12, 1)
    assert max(dates) == D(2026, 12, 28)  # 12/29 is 年末年始
    assert all(d.weekday() < 6 for d in dates)
    centre = OperatingDay.objects.get(site__name="日南市文化センター", date=D(2026, 12, 1))
    assert (centre.vaccine.code, centre.campaign.code) == ("pfizer-12", "covid-routine-2026")
    assert (centre.booking_opens_days_before, centre.booking_closes_days_before) == (60, 0)
    assert (centre.change_closes_days_before, centre.phone_reserve_release_hours) == (1, 24)
    assert centre.slots.count() == 12 + 14
    assert set(centre.slots.values_list("capacity", "phone_reserved")) == {(6, 2)}
    hall = OperatingDay.objects.get(site__name="油津地区公民館", date=D(2026, 12, 1))
    assert hall.vaccine.code == "moderna"
    clinic = OperatingDay.objects.get(site__name="日南ファミリークリニック", date=D(2026, 12, 1))
    assert (clinic.vaccine.code, clinic.campaign.code) == ("influenza-ha", "influenza-routine-2026")
    assert set(clinic.slots.values_list("capacity", "phone_reserved")) == {(3, 1)}


def test_it_skips_holidays() -> None:
    seed_demo("--today", "2026-11-21", "--residents", "10")

    assert not OperatingDay.objects.filter(date=D(2026, 11, 23)).exists()
    assert OperatingDay.objects.filter(date=D(2026, 11, 21)).count() == 3


def test_it_adds_the_new_days_on_a_later_day() -> None:
    seed_demo("--today", "2026-11-04", "--residents", "10")
    before = set(OperatingDay.objects.values_list("site_id", "date"))

    seed_demo("--today", "2026-11-05", "--residents", "10")

    after = set(OperatingDay.objects.values_list("site_id", "date"))
    assert before < after
    assert {d for _site, d in after - before} == {D(2026, 12, 3)}


def test_it_makes_a_municipal_campaign_after_the_national_one_ends() -> None:
    seed_demo("--today", "2027-05-10", "--residents", "10")

    city = Municipality.objects.get(code="452041")
    covid = Campaign.objects.get(municipality=city, program__code="covid-routine")
    flu = Campaign.objects.get(municipality=city, program__code="influenza-routine")
    for campaign in (covid, flu):
        assert campaign.covers(D(2027, 5, 10))
        assert campaign.covers(D(2027, 5, 10) + dt.timedelta(days=60))
    assert set(covid.vaccines.values_list("code", flat=True)) >= {"pfizer-12", "moderna"}
    days = OperatingDay.objects.filter(date__gte=D(2027, 5, 10))
    assert days.exists()
    assert set(days.values_list("campaign_id", flat=True)) == {covid.pk, flu.pk}


def test_it_widens_the_municipal_campaign_on_a_later_run() -> None:
    seed_demo("--today", "2027-05-10", "--residents", "10")
    seed_demo("--today", "2027-06-20", "--residents", "10")

    campaigns = Campaign.objects.filter(municipality__code="452041")
    assert campaigns.count() == 2
    for campaign in campaigns:
        assert campaign.covers(D(2027, 5, 10))
        assert campaign.covers(D(2027, 6, 20) + dt.timedelta(days=60))


def test_it_creates_the_three_documented_residents() -> None:
    output = seed_demo("--today", "2026-12-01", "--residents", "25")

    expected = {
        "0000000001": (D(1950, 4, 1), False),
        "0000000002": (D(1945, 8, 15), False),
        "0000000003": (D(1963, 2, 10), True),
    }
    for number, (birth_date, attested) in expected.items():
        ticket = Ticket.objects.select_related("resident").get(number=number)
        assert ticket.resident.birth_date == birth_date
        assert ticket.resident.high_risk_attested is attested
        assert number in output
    assert "1950-04-01（昭和25年4月1日）" in output
    assert not Ticket.objects.filter(number="0000000000").exists()
    numbers = sorted(Ticket.objects.values_list("number", flat=True))
    assert numbers == [f"{i:010d}" for i in range(1, 26)]


def test_it_makes_plausible_residents() -> None:
    people = demo_residents(300)

    assert len({p.atena_number for p in people}) == 300
    assert [p.atena_number for p in people] == sorted(p.atena_number for p in people)
    assert all("\u3000" in p.name and "\u3000" in p.name_kana for p in people)
    elderly = [p for p in people if D(1930, 1, 1) <= p.birth_date <= D(1961, 12, 31)]
    near = [p for p in people if D(1962, 1, 1) <= p.birth_date <= D(1966, 12, 31)]
    younger = [p for p in people if p.birth_date > D(1966, 12, 31)]
    assert len(elderly) > 180
    assert near and younger
    assert 0 < sum(p.high_risk_attested for p in near) < len(near)
    assert not any(p.high_risk_attested for p in younger)
    mobiles = [p for p in people if p.phone[:5] in ("+8190", "+8180", "+8170")]
    landlines = [p for p in people if p.phone.startswith("+81987")]
    assert len(mobiles) > 200
    assert landlines


def test_it_is_deterministic() -> None:
    assert demo_residents(50) == demo_residents(50)
    assert demo_residents(10) == demo_residents(50)[:10]


def test_it_adds_residents_when_asked_for_more() -> None:
    seed_demo("--today", "2026-12-01", "--residents", "10")
    seed_demo("--today", "2026-12-01", "--residents", "15")

    assert Resident.objects.count() == Ticket.objects.count() == 15


def test_it_creates_staff_logins_in_their_groups() -> None:
    output = seed_demo("--today", "2026-12-01", "--residents", "10")

    for username, group in (
        ("operator", roles.OPERATORS),
        ("venue", roles.VENUE_STAFF),
        ("exporter", roles.EXPORTERS),
        ("health", roles.HEALTH_CENTRE_STAFF),
        ("doctor", roles.FOLLOWUP_DOCTORS),
    ):
        user = User.objects.get(username=username)
        assert user.is_staff and not user.is_superuser
        assert user.check_password("madoguchi-demo")
        assert list(user.groups.values_list("name", flat=True)) == [group]
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("madoguchi-demo")
    assert User.objects.get(username="operator").has_perm("reservations.book_on_behalf")
    assert User.objects.get(username="doctor").has_perm("followup.review_photo")
    assert "madoguchi-demo" in output


def test_it_leaves_an_existing_password_alone() -> None:
    User.objects.create_user("operator", password="a-real-secret", is_staff=True)

    seed_demo("--today", "2026-12-01", "--residents", "10")

    operator = User.objects.get(username="operator")
    assert operator.check_password("a-real-secret")
    assert not operator.check_password("madoguchi-demo")


def test_it_refuses_demo_logins_without_debug(settings: SettingsWrapper) -> None:
    settings.DEBUG = False

    output = seed_demo("--today", "2026-12-01", "--residents", "10")

    assert not User.objects.exists()
    assert "--allow-demo-accounts" in output
    assert Resident.objects.count() == 10


def test_it_creates_demo_logins_without_debug_when_allowed(settings: SettingsWrapper) -> None:
    settings.DEBUG = False

    seed_demo("--today", "2026-12-01", "--residents", "10", "--allow-demo-accounts")

    assert User.objects.count() == len(STAFF_ACCOUNTS)


# seed_demo without --today reads the clock; the demo must be bookable whatever day it is run:
# the turn of the year (12/29–1/3 closed), a leap day, a Sunday evening after the last slot,
# the day the national routine campaign has ended, and a day years ahead of the shipped rules.
DEMO_DAYS = [
    jst(2026, 12, 28, 9, 0),
    jst(2026, 12, 31, 10, 0),
    jst(2028, 2, 29, 8, 30),
    jst(2027, 5, 9, 18, 0),
    jst(2026, 11, 21, 16, 20),
    jst(2031, 7, 14, 12, 0),
]


def first_bookable_slot(site_name: str, now: dt.datetime) -> Slot:
    """The first slot of the coming week a public channel can still book at this site."""
    slot = (
        Slot.objects.filter(
            operating_day__site__name=site_name,
            starts_at__gt=now + dt.timedelta(minutes=5),
            operating_day__date__lte=timezone.localdate(now) + dt.timedelta(days=7),
        )
        .order_by("starts_at")
        .first()
    )
    assert slot is not None, "seed_demo left no bookable slot in the coming week"
    return slot


@pytest.mark.parametrize("now", DEMO_DAYS, ids=lambda moment: moment.strftime("%Y-%m-%d_%H%M"))
def test_it_lets_a_resident_aged_65_book_right_away(now: dt.datetime) -> None:
    with time_machine.travel(now, tick=False):
        seed_demo("--residents", "10")
    ticket = Ticket.objects.get(number="0000000001")
    slot = first_bookable_slot("日南市文化センター", now)

    reservation = reservation_book(
        ticket=ticket, slot=slot, requester=Requester(channel="web"), now=now
    )

    assert reservation.status == Reservation.Status.CONFIRMED
    assert reservation.slot_id == slot.pk
    assert reservation.dose_number == 1
    assert reservation.next_dose is None
    slot.refresh_from_db()
    assert slot.booked == 1


@pytest.mark.parametrize("now", DEMO_DAYS, ids=lambda moment: moment.strftime("%Y-%m-%d_%H%M"))
def test_it_lets_an_attested_resident_aged_60_to_64_book_influenza(now: dt.datetime) -> None:
    with time_machine.travel(now, tick=False):
        seed_demo("--residents", "10")
    ticket = Ticket.objects.get(number="0000000003")
    slot = first_bookable_slot("日南ファミリークリニック", now)

    reservation = reservation_book(
        ticket=ticket, slot=slot, requester=Requester(channel="web"), now=now
    )

    assert reservation.status == Reservation.Status.CONFIRMED
    assert reservation.vaccine.code == "influenza-ha"


def test_it_closes_over_the_new_year() -> None:
    output = seed_demo("--today", "2026-12-27", "--residents", "10")

    dates = set(OperatingDay.objects.values_list("date", flat=True))
    new_year = {D(2026, 12, 29) + dt.timedelta(days=n) for n in range(6)}
    assert not dates & new_year
    assert D(2026, 12, 28) in dates
    assert D(2027, 1, 4) in dates
    assert "2026-12-30（年末年始）" in output
    assert "2027-01-01（元日）" in output


def test_a_second_city_gets_its_own_sites_days_and_tickets() -> None:
    seed_demo("--today", "2026-12-01", "--residents", "40")
    out = seed_demo("--today", "2026-12-01", "--residents", "20", "--municipality", "452025")
    miyakonojo = Municipality.objects.get(code="452025")
    assert (miyakonojo.name, miyakonojo.prefecture) == ("都城市", "宮崎県")  # the published list
    assert "都城市（452025）" in out and "職員ログインは作成していません" in out
    sites = Site.objects.filter(municipality=miyakonojo)
    assert sorted(s.name for s in sites) == [
        "都城市中央公民館",
        "都城市保健センター",
        "都城市本町内科クリニック",
    ]
    assert OperatingDay.objects.filter(site__municipality=miyakonojo).exists()
    numbers = list(Ticket.objects.filter(municipality=miyakonojo).values_list("number", flat=True))
    assert len(numbers) == 20 and all(n.startswith("45202") for n in numbers)
    home_numbers = set(
        Ticket.objects.filter(municipality__code="452041").values_list("number", flat=True)
    )
    assert home_numbers.isdisjoint(numbers) and len(home_numbers) == 40
    assert all(
        r.address.startswith("宮崎県都城市")
        for r in Resident.objects.filter(municipality=miyakonojo)
    )
    # The first city is untouched, and running the second again adds nothing.
    assert Resident.objects.filter(municipality__code="452041").count() == 40
    before = Slot.objects.count()
    seed_demo("--today", "2026-12-01", "--residents", "20", "--municipality", "452025")
    assert Slot.objects.count() == before
    # The demo logins work for the first city, and keep seeing it beside the second.
    operator = User.objects.get(username="operator")
    assert [m.code for m in staff_scope(operator).municipalities()] == ["452041"]


def test_a_second_city_takes_a_given_name_and_refuses_a_bad_code() -> None:
    seed_demo(
        "--today", "2026-12-01", "--residents", "5",
        "--municipality", "452017", "--name", "宮崎市", "--name-en", "Miyazaki City",
    )  # fmt: skip
    miyazaki = Municipality.objects.get(code="452017")
    assert miyazaki.name_en == "Miyazaki City"
    assert Site.objects.get(name="宮崎市保健センター").name_en == "Miyazaki City Health Centre"
    with pytest.raises(CommandError, match="検査数字"):
        seed_demo("--municipality", "452026")
    with pytest.raises(CommandError, match="--municipality"):
        seed_demo("--name", "どこか市")
