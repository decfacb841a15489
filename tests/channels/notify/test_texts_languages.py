"""Texts for residents who chose やさしい日本語 or English: the language's own words, the site's
English name in English, and still one SMS segment for a confirmation when the name allows."""

from __future__ import annotations

import pytest

from channels.notify.contact_sms import contact_sms_text
from channels.notify.models import OutboundMessage
from channels.notify.outbox import messages_create_for_events
from channels.notify.texts import BOOKING_PURPOSES, render, text_language
from channels.sms.text import segment_count, unsafe_chars
from reservations.models import Reservation, Site
from reservations.services.contact import SMS_VERIFICATION_CODE
from tests.channels.notify.conftest import last_event

Purpose = OutboundMessage.Purpose


def test_it_writes_the_confirmation_in_easy_japanese(booked: Reservation) -> None:
    text = render(purpose=Purpose.CONFIRMATION, reservation=booked, language="ja-easy")
    assert text.body == (
        f"【日南市ワクチン予約】よやくしました 番号{booked.code} 11/10(火)10:00 "
        "日南市文化センター でんわ0987-00-0000"
    )
    assert text.segments == 1
    assert unsafe_chars(text.body) == []


def test_it_writes_every_purpose_in_easy_japanese(booked: Reservation) -> None:
    for purpose in BOOKING_PURPOSES:
        easy = render(purpose=purpose, reservation=booked, language="ja-easy").body
        plain = render(purpose=purpose, reservation=booked, language="ja").body
        assert easy != plain, purpose
        assert booked.code in easy and "0987-00-0000" in easy and "10:00" in easy
        assert unsafe_chars(easy) == [], easy
    reminder = render(purpose=Purpose.REMINDER, reservation=booked, language="ja-easy").body
    assert "接種券（せっしゅけん）を もって きて ください" in reminder


def test_it_sends_an_easy_japanese_sms_to_a_resident_who_chose_it(
    booked: Reservation, daytime: object
) -> None:
    booked.resident.preferred_language = "ja-easy"
    booked.resident.save(update_fields=["preferred_language"])
    booked.resident.refresh_from_db()
    [message] = messages_create_for_events(event_ids=[last_event(booked, "booked").pk])
    assert message.channel == OutboundMessage.Channel.SMS
    assert message.language == "ja-easy"
    assert message.body.startswith("【日南市ワクチン予約】よやくしました")
    assert message.segments == segment_count(message.body) == 1


def test_it_names_the_site_in_english_for_english_readers(booked: Reservation) -> None:
    Site.objects.filter(pk=booked.slot.operating_day.site_id).update(
        name_en="Nichinan Culture Centre", short_name="文化センター"
    )
    booked.refresh_from_db()
    english = render(purpose=Purpose.CONFIRMATION, reservation=booked, language="en").body
    assert "Nichinan Culture Centre" in english
    assert "センター" not in english
    japanese = render(purpose=Purpose.CONFIRMATION, reservation=booked, language="ja").body
    easy = render(purpose=Purpose.CONFIRMATION, reservation=booked, language="ja-easy").body
    assert "日南市文化センター" in japanese and "日南市文化センター" in easy


def test_it_keeps_the_japanese_site_name_in_english_without_an_english_one(
    booked: Reservation,
) -> None:
    english = render(purpose=Purpose.CONFIRMATION, reservation=booked, language="en").body
    assert "日南市文化センター" in english


@pytest.mark.parametrize(
    ("chosen", "written"),
    [("ja", "ja"), ("en", "en"), ("ja-easy", "ja-easy"), ("", "ja"), ("fr", "ja")],
)
def test_it_writes_unknown_languages_in_japanese(chosen: str, written: str) -> None:
    assert text_language(chosen) == written


def test_it_writes_the_contact_code_sms_in_easy_japanese(booked: Reservation) -> None:
    resident = booked.resident
    resident.preferred_language = "ja-easy"
    body = contact_sms_text(resident=resident, purpose=SMS_VERIFICATION_CODE, code="123456")
    assert body.startswith("【日南市ワクチン予約】かくにん コード 123456（")
    assert unsafe_chars(body) == []
