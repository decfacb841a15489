"""Correcting (訂正) and cancelling (取消) a recorded dose from the venue: reason required, a
new version each time, the versions shown, confirmed records only for those who confirm."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from reservations import roles
from reservations.models import DayLot, OperatingDay, Vaccination
from reservations.services.vaccinations import vaccination_confirm, vaccination_record
from tests.vrs_export.cohort import venue_staff
from tests.world import World, jst

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]

TODAY = dt.date(2026, 11, 2)  # the season clock stands at 09:00 JST


@pytest.fixture
def desk_user(world: World) -> User:
    return venue_staff("desk")


@pytest.fixture
def desk(client: Client, desk_user: User) -> Client:
    client.force_login(desk_user)
    return client


@pytest.fixture
def day(world: World) -> OperatingDay:
    day = world.day(TODAY)
    DayLot.objects.create(operating_day=day, lot_number="FF3620", vials_opened=2)
    DayLot.objects.create(operating_day=day, lot_number="GG1111", vials_opened=1)
    return day


@pytest.fixture
def dose(world: World, day: OperatingDay) -> Vaccination:
    from reservations.models import Actor, Channel
    from reservations.services.booking import Requester

    return vaccination_record(
        resident=world.resident().resident,
        vaccine=world.vaccine,
        vaccinated_on=TODAY,
        vaccinated_at=jst(2026, 11, 2, 8, 40),
        requester=Requester(channel=Channel.COUNTER, actor=Actor.OPERATOR, user=venue_staff("a")),
        campaign=day.campaign,
        site=day.site,
        lot_number="FF3620",
        doctor_name="宮崎 一郎",
        copay_category="5",
    )


def _url(day: OperatingDay, dose: Vaccination, name: str = "venue:correct") -> str:
    return reverse(name, args=[day.pk, dose.record_id])


def _form(dose: Vaccination, **changes: str) -> dict[str, object]:
    return {
        "version": dose.version,
        "vaccinated_on": "2026-11-02",
        "vaccinated_at": "08:40",
        "lot_number": dose.lot_number,
        "doctor_name": dose.doctor_name,
        "copay_category": dose.copay_category,
        "reason": "",
        **changes,
    }


def test_the_days_records_link_to_the_correction_screen(
    desk: Client, day: OperatingDay, dose: Vaccination
) -> None:
    page = desk.get(reverse("venue:day", args=[day.pk])).content.decode()
    assert _url(day, dose) in page
    page = desk.get(_url(day, dose)).content.decode()
    assert 'value="2026-11-02"' in page and 'type="date"' in page
    assert 'value="08:40"' in page and 'type="time"' in page
    assert '<option value="FF3620"></option>' in page  # the day's lots, as suggestions


def test_a_correction_needs_a_reason_and_writes_a_new_version(
    desk: Client, day: OperatingDay, dose: Vaccination, desk_user: User
) -> None:
    url = _url(day, dose)
    page = desk.post(url, _form(dose, lot_number="GG1111")).content.decode()
    assert "訂正の理由を入力してください" in page
    assert Vaccination.objects.count() == 1

    response = desk.post(
        url,
        _form(dose, lot_number="ＧＧ１１１１", vaccinated_at="08:50", reason="ロットの取り違え"),
    )
    assert response.status_code == 302
    old, new = Vaccination.objects.filter(record_id=dose.record_id).order_by("version")
    assert old.status == Vaccination.Status.SUPERSEDED and old.lot_number == "FF3620"
    assert (new.version, new.status, new.lot_number) == (2, "active", "GG1111")
    assert timezone.localtime(new.vaccinated_at).strftime("%H:%M") == "08:50"
    assert (new.change_reason, new.recorded_by) == ("ロットの取り違え", desk_user)
    page = desk.get(url).content.decode()
    assert "訂正しました（第2版）" in page
    versions = page.split('id="versions"')[1].split("</table>")[0]
    assert "ロットの取り違え" in versions and "訂正済み（旧版）" in versions
    assert versions.index("FF3620") < versions.index("GG1111")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vaccinated_at": "09:30"}, "未来の時刻は入力できません"),
        ({"vaccinated_on": "2026-11-03"}, "未来の日付は登録できません"),
        ({"lot_number": "=1+1"}, "ロット番号は英数字で始まる"),
        ({}, "訂正する内容がありません"),
    ],
)
def test_a_wrong_correction_is_refused_with_the_reason(
    desk: Client, day: OperatingDay, dose: Vaccination, changes: dict[str, str], message: str
) -> None:
    page = desk.post(_url(day, dose), _form(dose, reason="確認", **changes)).content.decode()
    assert message in page
    assert Vaccination.objects.count() == 1


def test_a_stale_form_does_not_overwrite_a_newer_correction(
    desk: Client, day: OperatingDay, dose: Vaccination
) -> None:
    url = _url(day, dose)
    desk.post(url, _form(dose, doctor_name="別の 医師", reason="医師名の誤り"))
    page = desk.post(url, _form(dose, lot_number="GG1111", reason="ロット")).content.decode()
    assert "別の職員が先に訂正しました（最新は第2版）" in page
    assert Vaccination.objects.count() == 2


def test_a_dose_is_cancelled_with_a_reason(
    desk: Client, day: OperatingDay, dose: Vaccination
) -> None:
    url = _url(day, dose, "venue:cancel_record")
    page = desk.post(url, {"version": 1, "cancel_reason": " "}).content.decode()
    assert "取消の理由を入力してください" in page
    response = desk.post(url, {"version": 1, "cancel_reason": "別人として記録"})
    assert response.status_code == 302
    latest = Vaccination.objects.get(record_id=dose.record_id, version=2)
    assert latest.status == Vaccination.Status.CANCELLED
    page = desk.get(_url(day, dose)).content.decode()
    assert "この記録は取り消されています" in page and "訂正を記録する" not in page


def test_a_confirmed_record_is_for_staff_who_confirm(
    client: Client, world: World, day: OperatingDay, dose: Vaccination
) -> None:
    from reservations.models import Actor, Channel
    from reservations.services.booking import Requester

    exporter = venue_staff("office", roles.EXPORTERS, roles.VENUE_STAFF)
    vaccination_confirm(
        record_ids=[dose.record_id],
        requester=Requester(channel=Channel.COUNTER, actor=Actor.OPERATOR, user=exporter),
    )
    client.force_login(venue_staff("desk"))
    page = client.get(_url(day, dose)).content.decode()
    assert "自治体確認済みの記録です" in page and "訂正を記録する" not in page
    page = client.post(_url(day, dose), _form(dose, lot_number="GG1111", reason="誤り"))
    assert "自治体確認済みの記録です" in page.content.decode()
    assert Vaccination.objects.count() == 1

    client.force_login(exporter)
    assert "訂正を記録する" in client.get(_url(day, dose)).content.decode()
    response = client.post(_url(day, dose), _form(dose, lot_number="GG1111", reason="誤り"))
    assert response.status_code == 302
    assert Vaccination.objects.get(record_id=dose.record_id, version=2).confirmed is False


def test_only_staff_who_may_correct_see_the_screen(
    client: Client, world: World, day: OperatingDay, dose: Vaccination
) -> None:
    client.force_login(world.operator)
    assert client.get(_url(day, dose)).status_code == 403
    client.force_login(venue_staff("desk"))
    assert client.get(_url(day, dose)).status_code == 200
    unknown = reverse("venue:correct", args=[day.pk, "00000000-0000-0000-0000-000000000000"])
    assert client.get(unknown).status_code == 404
