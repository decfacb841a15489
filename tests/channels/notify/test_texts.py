"""Every template, in both languages, with short and long real-world site names."""

from __future__ import annotations

import datetime as dt

import pytest

from channels.notify.models import OutboundMessage
from channels.notify.texts import BOOKING_PURPOSES, render
from channels.sms.text import MAX_BODY_CHARS, segment_count, unsafe_chars
from reservations.models import Reservation, Site
from tests.world import World

Purpose = OutboundMessage.Purpose

# Real venue names of Japanese mass-vaccination sites, long ones included.
SITE_NAMES = [
    ("日南市文化センター", ""),
    ("宮崎県日南市総合運動公園多目的体育館（サンマリン宮崎隣接施設）", "総合運動公園"),
    ("自衛隊東京大規模接種センター（大手町合同庁舎3号館）", "大手町会場"),
    ("髙鍋町健康づくりセンター①会議室", ""),
    ("医療法人社団　㈱ひまわり会　ひまわり内科・小児科クリニック第二診療所分院", ""),
]


@pytest.fixture(params=SITE_NAMES, ids=[f"site{i}" for i in range(len(SITE_NAMES))])
def reservation(request: pytest.FixtureRequest, world: World, booked: Reservation) -> Reservation:
    name, short = request.param
    Site.objects.filter(pk=booked.slot.operating_day.site_id).update(name=name, short_name=short)
    booked.refresh_from_db()
    return Reservation.objects.select_related(
        "slot__operating_day__site", "resident__municipality"
    ).get(pk=booked.pk)


def test_every_template_names_what_matters(reservation: Reservation) -> None:
    for purpose in BOOKING_PURPOSES:
        for language in ("ja", "en"):
            text = render(purpose=purpose, reservation=reservation, language=language)
            assert reservation.code in text.body
            assert "0987-00-0000" in text.body
            assert "10:00" in text.body
            opening = "【日南市ワクチン予約】" if language == "ja" else "[日南市ワクチン予約]"
            assert text.body.startswith(opening)
            if purpose != Purpose.REMINDER:
                assert "11/10" in text.body
            assert unsafe_chars(text.body) == [], (purpose, language, text.body)
            assert len(text.body) <= MAX_BODY_CHARS
            assert text.segments == segment_count(text.body)


def test_confirmations_and_reminders_fit_one_segment_when_the_name_allows(
    reservation: Reservation,
) -> None:
    site = reservation.slot.operating_day.site
    shortest = min(filter(None, [site.name, site.short_name]), key=len)
    for purpose in (Purpose.CONFIRMATION, Purpose.REMINDER):
        text = render(purpose=purpose, reservation=reservation, language="ja")
        if len(shortest) <= 10:
            assert text.segments == 1, text.body
        else:
            assert text.segments <= 2, text.body
        if site.short_name and site.name not in text.body:
            assert site.short_name in text.body


def test_japanese_confirmation_reads_naturally(booked: Reservation) -> None:
    text = render(purpose=Purpose.CONFIRMATION, reservation=booked, language="ja")
    assert text.body == (
        f"【日南市ワクチン予約】予約確定 番号{booked.code} 11/10(火)10:00 "
        "日南市文化センター 問合せ0987-00-0000"
    )
    assert text.segments == 1


def test_english_for_residents_who_chose_it(settings: object, booked: Reservation) -> None:
    text = render(purpose=Purpose.REMINDER, reservation=booked, language="en")
    assert "Tomorrow" in text.body or "tomorrow" in text.body
    assert "ワクチン予約" in text.body  # the municipality's own label, as registered


def test_weekday_is_japan_time(booked: Reservation) -> None:
    # 2026-11-10 is a Tuesday in Japan.
    assert booked.slot.starts_at.astimezone(dt.timezone(dt.timedelta(hours=9))).weekday() == 1
    assert "(火)" in render(purpose=Purpose.CHANGE, reservation=booked, language="ja").body
