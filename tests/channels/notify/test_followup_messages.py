"""Health follow-up's messages through the booking notifications' outbox, under a frozen
clock: a whole follow-up (invitation, a green answer, a silent day with its reminder and the
call list, a red answer at the top of the list, the last day, the purge), the one-segment
texts with the personal link, quiet hours, routing to the family member's mobile or to the
call list, STOP replies, and running the scan twice."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from channels.followup.models import (
    FollowedPerson,
    FollowUp,
    FollowUpAnswer,
    FollowUpCall,
    Questionnaire,
)
from channels.followup.selectors import followup_by_token
from channels.followup.services import followup_answer_record, followup_start
from channels.notify.delivery import messages_deliver
from channels.notify.followups import followup_messages_due
from channels.notify.models import OutboundMessage
from channels.sms.inbound import is_stop
from channels.sms.signals import stop_received
from channels.sms.text import segment_count
from reservations.retention import purge_expired_data
from tests.channels.sms.conftest import tasks_in_process  # noqa: F401
from tests.world import World, jst

pytestmark = pytest.mark.django_db

Purpose = OutboundMessage.Purpose
DAY1 = dt.date(2026, 11, 2)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return jst(day.year, day.month, day.day, hour, minute)


def day(n: int) -> dt.date:
    return DAY1 + dt.timedelta(days=n - 1)


def home(temperature: str = "36.6", spo2: str = "97") -> dict[str, Any]:
    return {"temperature": temperature, "spo2": spo2, "pulse": "72", "symptoms": ["none"]}


def person(world: World, **fields: Any) -> FollowedPerson:
    values = {
        "municipality": world.municipality,
        "name": "山田 花子",
        "phone": "+819012345678",
        "birth_date": dt.date(1950, 5, 1),
    }
    return FollowedPerson.objects.create(**(values | fields))


def follow(world: World, days: int = 4, **fields: Any) -> FollowUp:
    return followup_start(
        person=person(world, **fields),
        questionnaire=Questionnaire.objects.get(code="home-care", is_active=True),
        start_date=DAY1,
        days=days,
        now=at(DAY1, 7),
    ).followup


def run(now: dt.datetime) -> list[OutboundMessage]:
    """One scan and the deliveries it hands over, as the beat's task does."""
    report = followup_messages_due(now=now)
    messages_deliver(message_ids=report.to_deliver, now=now)
    return list(OutboundMessage.objects.filter(pk__in=report.to_deliver).order_by("pk"))


def answer_by_link(body: str, when: dt.datetime, spo2: str = "97") -> None:
    """What the person does: open the link in the SMS and send the form (no JavaScript)."""
    path = re.sub(r"^https?://[^/]+", "", re.search(r"https?://\S+", body).group(0))  # type: ignore[union-attr]
    client = Client()
    with time_machine.travel(when, tick=False):
        assert client.get(path).status_code == 200
        form = {"q_temperature": "36.6", "q_spo2": spo2, "q_pulse": "72", "q_symptoms": ["none"]}
        assert client.post(path, form).status_code == 302


def link_token(body: str) -> str:
    found = re.search(r"/f/([A-Za-z0-9_-]+)/", body)
    assert found, body
    return found.group(1)


@pytest.fixture(autouse=True)
def _sms(locmem_sms: list[Any], world: World) -> list[Any]:
    world.municipality.sms_sender_label = "日南市"
    world.municipality.save()
    return locmem_sms


def sent_to(outbox: list[Any], number: str) -> list[str]:
    return [sms.body for sms in outbox if sms.to_e164 == number]


def test_a_whole_follow_up(world: World, locmem_sms: list[Any], settings: Any) -> None:
    followup = follow(world)

    # Day 1: nothing before the send time; the invitation at 08:00, once, in one segment,
    # with a link to this follow-up and no more than the first name.
    assert run(at(day(1), 7, 55)) == []
    [invitation] = run(at(day(1), 8, 0))
    assert run(at(day(1), 8, 5)) == []
    [body] = sent_to(locmem_sms, "+819012345678")
    # The longest form that fits one segment; never the family name.
    assert body.startswith("【日南市】") and "山田" not in body
    assert segment_count(body) == 1
    assert followup_by_token(link_token(body)) == followup
    assert invitation.purpose == Purpose.FOLLOWUP_INVITATION
    assert invitation.status == OutboundMessage.Status.SENT
    followup.refresh_from_db()
    assert followup.invited_for == day(1)

    # A green answer, through the page at the SMS's link: no reminder at noon, nobody to call
    # at the cut-off.
    answer_by_link(body, at(day(1), 9))
    assert FollowUpAnswer.objects.get(for_date=day(1)).alert_level == "none"
    assert run(at(day(1), 12, 5)) == []
    assert run(at(day(1), 17, 5)) == []
    assert not FollowUpCall.objects.exists()

    # Day 2, silent: invited, reminded once at noon with the same link, then on the call list.
    run(at(day(2), 8, 0))
    [reminder] = run(at(day(2), 12, 0))
    assert reminder.purpose == Purpose.FOLLOWUP_REMINDER
    assert run(at(day(2), 12, 5)) == []
    bodies = sent_to(locmem_sms, "+819012345678")
    assert len(bodies) == 3 and link_token(bodies[2]) == link_token(body)
    assert run(at(day(2), 16, 55)) == [] and not FollowUpCall.objects.exists()
    run(at(day(2), 17, 0))
    run(at(day(2), 17, 5))
    [silent] = FollowUpCall.objects.all()
    assert (silent.for_date, silent.reason) == (day(2), FollowUpCall.Reason.SILENT)

    # Day 3: a red answer goes to the call list at once, above the silent day.
    run(at(day(3), 8, 0))
    answer_by_link(body, at(day(3), 9), spo2="92")
    assert [call.reason for call in FollowUpCall.objects.filter(done_at=None)] == [
        FollowUpCall.Reason.RED_ALERT,
        FollowUpCall.Reason.SILENT,
    ]
    assert run(at(day(3), 12, 5)) == []  # answered: no reminder

    # Day 4 is the last; on day 5 the follow-up ends and nothing more is sent.
    run(at(day(4), 8, 0))
    assert len(sent_to(locmem_sms, "+819012345678")) == 5
    assert run(at(day(5), 8, 0)) == []
    followup.refresh_from_db()
    assert (followup.status, followup.end_reason) == ("ended", "last_day")
    assert len(sent_to(locmem_sms, "+819012345678")) == 5

    # The retention purge removes it all once RETENTION_FOLLOWUP_DAYS have passed.
    purged_at = at(day(5), 8) + dt.timedelta(days=settings.RETENTION_FOLLOWUP_DAYS)
    assert purge_expired_data(now=purged_at)["followup.ended_followups"] == 0
    later = purged_at + dt.timedelta(minutes=1)
    assert purge_expired_data(now=later, dry_run=True)["followup.ended_followups"] == 1
    assert purge_expired_data(now=later)["followup.ended_followups"] == 1
    assert not FollowUp.objects.exists()
    assert not FollowedPerson.objects.exists()
    assert not FollowUpAnswer.objects.exists() and not FollowUpCall.objects.exists()
    assert not OutboundMessage.objects.filter(followup__isnull=False).exists()


def test_a_reminder_already_answered_is_not_sent(world: World, locmem_sms: list[Any]) -> None:
    followup = follow(world)
    run(at(day(1), 8))
    report = followup_messages_due(now=at(day(1), 12))
    assert len(report.to_deliver) == 1
    # Answered between the scan and the worker: the reminder is called off.
    followup_answer_record(followup, day(1), home(), now=at(day(1), 12))
    messages_deliver(message_ids=report.to_deliver, now=at(day(1), 12))
    reminder = OutboundMessage.objects.get(purpose=Purpose.FOLLOWUP_REMINDER)
    assert (reminder.status, reminder.last_error) == ("cancelled", "followup_answered")
    assert len(locmem_sms) == 1


def test_a_follow_up_started_late_in_the_day(world: World, locmem_sms: list[Any]) -> None:
    """Started at 14:00: invited at once and never reminded that day (the invitation came
    after the reminder time), but silent at the cut-off still goes to the call list. Started
    at 18:00: invited, and nobody is called about a day whose cut-off had passed."""
    follow(world)
    assert len(run(at(day(1), 14))) == 1
    assert run(at(day(1), 14, 5)) == []
    assert run(at(day(1), 17, 30)) == []
    assert [call.reason for call in FollowUpCall.objects.all()] == ["silent"]
    evening = follow(world, name="山田 次郎", phone="+819087654321")
    assert len(run(at(day(1), 18))) == 1
    assert run(at(day(1), 18, 5)) == []
    assert not FollowUpCall.objects.filter(followup=evening).exists()


def test_quiet_hours_hold_the_invitation_until_morning(
    world: World, locmem_sms: list[Any], settings: Any
) -> None:
    settings.FOLLOWUP_SEND_TIME = dt.time(6, 0)
    follow(world)
    report = followup_messages_due(now=at(day(1), 6, 30))
    messages_deliver(message_ids=report.to_deliver, now=at(day(1), 6, 30))
    message = OutboundMessage.objects.get()
    assert message.status == "queued" and message.not_before == at(day(1), 8)
    assert locmem_sms == []
    messages_deliver(message_ids=[message.pk], now=at(day(1), 8, 1))
    assert len(locmem_sms) == 1


def test_routing_to_the_family_or_to_the_call_list(world: World, locmem_sms: list[Any]) -> None:
    # A landline with a daughter's mobile: the daughter gets the link.
    follow(world, phone="+81987123456", proxy_phone="+818011112222")
    # A landline only: staff phone them.
    alone = follow(world, name="山田 一郎", phone="+81987654321")
    run(at(day(1), 8))
    assert len(sent_to(locmem_sms, "+818011112222")) == 1
    assert sent_to(locmem_sms, "+81987123456") == []
    [call] = FollowUpCall.objects.all()
    assert (call.followup, call.reason) == (alone, FollowUpCall.Reason.NOT_REACHED)
    alone.refresh_from_db()
    assert alone.invited_for == day(1)
    assert run(at(day(1), 8, 5)) == []


def test_english_and_easy_japanese_texts(world: World, locmem_sms: list[Any]) -> None:
    follow(world, language="en", phone="+819011110000")
    follow(world, language="ja-easy", phone="+819022220000")
    run(at(day(1), 8))
    [english] = sent_to(locmem_sms, "+819011110000")
    [easy] = sent_to(locmem_sms, "+819022220000")
    assert "health check" in english.lower() and "/f/" in english
    assert "/f/" in easy and easy != english


def test_a_stop_reply_ends_the_follow_up(world: World, locmem_sms: list[Any]) -> None:
    followup = follow(world)
    run(at(day(1), 8))
    assert is_stop("停止")
    stop_received.send(sender=None, phone="+819012345678", now=at(day(1), 9))
    followup.refresh_from_db()
    assert (followup.status, followup.end_reason) == ("ended", "stop_reply")
    assert followup.person.sms_stopped_at == at(day(1), 9)
    assert run(at(day(2), 8)) == []
    assert len(locmem_sms) == 1


def test_the_command_sends_what_is_due(
    world: World,
    locmem_sms: list[Any],
    capsys: Any,
    django_capture_on_commit_callbacks: Any,
    tasks_in_process: None,  # noqa: F811 - the fixture imported above
) -> None:
    follow(world)
    with (
        time_machine.travel(at(day(1), 8, 30), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        call_command("followup_due")
        call_command("followup_due")
    out = capsys.readouterr().out
    assert "案内 1件" in out and "案内 0件" in out
    assert len(locmem_sms) == 1


def test_a_resident_linked_on_line_gets_the_link_by_line(
    world: World, locmem_sms: list[Any], settings: Any
) -> None:
    from channels.line.models import LineAccount, LineLink
    from channels.line.standin import standin_start

    state, server = standin_start(access_token="test-access-token")
    settings.LINE_CHANNEL_SECRET = "test-channel-secret"
    settings.LINE_CHANNEL_ACCESS_TOKEN = "test-access-token"
    settings.LINE_API_BASE_URL = state.url
    try:
        ticket = world.resident()
        account = LineAccount.objects.create(line_user_id="U" + "0" * 32)
        LineLink.objects.create(
            account=account, resident=ticket.resident, ticket=ticket, linked_at=at(day(1), 7)
        )
        followup = follow(world, resident=ticket.resident)
        [message] = run(at(day(1), 8))
        assert (message.channel, message.status) == ("line", "sent")
        [push] = state.accepted("push")
        [text] = push.body["messages"]
        assert text["type"] == "text" and followup_by_token(link_token(text["text"])) == followup
        assert locmem_sms == []

        # Unfollowed since: the reminder goes by SMS instead.
        LineLink.objects.update(is_active=False)
        run(at(day(1), 12))
        [sms] = locmem_sms
        assert "/f/" in sms.body
    finally:
        server.shutdown()
        server.server_close()


def test_the_scan_hands_over_chunk_by_chunk(
    world: World, locmem_sms: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from channels.notify import followups

    monkeypatch.setattr(followups, "CHUNK", 2)
    for n in range(5):
        follow(world, name=f"山田 花子{n}", phone=f"+81901234{n:04d}")
    handed: list[list[int]] = []
    report = followup_messages_due(now=at(day(1), 8), hand_over=handed.append)
    assert [len(ids) for ids in handed] == [2, 2, 1]
    assert sorted(sum(handed, [])) == sorted(report.to_deliver) and report.invited == 5
    assert followup_messages_due(now=at(day(1), 8, 5), hand_over=handed.append).to_deliver == []
    assert len(handed) == 3


def test_the_beat_task_spreads_the_chunks_over_the_workers(
    world: World,
    locmem_sms: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    tasks_in_process: None,  # noqa: F811 - the fixture imported above
    django_capture_on_commit_callbacks: Any,
) -> None:
    from channels.notify import followups
    from channels.notify.tasks import followup_due_task

    monkeypatch.setattr(followups, "CHUNK", 2)
    for n in range(3):
        follow(world, name=f"山田 花子{n}", phone=f"+81901234{n:04d}")
    with (
        time_machine.travel(at(day(1), 8, 30), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        followup_due_task.delay()
        followup_due_task.delay()
    assert sorted(sms.to_e164 for sms in locmem_sms) == [f"+81901234{n:04d}" for n in range(3)]
    assert FollowUp.objects.filter(invited_for=day(1)).count() == 3
