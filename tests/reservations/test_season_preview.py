"""The season generator shows what it would create before it writes: the plan (season_plan),
the admin's preview and confirmation, and the command's --dry-run, which reads the same plan.

The confirmation writes exactly what was previewed (pattern, sites and days travel signed);
when the days changed in between it writes nothing and shows the new preview instead."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from reservations.admin_actions import PREVIEW_MAX_AGE_SECONDS
from reservations.management.commands.generate_slots import format_plan
from reservations.models import (
    Campaign,
    ClosedDay,
    Municipality,
    OperatingDay,
    Site,
    Slot,
    Vaccine,
)
from reservations.services.slots import SeasonPlanChanged, operating_days_generate, season_plan
from tests.world import World, jst

D = dt.date
T = dt.time
CHANGELIST = "/admin/reservations/site/"
PREVIEW_TEMPLATE = "admin/reservations/site/generate_season_preview.html"
FORM_TEMPLATE = "admin/reservations/site/generate_season.html"
# Sat 11/21, Wed 11/25, Sat 11/28 are created; Mon 11/23 is 勤労感謝の日.
CREATED = {D(2026, 11, 21), D(2026, 11, 25), D(2026, 11, 28)}

pytestmark = pytest.mark.django_db


def pattern(world: World, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "site": world.site,
        "vaccine": world.vaccine,
        "campaign": world.campaign,
        "date_from": D(2026, 11, 21),
        "date_to": D(2026, 11, 28),
        "weekdays": [0, 2, 5],
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


def form_data(*sites: Site, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "action": "generate_season_action",
        "_selected_action": [site.pk for site in sites],
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


def confirm(preview: Any, *sites: Site, **extra: Any) -> dict[str, Any]:
    """What the preview page's 作成する button posts."""
    return {
        "action": "generate_season_action",
        "_selected_action": [site.pk for site in sites],
        "apply": "作成する",
        "season_preview": preview.context["preview_token"],
        **extra,
    }


def template_names(response: Any) -> list[str]:
    return [t.name for t in response.templates]


@pytest.fixture
def admin_client_(world: World) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x"))
    return client


# --- the plan ------------------------------------------------------------------------------------


def test_the_plan_reads_what_a_write_would_create_and_writes_nothing(world: World) -> None:
    world.day(D(2026, 11, 25))  # already runs pfizer-12 that day
    flu = Vaccine.objects.get(code="influenza-ha")
    world.day(
        D(2026, 11, 28), vaccine=flu, campaign=Campaign.objects.get(code="influenza-routine-2026")
    )
    days_before = OperatingDay.objects.count()

    plan = season_plan(**pattern(world))

    assert plan.days == [D(2026, 11, 21), D(2026, 11, 28)]
    assert plan.skipped_existing == [D(2026, 11, 25)]
    assert plan.skipped_closed_days == [(D(2026, 11, 23), "勤労感謝の日")]
    assert plan.other_vaccines == {D(2026, 11, 28): ["インフルエンザHAワクチン"]}
    assert (plan.slots_per_day, plan.slot_count, plan.seats_per_day, plan.seat_count) == (
        24,
        48,
        144,
        288,
    )
    assert plan.periods == [(T(9, 0), T(12, 0)), (T(13, 0), T(16, 0))]
    assert OperatingDay.objects.count() == days_before

    report = operating_days_generate(**pattern(world))

    assert report.created_days == plan.days
    assert report.created_slots == plan.slot_count


def test_the_write_refuses_days_that_differ_from_the_preview(world: World) -> None:
    shown = season_plan(**pattern(world)).days
    world.day(D(2026, 11, 21))
    ClosedDay.objects.create(municipality=world.municipality, date=D(2026, 11, 25), name="市の行事")

    with pytest.raises(SeasonPlanChanged) as caught:
        operating_days_generate(**pattern(world), expected_days=shown)

    assert caught.value.now_existing == [D(2026, 11, 21)]
    assert caught.value.now_closed == [D(2026, 11, 25)]
    assert caught.value.now_open == []
    message = caught.value.messages[0]
    assert "作成済みになった日: 2026-11-21" in message
    assert "休業日になった日: 2026-11-25" in message
    assert "何も作成していません" in message
    assert OperatingDay.objects.count() == 1  # only the one made by hand


def test_the_write_refuses_days_that_became_free_since_the_preview(world: World) -> None:
    day = world.day(D(2026, 11, 21))
    shown = season_plan(**pattern(world)).days
    day.delete()

    with pytest.raises(SeasonPlanChanged) as caught:
        operating_days_generate(**pattern(world), expected_days=shown)

    assert caught.value.now_open == [D(2026, 11, 21)]
    assert "新たに作成できるようになった日: 2026-11-21" in caught.value.messages[0]
    assert not OperatingDay.objects.exists()


def test_the_dry_run_prints_the_plan_the_admin_previews(world: World) -> None:
    flu = Vaccine.objects.get(code="influenza-ha")
    world.day(
        D(2026, 11, 21), vaccine=flu, campaign=Campaign.objects.get(code="influenza-routine-2026")
    )
    out = StringIO()
    call_command(
        "generate_slots",
        *("--site", str(world.site.pk), "--vaccine", "pfizer-12"),
        *("--campaign", "covid-routine-2026", "--from", "2026-11-21", "--to", "2026-11-28"),
        *("--weekdays", "mon,wed,sat", "--hours", "09:00-12:00,13:00-16:00"),
        *("--slot-minutes", "15", "--capacity", "6", "--phone-reserve", "2", "--dry-run"),
        stdout=out,
    )

    output = out.getvalue()
    for line in format_plan(season_plan(**pattern(world))):
        assert line in output
    assert "作成する予定: 稼働日: 3日、予約枠: 72件" in output
    assert "同じ日に他のワクチンの稼働日あり: 2026-11-21（インフルエンザHAワクチン）" in output
    assert "休業日のため作成せず: 2026-11-23（勤労感謝の日）" in output
    assert "作成しました" not in output
    assert OperatingDay.objects.count() == 1


# --- the admin: preview, then write ---------------------------------------------------------------


def test_the_admin_previews_per_site_and_writes_nothing(
    world: World, admin_client_: Client
) -> None:
    world.day(D(2026, 11, 25))

    response = admin_client_.post(CHANGELIST, form_data(world.site))

    assert response.status_code == 200
    assert PREVIEW_TEMPLATE in template_names(response)
    body = response.content.decode()
    assert "まだ何も保存していません" in body
    assert "09:00〜12:00、13:00〜16:00に24枠（1日の定員144人）" in body
    assert "作成する日（2日）" in body
    assert "休業日のため作成しない日（1日）" in body
    assert "勤労感謝の日" in body
    assert "作成済みのため変更しない日（1日）" in body
    assert "2026-11-25" in body
    assert 'name="apply"' in body
    assert "作成する（稼働日2日・予約枠48枠）" in body
    assert OperatingDay.objects.count() == 1


def test_the_confirmation_writes_what_was_previewed(world: World, admin_client_: Client) -> None:
    preview = admin_client_.post(CHANGELIST, form_data(world.site))

    # Fields posted beside the signed preview are ignored: what was shown is what is written.
    response = admin_client_.post(
        CHANGELIST, confirm(preview, world.site, capacity="60", date_to="2027-03-31"), follow=True
    )

    assert response.status_code == 200
    assert set(OperatingDay.objects.values_list("date", flat=True)) == CREATED
    assert set(Slot.objects.values_list("capacity", "phone_reserved")) == {(6, 2)}
    messages = [str(m) for m in response.context["messages"]]
    assert "日南市文化センター: 稼働日3日、予約枠72件を作成しました。" in messages


def test_changed_days_stop_the_write_and_show_the_new_preview(
    world: World, admin_client_: Client
) -> None:
    preview = admin_client_.post(CHANGELIST, form_data(world.site))
    world.day(D(2026, 11, 21))  # someone else sets up a day meanwhile

    response = admin_client_.post(CHANGELIST, confirm(preview, world.site))

    assert response.status_code == 200
    assert PREVIEW_TEMPLATE in template_names(response)
    body = response.content.decode()
    assert "確認したあとで稼働日または休業日が変わりました" in body
    assert "作成済みになった日: 2026-11-21" in body
    assert "作成する日（2日）" in body
    assert OperatingDay.objects.count() == 1

    # The page shown now is a preview like any other: confirming it writes its two days.
    admin_client_.post(CHANGELIST, confirm(response, world.site))

    assert set(OperatingDay.objects.values_list("date", flat=True)) == CREATED


def test_one_changed_site_stops_every_site(world: World, admin_client_: Client) -> None:
    other = Site.objects.create(municipality=world.municipality, name="日南市保健センター")
    preview = admin_client_.post(CHANGELIST, form_data(world.site, other))
    world.day(D(2026, 11, 28), site=other)

    response = admin_client_.post(CHANGELIST, confirm(preview, world.site, other))

    assert "会場「日南市保健センター」: 確認したあとで" in response.content.decode()
    assert OperatingDay.objects.count() == 1


def test_a_forged_preview_writes_nothing(world: World, admin_client_: Client) -> None:
    preview = admin_client_.post(CHANGELIST, form_data(world.site))
    data = confirm(preview, world.site)
    data["season_preview"] = data["season_preview"][:-2] + "xx"

    response = admin_client_.post(CHANGELIST, data)

    assert FORM_TEMPLATE in template_names(response)
    assert "確認画面の内容を読み取れませんでした" in response.content.decode()
    assert not OperatingDay.objects.exists()


def test_an_old_preview_is_shown_again_instead_of_written(
    world: World, admin_client_: Client
) -> None:
    with time_machine.travel(jst(2026, 11, 2, 9, 0), tick=False) as clock:
        preview = admin_client_.post(CHANGELIST, form_data(world.site))
        clock.shift(dt.timedelta(seconds=PREVIEW_MAX_AGE_SECONDS + 60))

        response = admin_client_.post(CHANGELIST, confirm(preview, world.site))

    assert PREVIEW_TEMPLATE in template_names(response)
    assert "確認してから時間が経ったため" in response.content.decode()
    assert not OperatingDay.objects.exists()


def test_a_different_selection_is_shown_again_instead_of_written(
    world: World, admin_client_: Client
) -> None:
    other = Site.objects.create(municipality=world.municipality, name="日南市保健センター")
    preview = admin_client_.post(CHANGELIST, form_data(world.site))

    response = admin_client_.post(CHANGELIST, confirm(preview, world.site, other))

    assert PREVIEW_TEMPLATE in template_names(response)
    body = response.content.decode()
    assert "選択した会場が確認したときと違います" in body
    assert "日南市保健センター" in body
    assert not OperatingDay.objects.exists()


def test_editing_returns_the_form_with_the_previewed_values(
    world: World, admin_client_: Client
) -> None:
    preview = admin_client_.post(CHANGELIST, form_data(world.site, capacity="8"))
    data = confirm(preview, world.site)
    del data["apply"]
    data["edit"] = "条件を修正する"

    response = admin_client_.post(CHANGELIST, data)

    assert FORM_TEMPLATE in template_names(response)
    form = response.context["form"]
    assert form.is_valid()
    assert form.cleaned_data["capacity"] == 8
    assert form.cleaned_data["date_from"] == D(2026, 11, 21)
    assert form.cleaned_data["weekdays"] == [0, 2, 5]
    assert form.cleaned_data["break_start"] == T(12, 0)
    assert not OperatingDay.objects.exists()


def test_a_preview_with_nothing_to_create_offers_no_create_button(
    world: World, admin_client_: Client
) -> None:
    response = admin_client_.post(
        CHANGELIST, form_data(world.site, date_from="2026-11-23", date_to="2026-11-23")
    )

    body = response.content.decode()
    assert "この会場には、この条件で作成する日がありません。" in body
    assert 'name="apply"' not in body
    assert 'name="edit"' in body


def test_a_bad_pattern_stays_on_the_form(world: World, admin_client_: Client) -> None:
    other_city = Municipality.objects.create(code="452076", name="串間市")
    kushima = Site.objects.create(municipality=other_city, name="串間市保健センター")
    own = Campaign.objects.create(
        code="nichinan-own",
        name="日南市の独自接種",
        program=world.campaign.program,
        municipality=world.municipality,
        starts_on=D(2026, 10, 1),
        ends_on=D(2027, 3, 31),
    )

    response = admin_client_.post(CHANGELIST, form_data(world.site, kushima, campaign=own.pk))

    assert FORM_TEMPLATE in template_names(response)
    assert "会場「串間市保健センター」にはこの条件で作成できません。" in (
        response.context["form"].non_field_errors()
    )
