"""Personal data past its retention period is purged: LINE webhook payloads, idle LINE chat
state, call-centre memos; by the service (with `now=`), the command and the daily beat task."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from channels.line.models import LineAccount, LineWebhookEvent, SimulatorDelivery
from channels.phone.models import Call
from reservations.models import PhoneVerification
from reservations.retention import purge_expired_data, purges_registered
from reservations.services.contact import contact_phone_change_start
from reservations.tasks import purge_expired_data_task
from tests.world import World

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


def webhook_event(received_at: dt.datetime, *, processed: bool = True) -> LineWebhookEvent:
    number = LineWebhookEvent.objects.count() + 1
    row = LineWebhookEvent.objects.create(
        webhook_event_id=f"01RETENTION{number:015d}",
        line_user_id="Uretention",
        event_type="message",
        sent_at_ms=int(received_at.timestamp() * 1000),
        payload='{"message": {"text": "1234567890 昭和25年4月1日"}}',
        processed_at=received_at if processed else None,
    )
    # received_at is auto_now_add: set the past moment afterwards.
    LineWebhookEvent.objects.filter(pk=row.pk).update(received_at=received_at)
    return row


def chat_state(line_user_id: str, changed_at: dt.datetime, **data: Any) -> LineAccount:
    return LineAccount.objects.create(
        line_user_id=line_user_id, step="link_birth", data=data, step_changed_at=changed_at
    )


def call(world: World, started_at: dt.datetime, notes: str) -> Call:
    return Call.objects.create(
        operator=world.operator,
        municipality=world.municipality,
        started_at=started_at,
        ended_at=started_at + dt.timedelta(minutes=5),
        handling_seconds=300,
        outcome=Call.Outcome.ANSWERED,
        notes=notes,
    )


def test_every_app_registers_its_purges() -> None:
    assert purges_registered() == [
        "followup.ended_followups",
        "followup.photos",
        "line.chat_states",
        "line.simulator_transcripts",
        "line.webhook_events",
        "phone.call_memos",
        "reservations.phone_verifications",
        "voice.calls",
        "vrs_export.reconcile_previews",
    ]


def test_verification_codes_go_a_day_after_they_expire(world: World, now: dt.datetime) -> None:
    resident = world.resident().resident
    old = contact_phone_change_start(
        resident=resident, phone="080-1111-2222", requester=world.web, now=now
    )
    later = now + dt.timedelta(hours=20)
    kept = contact_phone_change_start(
        resident=resident, phone="080-1111-3333", requester=world.web, now=later
    )
    counts = purge_expired_data(now=old.expires_at + dt.timedelta(days=1, minutes=1))
    assert counts["reservations.phone_verifications"] == 1
    assert list(PhoneVerification.objects.all()) == [kept]


def test_webhook_events_are_deleted_after_their_period(now: dt.datetime) -> None:
    days = settings.RETENTION_LINE_WEBHOOK_DAYS
    expired = webhook_event(now - days * DAY - HOUR)
    stuck = webhook_event(now - days * DAY - HOUR, processed=False)
    kept = webhook_event(now - days * DAY + HOUR)

    counts = purge_expired_data(now=now)

    assert counts["line.webhook_events"] == 2
    remaining = set(LineWebhookEvent.objects.values_list("pk", flat=True))
    assert remaining == {kept.pk}
    assert expired.pk not in remaining and stuck.pk not in remaining


def test_simulator_transcripts_follow_the_webhook_period(now: dt.datetime) -> None:
    old = SimulatorDelivery.objects.create(line_user_id="Usim", kind="user", messages=[])
    recent = SimulatorDelivery.objects.create(line_user_id="Usim", kind="user", messages=[])
    period = settings.RETENTION_LINE_WEBHOOK_DAYS * DAY
    SimulatorDelivery.objects.filter(pk=old.pk).update(created_at=now - period - HOUR)
    SimulatorDelivery.objects.filter(pk=recent.pk).update(created_at=now - period + HOUR)

    assert purge_expired_data(now=now)["line.simulator_transcripts"] == 1
    assert list(SimulatorDelivery.objects.values_list("pk", flat=True)) == [recent.pk]


def test_idle_chat_state_is_cleared_and_a_live_one_kept(now: dt.datetime) -> None:
    hours = settings.RETENTION_CHAT_STATE_HOURS
    idle = chat_state("Uidle", now - hours * HOUR - dt.timedelta(minutes=1), ticket="1234567890")
    live = chat_state("Ulive", now - hours * HOUR + dt.timedelta(minutes=1), ticket="2345678901")
    already_clear = LineAccount.objects.create(
        line_user_id="Uclear", step="", data={}, step_changed_at=now - 30 * DAY
    )

    counts = purge_expired_data(now=now)

    assert counts["line.chat_states"] == 1
    idle.refresh_from_db()
    assert (idle.step, idle.data, idle.step_changed_at) == ("", {}, now)
    live.refresh_from_db()
    assert live.data == {"ticket": "2345678901"}
    already_clear.refresh_from_db()
    assert already_clear.step_changed_at == now - 30 * DAY


def test_call_memos_are_emptied_and_the_calls_kept(world: World, now: dt.datetime) -> None:
    days = settings.RETENTION_CALL_MEMO_DAYS
    old = call(world, now - days * DAY - HOUR, "娘さんから。090-1234-5678 に折り返し")
    recent = call(world, now - days * DAY + HOUR, "来週また電話するとのこと")

    counts = purge_expired_data(now=now)

    assert counts["phone.call_memos"] == 1
    old.refresh_from_db()
    assert old.notes == ""
    assert (old.outcome, old.handling_seconds) == (Call.Outcome.ANSWERED, 300)
    recent.refresh_from_db()
    assert recent.notes == "来週また電話するとのこと"


def test_a_dry_run_counts_and_changes_nothing(world: World, now: dt.datetime) -> None:
    webhook_event(now - 30 * DAY)
    chat_state("Uidle", now - 30 * DAY, ticket="1234567890")
    call(world, now - 365 * DAY, "メモ")
    contact_phone_change_start(
        resident=world.resident().resident,
        phone="080-1111-2222",
        requester=world.web,
        now=now - 2 * DAY,
    )

    counts = purge_expired_data(now=now, dry_run=True)

    assert counts == {
        "followup.ended_followups": 0,
        "followup.photos": 0,
        "line.chat_states": 1,
        "line.simulator_transcripts": 0,
        "line.webhook_events": 1,
        "phone.call_memos": 1,
        "reservations.phone_verifications": 1,
        "voice.calls": 0,
        "vrs_export.reconcile_previews": 0,
    }
    assert LineWebhookEvent.objects.count() == 1
    assert LineAccount.objects.get().data == {"ticket": "1234567890"}
    assert Call.objects.get().notes == "メモ"
    # And a real run afterwards purges the same rows, once.
    assert purge_expired_data(now=now) == counts
    assert sum(purge_expired_data(now=now).values()) == 0


def test_the_periods_come_from_the_settings(settings: Any, now: dt.datetime) -> None:
    settings.RETENTION_LINE_WEBHOOK_DAYS = 30
    webhook_event(now - 10 * DAY)
    assert purge_expired_data(now=now)["line.webhook_events"] == 0
    settings.RETENTION_LINE_WEBHOOK_DAYS = 7
    assert purge_expired_data(now=now)["line.webhook_events"] == 1


def test_the_command_reports_counts_per_kind(world: World) -> None:
    # The command reads the clock: data is placed relative to it, far past any period.
    long_ago = timezone.now() - 400 * DAY
    webhook_event(long_ago)
    call(world, long_ago, "メモ")

    dry = StringIO()
    call_command("purge_expired_data", "--dry-run", stdout=dry)
    assert "line.webhook_events: would purge 1" in dry.getvalue()
    assert "phone.call_memos: would purge 1" in dry.getvalue()
    assert LineWebhookEvent.objects.exists()

    out = StringIO()
    call_command("purge_expired_data", stdout=out)
    assert "line.webhook_events: purged 1" in out.getvalue()
    assert "total: purged 2" in out.getvalue()
    assert not LineWebhookEvent.objects.exists()
    assert Call.objects.get().notes == ""


def test_the_beat_runs_the_task_daily_and_the_task_calls_the_service(world: World) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired-data"]
    assert entry["task"] == purge_expired_data_task.name
    assert isinstance(entry["schedule"], crontab)
    # Once a day: one hour, one minute, every day of the week and month.
    assert len(entry["schedule"].hour) == 1 and len(entry["schedule"].minute) == 1
    assert entry["schedule"].day_of_week == set(range(7))

    call(world, timezone.now() - 400 * DAY, "メモ")
    result = purge_expired_data_task.apply().get()
    assert result["phone.call_memos"] == 1
    assert Call.objects.get().notes == ""
