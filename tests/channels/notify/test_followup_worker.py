"""Health follow-up's invitations through a real Celery worker on Redis to the SMS gateway
stand-in, as in production: the scan makes the messages, the workers send each exactly once,
and a second scan makes none."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from channels.followup.models import FollowedPerson, Questionnaire
from channels.followup.services import followup_start
from channels.notify.followups import followup_messages_due
from channels.notify.models import OutboundMessage
from channels.notify.tasks import enqueue_deliveries
from tests.channels.followup.staff_world import ship_questionnaires
from tests.channels.notify.test_worker import Worker, wait_for, worker  # noqa: F401
from tests.channels.sms.standin import GatewayStandIn
from tests.world import World, jst

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

DAY = dt.date(2026, 11, 2)
PEOPLE = 40


def test_a_morning_of_invitations_is_sent_once_each(
    world: World,
    worker: Worker,  # noqa: F811 - the fixture imported above
    http_sms: GatewayStandIn,
    settings: Any,
) -> None:
    # The worker runs on today's clock: quiet hours off, so the test passes at any hour.
    worker.start(NOTIFY_QUIET_HOURS_START="00:00", NOTIFY_QUIET_HOURS_END="00:00")
    ship_questionnaires()  # a transactional test before this one flushed the migration's rows
    questionnaire = Questionnaire.objects.get(code="post-vaccination", is_active=True)
    for n in range(PEOPLE):
        person = FollowedPerson.objects.create(
            municipality=world.municipality,
            name=f"山田 花子{n}",
            phone=f"+81901234{n:04d}",
            birth_date=dt.date(1950, 1, 1),
        )
        followup_start(
            person=person,
            questionnaire=questionnaire,
            start_date=DAY,
            day_offsets=[0, 1, 6],
            now=jst(2026, 11, 2, 7),
        )
    morning = jst(2026, 11, 2, 8, 30)
    # In chunks, each handed to the broker as soon as it is committed (autocommit here).
    report = followup_messages_due(now=morning, hand_over=enqueue_deliveries)
    assert report.invited == PEOPLE and len(report.to_deliver) == PEOPLE
    sent = OutboundMessage.objects.filter(status=OutboundMessage.Status.SENT)
    try:
        wait_for(lambda: sent.count() == PEOPLE, timeout=60)
    except AssertionError:
        raise AssertionError(worker.log.read_text(errors="replace")[-4000:]) from None
    assert followup_messages_due(now=morning + dt.timedelta(minutes=5)).to_deliver == []
    recipients = [message["to"] for message in http_sms.messages]
    assert len(recipients) == PEOPLE == len(set(recipients)) == http_sms.posts
    assert all("/f/" in message["body"] for message in http_sms.messages)
