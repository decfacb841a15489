"""Setting up a season: operating days and slots from a weekly pattern, slot capacity changes,
the generate_slots command and the admin action."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import path

from reservations.admin_actions import generate_season_action
from reservations.exceptions import CapacityBelowBooked
from reservations.models import (
    Campaign,
    ClosedDay,
    Municipality,
    OperatingDay,
    Site,
    Slot,
    Vaccine,
)
from reservations.services.rules import rules_load
from reservations.services.slots import operating_days_generate, slot_set_capacity

JST = ZoneInfo("Asia/Tokyo")
D = dt.date
T = dt.time

pytestmark = pytest.mark.django_db


# The lead registers the action on the project's Site admin; these tests register it on an
# admin site of their own, so they do not depend on reservations/admin.py.
class _SiteAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    actions = [generate_season_action]


test_admin_site = admin.AdminSite(name="test_admin")
test_admin_site.register(Site, _SiteAdmin)
urlpatterns = [path("admin/", test_admin_site.urls)]
CHANGELIST = "/admin/reservations/site/"


@dataclass
class Season:
    site: Site
    vaccine: Vaccine
    campaign: Campaign

    def pattern(self, **overrides: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "site": self.site,
            "vaccine": self.vaccine,
            "campaign": self.campaign,
            "date_from": D(2026, 12, 1),
            "date_to": D(2026, 12, 1),
            "weekdays": range(7),
            "opens_at": T(9, 0),
            "closes_at": T(16, 0),
            "break_start": T(12, 0),
            "break_end": T(13, 0),
            "slot_minutes": 15,
            "capacity": 6,
            "phone_reserved": 2,
        }
        values.update(overrides)
        return values


@pytest.fixture
def season() -> Season:
    rules_load()
    municipality = Municipality.objects.create(code="452041", name="日南市")
    return Season(
        site=Site.objects.create(municipality=municipality, name="日南市文化センター"),
        vaccine=Vaccine.objects.get(code="pfizer-12"),
        campaign=Campaign.objects.get(code="covid-routine-2026"),
    )


def slot_times(day: OperatingDay) -> list[tuple[str, str]]:
    return [
        (f"{s.starts_at.astimezone(JST):%H:%M}", f"{s.ends_at.astimezone(JST):%H:%M}")
        for s in day.slots.order_by("starts_at")
    ]


# --- generation -------------------------------------------------------------------------------


def test_it_creates_a_day_with_aware_slots_in_jst(season: Season) -> None:
    report = operating_days_generate(**season.pattern(phone_reserve_release_hours=24))

    assert report.created_days == [D(2026, 12, 1)]
    assert report.created_slots == 24
    day = OperatingDay.objects.get()
    assert (day.site, day.vaccine, day.campaign) == (season.site, season.vaccine, season.campaign)
    assert day.phone_reserve_release_hours == 24
    first = day.slots.order_by("starts_at").first()
    assert first is not None
    assert first.starts_at.tzinfo is not None
    assert first.starts_at == dt.datetime(2026, 12, 1, 9, 0, tzinfo=JST)
    # 09:00 JST is midnight UTC: stored as an instant, not as a wall-clock time.
    assert first.starts_at == dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)
    assert (first.capacity, first.phone_reserved, first.booked) == (6, 2, 0)


def test_it_honours_the_break(season: Season) -> None:
    operating_days_generate(**season.pattern())

    times = slot_times(OperatingDay.objects.get())
    assert times[:2] == [("09:00", "09:15"), ("09:15", "09:30")]
    assert ("11:45", "12:00") in times
    assert ("13:00", "13:15") in times
    assert times[-1] == ("15:45", "16:00")
    assert not [t for t in times if "12:00" <= t[0] < "13:00"]


def test_it_drops_a_last_partial_slot(season: Season) -> None:
    operating_days_generate(
        **season.pattern(
            opens_at=T(9, 0),
            closes_at=T(10, 10),
            break_start=None,
            break_end=None,
            slot_minutes=20,
        )
    )

    assert slot_times(OperatingDay.objects.get()) == [
        ("09:00", "09:20"),
        ("09:20", "09:40"),
        ("09:40", "10:00"),
    ]


def test_it_drops_a_partial_slot_before_the_break(season: Season) -> None:
    operating_days_generate(
        **season.pattern(
            opens_at=T(9, 0),
            break_start=T(10, 50),
            break_end=T(12, 0),
            closes_at=T(13, 0),
            slot_minutes=20,
        )
    )

    times = slot_times(OperatingDay.objects.get())
    assert ("10:20", "10:40") in times
    assert all(not ("10:40" <= start < "12:00") for start, _end in times)
    assert times[-1] == ("12:40", "13:00")


def test_it_only_uses_the_chosen_weekdays(season: Season) -> None:
    report = operating_days_generate(
        **season.pattern(date_from=D(2026, 12, 7), date_to=D(2026, 12, 13), weekdays=[0, 2, 5])
    )

    assert report.created_days == [D(2026, 12, 7), D(2026, 12, 9), D(2026, 12, 12)]
    assert report.created_slots == 3 * 24


def test_it_skips_public_holidays(season: Season) -> None:
    report = operating_days_generate(
        **season.pattern(date_from=D(2026, 11, 21), date_to=D(2026, 11, 28), weekdays=range(6))
    )

    assert report.skipped_closed_days == [(D(2026, 11, 23), "勤労感謝の日")]
    assert D(2026, 11, 23) not in report.created_days
    assert not OperatingDay.objects.filter(date=D(2026, 11, 23)).exists()
    assert len(report.created_days) == 6


def test_it_skips_new_year_holidays_and_the_municipal_new_year_break(season: Season) -> None:
    report = operating_days_generate(
        **season.pattern(date_from=D(2026, 12, 28), date_to=D(2027, 1, 12))
    )

    assert report.skipped_closed_days == [
        (D(2026, 12, 29), "年末年始"),
        (D(2026, 12, 30), "年末年始"),
        (D(2026, 12, 31), "年末年始"),
        (D(2027, 1, 1), "元日"),
        (D(2027, 1, 2), "年末年始"),
        (D(2027, 1, 3), "年末年始"),
        (D(2027, 1, 11), "成人の日"),
    ]
    created = set(OperatingDay.objects.values_list("date", flat=True))
    assert D(2026, 12, 28) in created
    assert D(2027, 1, 4) in created


def test_a_municipality_that_opens_over_the_new_year_gets_those_days(season: Season) -> None:
    season.site.municipality.closed_over_new_year = False
    season.site.municipality.save()

    report = operating_days_generate(
        **season.pattern(date_from=D(2026, 12, 29), date_to=D(2027, 1, 3))
    )

    assert report.skipped_closed_days == [(D(2027, 1, 1), "元日")]
    assert len(report.created_days) == 5


def test_it_skips_the_municipalitys_own_closed_days(season: Season) -> None:
    municipality = season.site.municipality
    ClosedDay.objects.create(municipality=municipality, date=D(2026, 12, 9), name="選挙事務")
    ClosedDay.objects.create(
        municipality=municipality, date=D(2020, 12, 11), name="市制記念日", every_year=True
    )
    ClosedDay.objects.create(municipality=municipality, date=D(2025, 12, 10), name="昨年だけ")

    report = operating_days_generate(
        **season.pattern(date_from=D(2026, 12, 8), date_to=D(2026, 12, 12))
    )

    assert report.skipped_closed_days == [
        (D(2026, 12, 9), "選挙事務"),
        (D(2026, 12, 11), "市制記念日"),
    ]
    assert report.created_days == [D(2026, 12, 8), D(2026, 12, 10), D(2026, 12, 12)]


def test_another_municipalitys_closed_days_do_not_apply(season: Season) -> None:
    other = Municipality.objects.create(code="452025", name="都城市")
    ClosedDay.objects.create(municipality=other, date=D(2026, 12, 9), name="都城市の休み")

    report = operating_days_generate(
        **season.pattern(date_from=D(2026, 12, 9), date_to=D(2026, 12, 9))
    )

    assert report.created_days == [D(2026, 12, 9)]


def test_it_skips_substitute_holidays(season: Season) -> None:
    # 2027-03-21 (春分の日) is a Sunday, so Monday the 22nd is a 振替休日.
    report = operating_days_generate(
        **season.pattern(date_from=D(2027, 3, 22), date_to=D(2027, 3, 22))
    )

    assert report.created_days == []
    assert report.skipped_closed_days == [(D(2027, 3, 22), "春分の日 振替休日")]


def test_it_can_work_on_holidays_when_asked(season: Season) -> None:
    report = operating_days_generate(
        **season.pattern(date_from=D(2026, 11, 23), date_to=D(2026, 11, 23), skip_closed_days=False)
    )

    assert report.created_days == [D(2026, 11, 23)]
    assert report.skipped_closed_days == []


def test_it_skips_existing_days_and_leaves_them_alone(season: Season) -> None:
    operating_days_generate(**season.pattern(capacity=3, phone_reserved=0))
    existing = OperatingDay.objects.get()
    Slot.objects.filter(operating_day=existing).update(booked=1)

    report = operating_days_generate(
        **season.pattern(date_from=D(2026, 11, 30), date_to=D(2026, 12, 2), capacity=8)
    )

    assert report.skipped_existing == [D(2026, 12, 1)]
    assert report.created_days == [D(2026, 11, 30), D(2026, 12, 2)]
    assert set(existing.slots.values_list("capacity", "booked")) == {(3, 1)}
    assert existing.slots.count() == 24
    assert OperatingDay.objects.count() == 3


def test_it_allows_the_same_date_with_another_vaccine(season: Season) -> None:
    operating_days_generate(**season.pattern())
    moderna = Vaccine.objects.get(code="moderna")

    report = operating_days_generate(**season.pattern(vaccine=moderna))

    assert report.created_days == [D(2026, 12, 1)]
    assert OperatingDay.objects.filter(date=D(2026, 12, 1)).count() == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"closes_at": T(9, 0)}, "closes_at"),
        ({"closes_at": T(8, 0)}, "closes_at"),
        ({"break_start": T(8, 0), "break_end": T(9, 30)}, "break_start"),
        ({"break_start": T(15, 30), "break_end": T(16, 30)}, "break_start"),
        ({"break_start": T(13, 0), "break_end": T(12, 0)}, "break_end"),
        ({"break_start": T(12, 0), "break_end": None}, "break_end"),
        ({"slot_minutes": 4}, "slot_minutes"),
        ({"slot_minutes": 241}, "slot_minutes"),
        (
            {"opens_at": T(9, 0), "closes_at": T(9, 10), "break_start": None, "break_end": None},
            "slot_minutes",
        ),
        ({"capacity": 0, "phone_reserved": 0}, "capacity"),
        ({"capacity": 2, "phone_reserved": 3}, "phone_reserved"),
        ({"phone_reserved": -1}, "phone_reserved"),
        (
            {"booking_opens_days_before": 1, "booking_closes_days_before": 2},
            "booking_opens_days_before",
        ),
        ({"change_closes_days_before": -1}, "change_closes_days_before"),
        ({"date_from": D(2026, 10, 1), "date_to": D(2027, 10, 2)}, "date_to"),
        ({"date_from": D(2026, 12, 2), "date_to": D(2026, 12, 1)}, "date_to"),
        ({"date_from": D(2026, 9, 30)}, "campaign"),
        ({"date_to": D(2027, 4, 1)}, "campaign"),
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [7]}, "weekdays"),
    ],
)
def test_it_rejects_a_bad_pattern_in_japanese(
    season: Season, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        operating_days_generate(**season.pattern(**overrides))

    assert field in caught.value.message_dict
    message = caught.value.message_dict[field][0]
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in message)
    assert not OperatingDay.objects.exists()
    assert not Slot.objects.exists()


def test_it_accepts_a_full_leap_year(season: Season) -> None:
    campaign = Campaign.objects.create(
        code="year-long",
        name="通年",
        program=season.campaign.program,
        starts_on=D(2027, 4, 1),
        ends_on=D(2028, 3, 31),
    )
    report = operating_days_generate(
        **season.pattern(
            campaign=campaign, date_from=D(2027, 4, 1), date_to=D(2028, 3, 31), weekdays=[2]
        )
    )

    assert len(report.created_days) > 45


def test_it_refuses_a_vaccine_the_campaign_does_not_offer(season: Season) -> None:
    influenza = Vaccine.objects.get(code="influenza-ha")

    with pytest.raises(ValidationError) as caught:
        operating_days_generate(**season.pattern(vaccine=influenza))

    assert "vaccine" in caught.value.message_dict


def test_it_refuses_another_municipalitys_campaign(season: Season) -> None:
    other = Municipality.objects.create(code="452076", name="串間市")
    campaign = Campaign.objects.create(
        code="kushima-demo",
        name="串間市の独自接種",
        program=season.campaign.program,
        municipality=other,
        starts_on=D(2026, 10, 1),
        ends_on=D(2027, 3, 31),
    )

    with pytest.raises(ValidationError) as caught:
        operating_days_generate(**season.pattern(campaign=campaign))

    assert "campaign" in caught.value.message_dict


# --- capacity ---------------------------------------------------------------------------------


@pytest.fixture
def slot(season: Season) -> Slot:
    operating_days_generate(**season.pattern())
    slot = Slot.objects.order_by("starts_at").first()
    assert slot is not None
    # Counters are the booking services' business; set them directly to stage the scene.
    Slot.objects.filter(pk=slot.pk).update(booked=4, booked_staff=1)
    slot.refresh_from_db()
    return slot


def test_it_raises_capacity(slot: Slot) -> None:
    updated = slot_set_capacity(slot=slot, capacity=10)

    assert (updated.capacity, updated.phone_reserved, updated.booked) == (10, 2, 4)
    slot.refresh_from_db()
    assert slot.capacity == 10


def test_it_lowers_capacity_down_to_what_is_booked(slot: Slot) -> None:
    slot_set_capacity(slot=slot, capacity=4, phone_reserved=1)

    slot.refresh_from_db()
    assert (slot.capacity, slot.phone_reserved) == (4, 1)


def test_it_refuses_capacity_below_booked(slot: Slot) -> None:
    with pytest.raises(CapacityBelowBooked) as caught:
        slot_set_capacity(slot=slot, capacity=3, phone_reserved=0)

    assert caught.value.code == "capacity_below_booked"
    assert "4" in str(caught.value)
    slot.refresh_from_db()
    assert (slot.capacity, slot.phone_reserved) == (6, 2)


def test_it_refuses_capacity_below_the_phone_reserve(slot: Slot) -> None:
    Slot.objects.filter(pk=slot.pk).update(booked=0, booked_staff=0, phone_reserved=5)

    with pytest.raises(ValidationError):
        slot_set_capacity(slot=slot, capacity=4)

    with pytest.raises(ValidationError):
        slot_set_capacity(slot=slot, capacity=4, phone_reserved=5)
    slot.refresh_from_db()
    assert (slot.capacity, slot.phone_reserved) == (6, 5)


# --- command ----------------------------------------------------------------------------------


def generate_slots(*args: str) -> str:
    out = StringIO()
    call_command("generate_slots", *args, stdout=out)
    return out.getvalue()


COMMAND_ARGS = [
    "--site",
    "日南市文化センター",
    "--vaccine",
    "pfizer-12",
    "--campaign",
    "covid-routine-2026",
    "--from",
    "2026-11-21",
    "--to",
    "2026-11-28",
    "--weekdays",
    "mon,wed,sat",
    "--hours",
    "09:00-12:00,13:00-16:00",
    "--slot-minutes",
    "15",
    "--capacity",
    "6",
    "--phone-reserve",
    "2",
    "--reserve-release-hours",
    "24",
]


def test_it_generates_from_the_command_and_reports_in_japanese(season: Season) -> None:
    output = generate_slots(*COMMAND_ARGS)

    # Sat 21st, Wed 25th, Sat 28th; Mon 23rd is 勤労感謝の日.
    assert set(OperatingDay.objects.values_list("date", flat=True)) == {
        D(2026, 11, 21),
        D(2026, 11, 25),
        D(2026, 11, 28),
    }
    assert Slot.objects.count() == 3 * 24
    assert "稼働日: 3日、予約枠: 72件を作成しました。" in output
    assert "2026-11-23（勤労感謝の日）" in output
    day = OperatingDay.objects.first()
    assert day is not None and day.phone_reserve_release_hours == 24
    assert set(Slot.objects.values_list("capacity", "phone_reserved")) == {(6, 2)}


def test_the_command_skips_the_municipalitys_closed_days_unless_told_not_to(
    season: Season,
) -> None:
    ClosedDay.objects.create(
        municipality=season.site.municipality, date=D(2026, 11, 25), name="市の行事"
    )

    output = generate_slots(*COMMAND_ARGS)

    assert set(OperatingDay.objects.values_list("date", flat=True)) == {
        D(2026, 11, 21),
        D(2026, 11, 28),
    }
    assert "休業日のため作成せず: 2026-11-25（市の行事）" in output

    output = generate_slots(*COMMAND_ARGS, "--include-closed-days")

    assert "稼働日: 2日" in output  # the holiday and the city's own day, now created
    assert OperatingDay.objects.filter(date__in=[D(2026, 11, 23), D(2026, 11, 25)]).count() == 2


def test_it_finds_the_site_by_id(season: Season) -> None:
    args = list(COMMAND_ARGS)
    args[1] = str(season.site.pk)
    generate_slots(*args)

    assert OperatingDay.objects.filter(site=season.site).count() == 3


def test_it_writes_nothing_on_a_dry_run(season: Season) -> None:
    output = generate_slots(*COMMAND_ARGS, "--dry-run")

    assert "予約枠: 72件" in output
    assert "ドライラン" in output
    assert not OperatingDay.objects.exists()
    assert not Slot.objects.exists()


def test_it_reports_skipped_existing_days(season: Season) -> None:
    generate_slots(*COMMAND_ARGS)

    output = generate_slots(*COMMAND_ARGS)

    assert "稼働日: 0日" in output
    assert "作成済みのため変更せず: 3日" in output


def test_it_reads_japanese_weekdays_and_a_single_range(season: Season) -> None:
    args = list(COMMAND_ARGS)
    args[args.index("--weekdays") + 1] = "水"
    args[args.index("--hours") + 1] = "13:00-15:00"
    generate_slots(*args)

    assert list(OperatingDay.objects.values_list("date", flat=True)) == [D(2026, 11, 25)]
    assert Slot.objects.count() == 8


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--slot-minutes", "3", "1枠の長さ"),
        ("--hours", "12:00-09:00", "終了時刻"),
        ("--hours", "9時から", "時間帯"),
        ("--weekdays", "funday", "曜日"),
        ("--site", "存在しない会場", "見つかりません"),
        ("--campaign", "covid-routine-2099", "見つかりません"),
        ("--from", "2026/11/21", "日付"),
    ],
)
def test_it_turns_errors_into_a_command_error(
    season: Season, option: str, value: str, message: str
) -> None:
    args = list(COMMAND_ARGS)
    args[args.index(option) + 1] = value

    with pytest.raises(CommandError, match=message):
        generate_slots(*args)
    assert not OperatingDay.objects.exists()


# --- admin action -----------------------------------------------------------------------------


def season_form(site: Site, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "action": "generate_season_action",
        "_selected_action": [site.pk],
        "preview": "内容を確認する",
        "vaccine": Vaccine.objects.get(code="pfizer-12").pk,
        "campaign": Campaign.objects.get(code="covid-routine-2026").pk,
        "date_from": "2026-11-21",
        "date_to": "2026-11-28",
        "weekdays": ["0", "2", "5"],
        "skip_closed_days": "on",
        "opens_at": "09:00",
        "closes_at": "16:00",
        "break_start": "12:00",
        "break_end": "13:00",
        "slot_minutes": "15",
        "capacity": "6",
        "phone_reserved": "2",
        "booking_opens_days_before": "30",
        "booking_closes_days_before": "1",
        "change_closes_days_before": "2",
        "phone_reserve_release_hours": "",
    }
    data.update(overrides)
    return data


def preview_and_apply(client: Client, data: dict[str, Any]) -> Any:
    """The two steps a person takes: the preview, then 作成する with what it signed."""
    preview = client.post(CHANGELIST, data)
    assert preview.status_code == 200
    assert not OperatingDay.objects.exists()  # the preview writes nothing
    confirm = {
        "action": data["action"],
        "_selected_action": data["_selected_action"],
        "apply": "作成する",
        "season_preview": preview.context["preview_token"],
    }
    return client.post(CHANGELIST, confirm, follow=True)


@pytest.fixture
def admin_client_(season: Season) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x"))
    return client


@pytest.mark.urls(__name__)
def test_it_shows_the_intermediate_page(season: Season, admin_client_: Client) -> None:
    response = admin_client_.post(
        CHANGELIST, {"action": "generate_season_action", "_selected_action": [season.site.pk]}
    )

    assert response.status_code == 200
    assert "admin/reservations/site/generate_season.html" in [t.name for t in response.templates]
    body = response.content.decode()
    assert 'name="_selected_action"' in body
    assert f'value="{season.site.pk}"' in body
    assert 'name="action" value="generate_season_action"' in body
    assert 'name="preview"' in body
    assert 'name="apply"' not in body  # nothing is written before the preview
    assert "日南市文化センター" in body
    assert not OperatingDay.objects.exists()


@pytest.mark.urls(__name__)
def test_it_creates_days_from_the_admin(season: Season, admin_client_: Client) -> None:
    response = preview_and_apply(admin_client_, season_form(season.site))

    assert response.status_code == 200
    assert set(OperatingDay.objects.values_list("date", flat=True)) == {
        D(2026, 11, 21),
        D(2026, 11, 25),
        D(2026, 11, 28),
    }
    assert Slot.objects.count() == 72
    messages = [str(m) for m in response.context["messages"]]
    assert "日南市文化センター: 稼働日3日、予約枠72件を作成しました。" in messages
    assert any("2026-11-23（勤労感謝の日）" in m for m in messages)


@pytest.mark.urls(__name__)
def test_the_admin_skips_the_new_year_break_and_says_so(
    season: Season, admin_client_: Client
) -> None:
    form = season_form(
        season.site, date_from="2026-12-28", date_to="2027-01-04", weekdays=["0", "2", "5"]
    )

    response = preview_and_apply(admin_client_, form)

    # Mon 12/28 and Mon 1/4; Wed 12/30 and Sat 1/2 are 年末年始.
    assert set(OperatingDay.objects.values_list("date", flat=True)) == {
        D(2026, 12, 28),
        D(2027, 1, 4),
    }
    messages = [str(m) for m in response.context["messages"]]
    assert any(
        "休業日のため作成しなかった日" in m and "2026-12-30（年末年始）" in m for m in messages
    )


@pytest.mark.urls(__name__)
def test_it_shows_the_form_again_on_bad_input(season: Season, admin_client_: Client) -> None:
    response = admin_client_.post(
        CHANGELIST, season_form(season.site, closes_at="08:00", capacity="2", phone_reserved="3")
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert "closes_at" in form.errors
    assert "phone_reserved" in form.errors
    assert "会場「日南市文化センター」にはこの条件で作成できません。" in form.non_field_errors()
    assert not OperatingDay.objects.exists()


@pytest.mark.urls(__name__)
def test_it_creates_nothing_if_one_site_fails(season: Season, admin_client_: Client) -> None:
    other = Municipality.objects.create(code="452076", name="串間市")
    kushima = Site.objects.create(municipality=other, name="串間市保健センター")
    campaign = Campaign.objects.create(
        code="nichinan-own",
        name="日南市の独自接種",
        program=season.campaign.program,
        municipality=season.site.municipality,
        starts_on=D(2026, 10, 1),
        ends_on=D(2027, 3, 31),
    )
    data = season_form(season.site, campaign=campaign.pk)
    data["_selected_action"] = [season.site.pk, kushima.pk]

    response = admin_client_.post(CHANGELIST, data)

    assert response.status_code == 200
    assert "会場「串間市保健センター」にはこの条件で作成できません。" in (
        response.context["form"].non_field_errors()
    )
    assert not OperatingDay.objects.exists()


@pytest.mark.urls(__name__)
def test_it_needs_the_add_slot_permission(season: Season) -> None:
    clerk = User.objects.create_user("clerk", password="x", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="change_site"))
    client = Client()
    client.force_login(clerk)

    response = client.post(CHANGELIST, season_form(season.site), follow=True)

    assert not OperatingDay.objects.exists()
    messages = [str(m) for m in response.context["messages"]]
    assert "予約枠を作成する権限がありません。" in messages
