"""Reads beyond the resident screen reach the supervisors' trail in words: a console search's
result list (one row per resident listed), a booking read through the API, an exported file;
and the trail filters by channel (経路) and role (役割)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client

from channels.phone.models import RecordAccess
from reservations import audit
from tests.world import World

pytestmark = pytest.mark.django_db


def test_a_list_of_results_is_a_read_of_each_resident_listed(
    phone_world: World, operator_client: Client
) -> None:
    first = phone_world.resident(name="日南 一郎")
    second = phone_world.resident(name="日南 二郎")
    page = operator_client.get("/phone/", {"q": "日南"})
    assert "日南 一郎" in page.content.decode() and "日南 二郎" in page.content.decode()
    rows = RecordAccess.objects.filter(channel="phone", action="viewed")
    assert sorted(rows.values_list("resident_id", flat=True)) == sorted(
        [first.resident_id, second.resident_id]
    )
    assert {row.detail["list"] for row in rows} == {"console_search"}
    nobody = operator_client.get("/phone/", {"q": "該当なし"})
    assert nobody.status_code == 200
    assert rows.count() == 2  # an empty list shows no one


def test_the_trail_filters_by_channel_and_role_in_words(
    phone_world: World, supervisor: User, client: Client
) -> None:
    ticket = phone_world.resident(name="日南 花子")
    now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    for channel in (audit.VENUE, audit.API):
        audit.personal_data_shown(
            user=phone_world.operator,
            channel=channel,
            reads=[audit.ReadOf(ticket.resident_id, phone_world.municipality.pk)],
            detail={"api": "reservation"} if channel == audit.API else {"list": "venue_day"},
            now=now,
        )
    client.force_login(supervisor)
    api_only = client.get("/phone/audit/", {"channel": "api"}).content.decode()
    assert "APIで予約を参照" in api_only and "会場の予約一覧" not in api_only
    by_role = client.get("/phone/audit/", {"role": "予約オペレーター"}).content.decode()
    assert "APIで予約を参照" in by_role and "会場の予約一覧" in by_role
    nobody = client.get("/phone/audit/", {"role": "会場スタッフ"}).content.decode()
    assert "日南 花子" not in nobody
    wrong = client.get("/phone/audit/", {"channel": "telepathy"})
    assert wrong.status_code == 200
    assert "telepathy は候補にありません" in wrong.content.decode()
