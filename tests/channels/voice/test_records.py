"""Call records where staff look: the resident's screen in the call centre (audited with the
screen), the dashboard's calls and minutes per day and municipality (only the user's), the
read-only admin (scoped, audited), the audit trail's 自動音声電話 channel, the roles that may
use the call simulator, and the simulator itself; and the demo city that calls a landline."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from channels.notify.tasks import reminder_scan_task
from channels.phone.models import RecordAccess
from channels.phone.roles import ensure_phone_permissions
from channels.voice.backends import CallStatus
from channels.voice.flows import Ask, Prompt, Reply, flow_register
from channels.voice.models import VoiceCall, VoiceKeyPress
from channels.voice.roles import ensure_voice_permissions
from channels.voice.services import CallRequest, call_place, call_status_record, key_press_record
from reservations import roles
from reservations.identifiers import is_mobile_phone
from reservations.models import Municipality, Reservation, Resident, StaffAssignment, Ticket
from tests.channels.line.conftest import eager_tasks  # noqa: F401 (a fixture)
from tests.world import World, jst

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]

FLOW = "records_echo"


class EchoFlow:
    """A flow for these tests: one question; 1 confirms, anything else is invalid."""

    def opening(self, call: VoiceCall) -> Prompt:
        return Prompt(texts=["こちらは日南市です。", "確認は1を押してください。"], ask=Ask("menu"))

    def machine(self, call: VoiceCall) -> Prompt:
        return Prompt(texts=["留守番電話へのお知らせです。"], repeat=False)

    def answer(self, call: VoiceCall, step: str, digits: str) -> Reply:
        confirmed = digits == "1"
        return Reply(
            action=VoiceKeyPress.Action.CONFIRMED if confirmed else VoiceKeyPress.Action.INVALID,
            prompt=Prompt(texts=["ありがとうございました。"], repeat=False),
            detail="予約番号 698-428-787" if confirmed else "",
        )


@pytest.fixture(autouse=True)
def console_voice(settings: Any) -> None:
    settings.VOICE_BACKEND = "console"
    settings.VOICE_SIMULATOR = True
    settings.VOICE_MAX_CONCURRENT_CALLS = 10
    settings.VOICE_CALLBACK_BASE_URL = "https://madoguchi.example.jp"
    flow_register(FLOW, EchoFlow())


@pytest.fixture
def voice_world(world: World) -> World:
    # world re-creates the core groups (which resets their permissions): add the apps' own.
    ensure_phone_permissions()
    ensure_voice_permissions()
    world.municipality.voice_calls_enabled = True
    world.municipality.save(update_fields=["voice_calls_enabled"])
    return world


@pytest.fixture
def other_city(voice_world: World) -> World:
    city = voice_world.neighbour()
    city.municipality.voice_calls_enabled = True
    city.municipality.save(update_fields=["voice_calls_enabled"])
    return city


def staff(username: str, group: str, *cities: World) -> User:
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    for city in cities:
        StaffAssignment.objects.create(user=user, municipality=city.municipality)
    return User.objects.get(pk=user.pk)


def landline_resident(city: World, name: str = "黒木 花子") -> Resident:
    resident = city.resident(name=name).resident
    resident.phone = "+81987230002"
    resident.save(update_fields=["phone"])
    return resident


def finished_call(
    resident: Resident,
    *,
    reference: str,
    placed_at: dt.datetime,
    status: str = "completed",
    seconds: int = 0,
    flow: str = "reminder",
) -> VoiceCall:
    """A call as the voice channel records it: placed, then ended by the provider's status."""
    call = call_place(
        request=CallRequest(
            reference=reference,
            flow=flow,
            to_e164=resident.phone,
            municipality_id=resident.municipality_id,
            resident_id=resident.pk,
        ),
        now=placed_at,
    )
    call_status_record(call=call, status=CallStatus(status, seconds), now=placed_at)
    call.refresh_from_db()
    return call


def days_ago(days: int, hour: int = 10) -> dt.datetime:
    day = timezone.localdate() - dt.timedelta(days=days)
    return jst(day.year, day.month, day.day, hour)


# --- The resident's screen ------------------------------------------------------------------


def test_the_resident_screen_lists_the_calls_with_keys_and_audits_them(
    voice_world: World, client: Client
) -> None:
    resident = landline_resident(voice_world)
    busy = finished_call(resident, reference="r-1", placed_at=days_ago(2), status="busy")
    answered = finished_call(resident, reference="r-1", placed_at=days_ago(2, hour=11), seconds=42)
    key_press_record(
        call=answered,
        step="menu",
        digits="1",
        reply=Reply(
            action=VoiceKeyPress.Action.CONFIRMED,
            prompt=Prompt(texts=[]),
            detail="予約番号 698-428-787",
        ),
    )
    other = landline_resident(voice_world, name="別の 人")
    finished_call(other, reference="o-1", placed_at=days_ago(1), seconds=30, flow="notice")

    client.force_login(voice_world.operator)
    page = client.get(f"/phone/r/{resident.pk}/").content.decode()

    section = page[page.index('id="voice-calls-h"') :]
    assert "自動音声電話" in page
    assert "前日のお知らせ" in section and "予約のお知らせ" not in section
    assert "話し中" in section and "応答あり" in section
    assert "42秒" in section
    assert "1 → 予約を確認（予約番号 698-428-787）" in section
    newest, oldest = (f"{timezone.localtime(c.placed_at):%Y-%m-%d %H:%M}" for c in (answered, busy))
    assert section.index(newest) < section.index(oldest)
    # The screen's one audit row names the calls it showed.
    row = RecordAccess.objects.get(resident=resident, action="viewed")
    assert row.channel == "phone"
    assert row.detail["panels"] == {"voice.calls": 2}


def test_a_city_without_calls_shows_no_section(voice_world: World, client: Client) -> None:
    voice_world.municipality.voice_calls_enabled = False
    voice_world.municipality.save(update_fields=["voice_calls_enabled"])
    resident = voice_world.resident().resident
    client.force_login(voice_world.operator)
    page = client.get(f"/phone/r/{resident.pk}/").content.decode()
    assert 'id="voice-calls-h"' not in page
    assert RecordAccess.objects.get(resident=resident).detail == {}


def test_the_audit_trail_says_what_the_screen_and_the_simulator_showed(
    voice_world: World, client: Client
) -> None:
    resident = landline_resident(voice_world)
    finished_call(resident, reference="r-1", placed_at=days_ago(1), seconds=10)
    ringing = call_place(
        request=CallRequest(
            reference="r-2",
            flow=FLOW,
            to_e164=resident.phone,
            municipality_id=resident.municipality_id,
            resident_id=resident.pk,
        )
    )
    supervisor = staff("supervisor", roles.CALL_SUPERVISORS, voice_world)
    client.force_login(supervisor)
    client.get(f"/phone/r/{resident.pk}/")
    assert client.post(f"/voice/simulator/{ringing.pk}/", {"move": "answer"}).status_code == 200

    assert RecordAccess.objects.filter(channel="voice", resident=resident).count() == 1
    trail = client.get("/phone/audit/").content.decode()
    # The ended call and the one ringing: both were on the screen.
    assert "住民の画面（氏名・接種券・予約・連絡先、自動音声電話 2件）" in trail
    assert f"自動音声電話のシミュレーター（通話 No. {ringing.pk}）" in trail
    voice_only = client.get("/phone/audit/", {"channel": "voice"}).content.decode()
    assert "自動音声電話のシミュレーター" in voice_only and "住民の画面" not in voice_only
    assert '<option value="voice"' in voice_only


# --- The dashboard ----------------------------------------------------------------------------


def cost_rows(page: str) -> list[str]:
    """The cost section's rows as text, cell by cell."""
    section = page[page.index('id="voice-costs-h"') :]
    rows = re.findall(r"<tr>(.*?)</tr>", section, flags=re.S)
    return [" ".join(re.findall(r">([^<>]+)<", row)) for row in rows]


def test_the_dashboard_counts_calls_and_minutes_per_day_and_city_in_scope(
    voice_world: World, other_city: World
) -> None:
    home = landline_resident(voice_world)
    finished_call(home, reference="a", placed_at=days_ago(2), seconds=42)
    finished_call(home, reference="a", placed_at=days_ago(2, hour=11), status="busy")
    finished_call(home, reference="b", placed_at=days_ago(1), seconds=95)
    away = landline_resident(other_city)
    finished_call(away, reference="c", placed_at=days_ago(2), seconds=600)

    ours = staff("ours", roles.CALL_SUPERVISORS, voice_world)
    client = Client()
    client.force_login(ours)
    page = client.get("/phone/dashboard/").content.decode()
    two, one = (f"{timezone.localdate() - dt.timedelta(days=n):%Y-%m-%d}" for n in (2, 1))
    # 42 s + 0 s (busy) = 0.7 minutes (rounded up to a tenth), 95 s = 1.6 minutes.
    assert cost_rows(page) == [
        "自治体 件数 通話時間（分）",
        "日南市 3 2.3",
        "日付 自治体 件数 通話時間（分）",
        f"{two} 日南市 2 0.7",
        f"{one} 日南市 1 1.6",
    ]
    assert "都城市" not in page

    both = staff("both", roles.CALL_SUPERVISORS, voice_world, other_city)
    client.force_login(both)
    page = client.get("/phone/dashboard/").content.decode()
    assert cost_rows(page) == [
        "自治体 件数 通話時間（分）",
        "都城市 1 10.0",
        "日南市 3 2.3",
        "日付 自治体 件数 通話時間（分）",
        f"{two} 日南市 2 0.7",
        f"{two} 都城市 1 10.0",
        f"{one} 日南市 1 1.6",
    ]


def test_the_dashboard_leaves_the_section_out_where_voice_was_never_used(
    voice_world: World,
) -> None:
    voice_world.municipality.voice_calls_enabled = False
    voice_world.municipality.save(update_fields=["voice_calls_enabled"])
    client = Client()
    client.force_login(staff("ours", roles.CALL_SUPERVISORS, voice_world))
    assert "voice-costs-h" not in client.get("/phone/dashboard/").content.decode()


# --- The admin --------------------------------------------------------------------------------


def test_the_admin_lists_only_the_citys_calls_read_only_and_audited(
    voice_world: World, other_city: World
) -> None:
    home = landline_resident(voice_world)
    ours = finished_call(home, reference="a", placed_at=days_ago(1), seconds=42)
    key_press_record(
        call=ours,
        step="menu",
        digits="2",
        reply=Reply(action=VoiceKeyPress.Action.CANCEL_ASKED, prompt=Prompt(texts=[])),
    )
    away = landline_resident(other_city, name="都城 太郎")
    theirs = finished_call(away, reference="b", placed_at=days_ago(1), seconds=60)
    admin_user = staff("cityadmin", roles.ADMINISTRATORS, voice_world)
    client = Client()
    client.force_login(admin_user)

    listing = client.get("/admin/voice/voicecall/")
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "+81987230002" in text and "前日のお知らせ" in text
    assert text.count(f"/admin/voice/voicecall/{ours.pk}/change/") == 1
    assert f"/admin/voice/voicecall/{theirs.pk}/change/" not in text
    assert "都城市" not in text  # not even in the municipality filter
    page = client.get(f"/admin/voice/voicecall/{ours.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "キャンセルの確認を案内" in body
    assert 'name="_save"' not in body  # read only
    assert client.get(f"/admin/voice/voicecall/{theirs.pk}/change/").status_code == 404
    assert client.get("/admin/voice/voicecall/add/").status_code == 403
    reads = RecordAccess.objects.filter(channel="admin", resident=home)
    assert {row.detail["page"] for row in reads} == {
        "admin_voicecall_changelist",
        "admin_voicecall_change",
    }
    assert not RecordAccess.objects.filter(resident=away).exists()

    # The municipality's own switch is on its admin page.
    city = client.get(f"/admin/reservations/municipality/{voice_world.municipality.pk}/change/")
    assert 'name="voice_calls_enabled"' in city.content.decode()


# --- Roles and the simulator ------------------------------------------------------------------


def test_administrators_and_supervisors_may_use_the_simulator(voice_world: World) -> None:
    allowed = set(
        Group.objects.filter(permissions__codename="use_voice_simulator").values_list(
            "name", flat=True
        )
    )
    assert allowed == {roles.ADMINISTRATORS, roles.CALL_SUPERVISORS}
    operator = User.objects.get(pk=voice_world.operator.pk)
    assert not operator.has_perm("voice.use_voice_simulator")


def test_a_supervisor_answers_a_ringing_call_and_presses_a_key(
    voice_world: World, other_city: World, client: Client
) -> None:
    resident = landline_resident(voice_world)
    call = call_place(
        request=CallRequest(
            reference="sim-1",
            flow=FLOW,
            to_e164=resident.phone,
            municipality_id=resident.municipality_id,
            resident_id=resident.pk,
        )
    )
    away = landline_resident(other_city, name="都城 太郎")
    theirs = call_place(
        request=CallRequest(
            reference="sim-2",
            flow=FLOW,
            to_e164=away.phone,
            municipality_id=away.municipality_id,
            resident_id=away.pk,
        )
    )
    supervisor = staff("supervisor", roles.CALL_SUPERVISORS, voice_world)
    client.force_login(supervisor)

    listing = client.get("/voice/simulator/").content.decode()
    assert f"/voice/simulator/{call.pk}/" in listing
    assert f"/voice/simulator/{theirs.pk}/" not in listing
    answered = client.post(f"/voice/simulator/{call.pk}/", {"move": "answer"})
    assert answered.status_code == 200
    assert "確認は1を押してください。" in answered.content.decode()
    pressed = client.post(
        f"/voice/simulator/{call.pk}/", {"move": "keys", "step": "menu", "digits": "1"}
    )
    assert "ありがとうございました。" in pressed.content.decode()
    call.refresh_from_db()
    assert call.result == VoiceCall.Result.ANSWERED and call.line is None
    assert [(k.digits, k.action) for k in call.keys.all()] == [("1", "confirmed")]
    # Another city's call does not exist for them.
    assert client.post(f"/voice/simulator/{theirs.pk}/", {"move": "answer"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.result == VoiceCall.Result.RINGING

    client.force_login(voice_world.operator)  # no simulator permission
    assert client.get("/voice/simulator/").status_code == 403
    assert client.post(f"/voice/simulator/{theirs.pk}/", {"move": "busy"}).status_code == 403


# --- The demo -------------------------------------------------------------------------------


@pytest.mark.usefixtures("national_rules")
def test_the_demo_city_calls_and_has_a_landline_resident_booked(settings: Any) -> None:
    settings.DEBUG = True
    with time_machine.travel(jst(2026, 12, 1, 8, 0), tick=False):
        for _run in range(2):
            call_command(
                "seed_demo", "--today", "2026-12-01", "--residents", "10", stdout=StringIO()
            )
    city = Municipality.objects.get(code="452041")
    assert city.voice_calls_enabled
    ticket = Ticket.objects.select_related("resident").get(number="0000000002")
    assert ticket.resident.phone == "+81987230002" and not is_mobile_phone(ticket.resident.phone)
    booked = Reservation.objects.get(resident=ticket.resident)  # once, however many runs
    assert booked.status == Reservation.Status.CONFIRMED
    assert booked.slot.operating_day.date == dt.date(2026, 12, 2)
    assert timezone.localtime(booked.slot.starts_at).time() == dt.time(14, 0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("national_rules", "eager_tasks")
def test_the_demo_reminder_scan_rings_the_landline_in_the_simulator(settings: Any) -> None:
    """bin/start's demo: the day before her booking, once the reminder time has come, the
    scan's reminder reaches her landline as a call ringing in the simulator."""
    settings.DEBUG = True
    settings.NOTIFY_REMINDER_TIME = dt.time(10, 0)
    # As bin/start runs it: no relay process, the writer hands its events over, in-process.
    settings.NOTIFY_HANDOFF = "on_commit"
    with time_machine.travel(jst(2026, 12, 1, 8, 0), tick=False):
        call_command("seed_demo", "--today", "2026-12-01", "--residents", "10", stdout=StringIO())
    with time_machine.travel(jst(2026, 12, 1, 10, 5), tick=True):
        reminder_scan_task()
    ringing = VoiceCall.objects.get(flow="reminder")
    assert (ringing.to, ringing.result) == ("+81987230002", VoiceCall.Result.RINGING)
