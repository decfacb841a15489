"""The health-centre staff pages (/followup/): the day's cohort and its statuses, who may open
which page (403), another municipality's rows (404), the follow-up page, the photo file, the
staff layout's link, and the audit rows each page writes, for residents and for people known
only from a health centre's list."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client

from channels.followup.models import FollowUp, FollowUpCall, FollowUpPhoto
from channels.followup.services import followup_answer_record
from channels.phone.audit import audit_export_cells, audit_export_rows
from channels.phone.models import RecordAccess
from channels.phone.roles import ensure_phone_permissions
from reservations import roles
from reservations.models import Resident
from tests.channels.followup.staff_world import (
    DAY1,
    DAY2,
    NOW,
    PNG,
    at,
    doctor,
    follow,
    followed,
    health_staff,
    home,
    photo,
)
from tests.world import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def photo_root(settings: Any, tmp_path: Path) -> Path:
    settings.FOLLOWUP_PHOTO_ROOT = tmp_path / "photos"
    return tmp_path / "photos"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response: Any) -> str:
    return response.content.decode()


# --- The cohort ----------------------------------------------------------------------------------


def test_the_cohort_shows_each_status_most_urgent_first(world: World) -> None:
    city = world.municipality
    answered = follow(followed(city, "回答 済子"))
    followup_answer_record(answered, DAY1, home(), now=at(DAY1, 9))
    red = follow(followed(city, "赤井 警子"))
    followup_answer_record(red, DAY1, home(spo2="92"), now=at(DAY1, 9, 30))
    reminded = follow(followed(city, "催促 済男"))
    FollowUp.objects.filter(pk=reminded.pk).update(invited_for=DAY1, reminded_for=DAY1)
    invited = follow(followed(city, "案内 済男"))
    FollowUp.objects.filter(pk=invited.pk).update(invited_for=DAY1)
    follow(followed(city, "未回 答子"))
    late = follow(followed(city, "締切 過男"))
    FollowUp.objects.filter(pk=late.pk).update(cutoff_time=dt.time(9, 0))
    # Not on the list: a follow-up starting tomorrow, one ended yesterday, another city's.
    follow(followed(city, "明日 始男"), start=DAY2)
    ended = follow(followed(city, "終了 済男"), start=DAY1 - dt.timedelta(days=1))
    FollowUp.objects.filter(pk=ended.pk).update(
        status="ended", ended_at=at(DAY1 - dt.timedelta(days=1), 15), end_reason="staff"
    )
    neighbour = world.neighbour()
    follow(followed(neighbour.municipality, "隣町 別子"))

    client = signed_in(health_staff("hoken", city))
    page = text(client.get("/followup/"))

    names = re.findall(r'href="/followup/\d+/">([^<]+)</a>', page)
    assert names == ["赤井 警子", "締切 過男", "催促 済男", "案内 済男", "未回 答子", "回答 済子"]
    # Colour and words: the red answer's badge says 赤 too.
    assert "アラート（赤）" in page and "level-red" in page
    for label in ("未回答（締切後）", "催促済み", "案内済み", "回答済み"):
        assert label in page
    assert "隣町" not in page and "明日 始男" not in page and "終了 済男" not in page
    assert "対象 6 人" in page
    assert "tel:+819011112222" in page

    only_alerts = text(client.get("/followup/", {"day": "2026-11-02", "status": "alert"}))
    assert re.findall(r'href="/followup/\d+/">([^<]+)</a>', only_alerts) == ["赤井 警子"]

    # Another day: tomorrow's list holds the follow-up that starts then.
    tomorrow = text(client.get("/followup/", {"day": "2026-11-03"}))
    assert "明日 始男" in tomorrow


def test_a_bad_day_in_the_query_shows_today_and_says_why(world: World) -> None:
    follow(followed(world.municipality))
    client = signed_in(health_staff("hoken", world.municipality))
    response = client.get("/followup/", {"day": "2026-13-45", "status": "nonsense"})
    assert response.status_code == 200
    page = text(response)
    assert "油津 花子" in page
    assert "日付を正しく入力してください。" in page


# --- Who may open what ---------------------------------------------------------------------------


def _b_rows(world: World, photo_root: Path) -> dict[str, int]:
    neighbour = world.neighbour()
    b_followup = follow(followed(neighbour.municipality, "霧島 紫苑"))
    answer = followup_answer_record(b_followup, DAY1, home(spo2="90"), now=at(DAY1, 9)).answer
    call = FollowUpCall.objects.get(followup=b_followup)
    b_photo = photo(b_followup, photo_root)
    return {
        "followup": b_followup.pk,
        "answer": answer.pk,
        "call": call.pk,
        "photo": b_photo.pk,
    }


def test_another_municipalitys_rows_are_not_found(world: World, photo_root: Path) -> None:
    b = _b_rows(world, photo_root)
    staff = signed_in(health_staff("hoken", world.municipality))
    for path in (f"/followup/{b['followup']}/", f"/followup/{b['followup']}/end/"):
        assert staff.get(path).status_code == 404, path
    posts = {
        f"/followup/alerts/{b['answer']}/ack/": {},
        f"/followup/alerts/{b['answer']}/resolve/": {"note": "電話しました"},
        f"/followup/calls/{b['call']}/done/": {"outcome": "reached"},
        f"/followup/{b['followup']}/end/": {"confirm": "yes"},
    }
    for path, data in posts.items():
        assert staff.post(path, data).status_code == 404, path
    doc = signed_in(doctor("ishi", world.municipality))
    assert doc.get(f"/followup/photos/{b['photo']}/image/").status_code == 404
    assert (
        doc.post(f"/followup/photos/{b['photo']}/review/", {"decision": "confirm"}).status_code
        == 404
    )
    # Nothing of B changed, and B's person appears on none of A's lists.
    assert FollowUpCall.objects.get(pk=b["call"]).done_at is None
    assert FollowUpPhoto.objects.get(pk=b["photo"]).status == "pending"
    assert FollowUp.objects.get(pk=b["followup"]).status == "active"
    for path in ("/followup/", "/followup/alerts/", "/followup/calls/"):
        assert "紫苑" not in text(staff.get(path)), path
    assert "紫苑" not in text(doc.get("/followup/photos/"))


def test_staff_without_the_permission_are_refused(world: World, photo_root: Path) -> None:
    mine = follow(followed(world.municipality))
    answer = followup_answer_record(mine, DAY1, home(spo2="90"), now=at(DAY1, 9)).answer
    call = FollowUpCall.objects.get(followup=mine)
    own_photo = photo(mine, photo_root)
    operator = signed_in(world.operator)
    for path in (
        "/followup/",
        "/followup/alerts/",
        "/followup/calls/",
        "/followup/photos/",
        f"/followup/{mine.pk}/",
        "/followup/export.csv?date_from=2026-11-02&date_to=2026-11-02",
    ):
        assert operator.get(path).status_code == 403, path
    # Health-centre staff are no doctors: the photos' queue, image and verdict are refused.
    staff = signed_in(health_staff("hoken", world.municipality))
    assert staff.get("/followup/photos/").status_code == 403
    assert staff.get(f"/followup/photos/{own_photo.pk}/image/").status_code == 403
    response = staff.post(f"/followup/photos/{own_photo.pk}/review/", {"decision": "confirm"})
    assert response.status_code == 403
    assert FollowUpPhoto.objects.get(pk=own_photo.pk).status == "pending"
    # Doctors read; they do not handle alerts, phone people, or end follow-ups.
    doc = signed_in(doctor("ishi", world.municipality))
    assert doc.get("/followup/alerts/").status_code == 200
    assert doc.post(f"/followup/alerts/{answer.pk}/ack/").status_code == 403
    assert doc.get("/followup/calls/").status_code == 403
    assert doc.post(f"/followup/calls/{call.pk}/done/", {"outcome": "reached"}).status_code == 403
    assert doc.post(f"/followup/{mine.pk}/end/", {"confirm": "yes"}).status_code == 403
    # Not signed in: the staff sign-in page.
    assert Client().get("/followup/").status_code == 302


def test_the_staff_layout_links_to_follow_up_for_those_who_may_see_it(world: World) -> None:
    staff = signed_in(health_staff("hoken", world.municipality))
    page = text(staff.get("/followup/"))
    assert '<a href="/followup/" aria-current="page">健康観察</a>' in page
    ensure_phone_permissions()
    supervisor = User.objects.create_user("kantoku", password="x", is_staff=True)
    supervisor.groups.add(roles_group(roles.CALL_SUPERVISORS))
    page = text(signed_in(supervisor).get("/phone/audit/"))
    assert ">健康観察</a>" not in page


def roles_group(name: str) -> Any:
    from django.contrib.auth.models import Group

    return Group.objects.get(name=name)


# --- One follow-up -------------------------------------------------------------------------------


def test_the_follow_up_page_shows_days_chart_and_ends_on_confirmation(world: World) -> None:
    mine = follow(followed(world.municipality, proxy_phone="+819033334444"))
    followup_answer_record(mine, DAY1, home(temperature="37.2", spo2="96"), now=at(DAY1, 8))
    # A correction: the page counts it.
    followup_answer_record(
        mine, DAY1, home(temperature="37.4", spo2="92", symptoms=["cough"]), now=at(DAY1, 9)
    )
    staff = signed_in(health_staff("hoken", world.municipality))
    page = text(staff.get(f"/followup/{mine.pk}/"))
    assert "油津 花子さんの健康観察" in page
    assert "体温：37.4℃" in page and "SpO2（血中酸素飽和度）：92%" in page
    assert "症状：せき" in page
    assert "SpO2が93%以下です。" in page
    assert "1回" in page  # one correction
    assert "tel:+819033334444" in page
    assert '<svg class="vital-chart"' in page and 'data-threshold="93"' in page
    assert "<script" not in page

    confirm = staff.get(f"/followup/{mine.pk}/end/")
    assert confirm.status_code == 200 and "終了する" in text(confirm)
    # A POST without the confirmation ends nothing: it shows the question again.
    assert staff.post(f"/followup/{mine.pk}/end/").status_code == 200
    assert FollowUp.objects.get(pk=mine.pk).status == "active"
    done = staff.post(f"/followup/{mine.pk}/end/", {"confirm": "yes"}, follow=True)
    ended = FollowUp.objects.get(pk=mine.pk)
    assert (ended.status, ended.end_reason, ended.ended_at) == ("ended", "staff", NOW)
    assert ended.ended_by is not None and ended.ended_by.is_staff
    assert "健康観察を終了しました" in text(done)
    again = staff.post(f"/followup/{mine.pk}/end/", {"confirm": "yes"}, follow=True)
    assert "すでに終了しています" in text(again)


# --- The photo file ------------------------------------------------------------------------------


def test_the_photo_is_served_privately_and_gone_once_deleted(
    world: World, photo_root: Path
) -> None:
    own = photo(follow(followed(world.municipality)), photo_root)
    doc = signed_in(doctor("ishi", world.municipality))
    response = doc.get(f"/followup/photos/{own.pk}/image/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-store"
    FollowUpPhoto.objects.filter(pk=own.pk).update(deleted_at=NOW, stored_name="")
    assert doc.get(f"/followup/photos/{own.pk}/image/").status_code == 404


# --- The audit trail -----------------------------------------------------------------------------


def test_each_page_load_is_audited_for_residents_and_other_people(
    world: World, photo_root: Path
) -> None:
    ticket = world.resident(name="住民 太郎")
    resident = Resident.objects.get(pk=ticket.resident_id)
    as_resident = followed(world.municipality, resident.name, resident=resident)
    from_list = followed(world.municipality, "名簿 花子")  # a health centre's list: no Resident
    first = follow(as_resident)
    second = follow(from_list)
    followup_answer_record(second, DAY1, home(spo2="91"), now=at(DAY1, 9))
    photo(second, photo_root)
    staff = health_staff("hoken", world.municipality)
    client = signed_in(staff)

    client.get("/followup/")
    rows = list(RecordAccess.objects.order_by("id"))
    assert {(r.resident_id, r.subject) for r in rows} == {
        (resident.pk, f"followup.person:{as_resident.pk}"),
        (None, f"followup.person:{from_list.pk}"),
    }
    assert len(rows) == 2
    assert all(r.channel == "followup" and r.action == "viewed" for r in rows)
    assert all(r.user_id == staff.pk and r.municipality_id == world.municipality.pk for r in rows)
    assert rows[0].detail == {"page": "followup_cohort", "day": "2026-11-02"}

    # Each page names whom it showed, once per load.
    expected = {
        "/followup/alerts/": [from_list.pk],
        "/followup/calls/": [from_list.pk],
        f"/followup/{first.pk}/": [as_resident.pk],
    }
    for path, people in expected.items():
        before = RecordAccess.objects.count()
        client.get(path)
        added = RecordAccess.objects.order_by("id")[before:]
        assert [r.subject for r in added] == [f"followup.person:{pk}" for pk in people], path
    doc = signed_in(doctor("ishi", world.municipality))
    before = RecordAccess.objects.count()
    doc.get("/followup/photos/")
    assert [r.detail["page"] for r in RecordAccess.objects.order_by("id")[before:]] == [
        "followup_photos"
    ]

    # The supervisors' audit page and file name the person without a Resident row.
    ensure_phone_permissions()
    supervisor = User.objects.create_user("kantoku", password="x", is_staff=True)
    supervisor.groups.add(roles_group(roles.CALL_SUPERVISORS))
    audit_page = text(signed_in(supervisor).get("/phone/audit/"))
    assert f"健康観察の対象者（No. {from_list.pk}）" in audit_page
    assert "健康観察の当日の一覧 2026-11-02" in audit_page
    assert "住民 太郎" in audit_page
    cells = list(
        audit_export_cells(
            audit_export_rows(date_from=DAY1, date_to=DAY1, municipality=world.municipality)
        )
    )
    non_resident = [c for c in cells if c[6] == ""]
    assert non_resident and all(
        c[5].startswith(f"健康観察の対象者（No. {from_list.pk}）") for c in non_resident
    )
