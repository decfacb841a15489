"""SMS that belong to no booking (channels.notify.contact_sms): the verification code and the
notice of a STOP, sent after the request commits, through the real SMS transport."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from celery.canvas import Signature
from celery.exceptions import Retry
from django.db import transaction
from django.utils import timezone

from channels.notify.contact_sms import contact_sms_send, contact_sms_send_task, contact_sms_text
from reservations.models import Channel, PhoneVerification, Resident
from reservations.services.booking import Requester
from reservations.services.contact import (
    SMS_STOPPED,
    SMS_VERIFICATION_CODE,
    contact_phone_change_start,
)
from tests.channels.sms.conftest import tasks_in_process  # noqa: F401
from tests.channels.sms.standin import GatewayStandIn
from tests.world import World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_in_process")]

WEB = Requester(channel=Channel.WEB)


@pytest.fixture
def resident(world: World) -> Resident:
    world.municipality.sms_sender_label = "日南市ワクチン予約"
    world.municipality.save()
    return world.resident().resident


def later() -> str:
    return (timezone.now() + dt.timedelta(minutes=10)).isoformat()


def test_the_code_goes_out_after_the_commit(
    resident: Resident, locmem_sms: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        verification = contact_phone_change_start(
            resident=resident, phone="080-2222-3333", requester=WEB
        )
    assert locmem_sms == []  # nothing before the commit
    for callback in callbacks:
        callback()
    [sms] = locmem_sms
    assert sms.to_e164 == "+818022223333"
    assert sms.body.startswith("【日南市ワクチン予約】確認コード ")
    code = sms.body.split("確認コード ")[1][:6]
    assert code.isdigit() and code not in verification.code_hash
    assert "10分間有効" in sms.body


def test_a_rolled_back_request_sends_nothing(
    resident: Resident, locmem_sms: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        contact_phone_change_start(resident=resident, phone="080-2222-3333", requester=WEB)
        raise RuntimeError("the caller's transaction fails after the request")
    assert locmem_sms == []
    assert not PhoneVerification.objects.exists()


def test_the_stop_notice_names_the_call_centre(resident: Resident) -> None:
    body = contact_sms_text(resident=resident, purpose=SMS_STOPPED)
    assert body == (
        "【日南市ワクチン予約】SMSでのお知らせを停止しました。"
        "再開は予約サイトか、コールセンター0987-00-0000へ"
    )


def test_the_code_text_fits_one_sms(resident: Resident) -> None:
    from channels.sms.text import segment_count

    body = contact_sms_text(resident=resident, purpose=SMS_VERIFICATION_CODE, code="123456")
    assert segment_count(body) == 1


def test_it_goes_through_the_gateway(resident: Resident, http_sms: GatewayStandIn) -> None:
    reference = str(uuid.uuid4())
    result = contact_sms_send_task.apply(args=("+818022223333", "本文", reference, later()))
    assert result.get() == "sent"
    [message] = http_sms.messages
    assert (message["to"], message["tags"]) == ("08022223333", reference)


def test_a_second_attempt_after_an_unknown_answer_does_not_send_twice(
    resident: Resident, http_sms: GatewayStandIn
) -> None:
    reference = str(uuid.uuid4())
    contact_sms_send(to="+818022223333", body="本文", reference=reference)
    contact_sms_send(to="+818022223333", body="本文", reference=reference, checked=True)
    assert len(http_sms.messages) == 1


def test_a_code_past_its_expiry_is_not_sent(resident: Resident, http_sms: GatewayStandIn) -> None:
    past = (timezone.now() - dt.timedelta(seconds=1)).isoformat()
    result = contact_sms_send_task.apply(args=("+818022223333", "本文", str(uuid.uuid4()), past))
    assert result.get() == "expired"
    assert http_sms.messages == []


def test_a_refused_number_is_not_retried(resident: Resident, http_sms: GatewayStandIn) -> None:
    # The gateway refuses a landline for good (400).
    result = contact_sms_send_task.apply(args=("+81987311111", "本文", str(uuid.uuid4()), later()))
    assert result.get() == "refused"
    assert http_sms.messages == []


@pytest.fixture
def on_a_worker() -> Iterator[None]:
    """The task as a worker runs it (not in-process), its first retry."""
    contact_sms_send_task.push_request(
        id="a-worker-task", called_directly=False, is_eager=False, retries=1, args=(), kwargs={}
    )
    yield
    contact_sms_send_task.pop_request()


@pytest.mark.parametrize(("step", "checked"), [("503", False), ("500", True)])
def test_a_failure_is_retried_and_an_unknown_answer_is_checked_first(
    resident: Resident, http_sms: GatewayStandIn, on_a_worker: None, step: str, checked: bool
) -> None:
    http_sms.script([step])
    reference = str(uuid.uuid4())
    give_up_at = later()
    with mock.patch.object(Signature, "apply_async") as queued, pytest.raises(Retry) as retried:
        contact_sms_send_task.run("+818022223333", "本文", reference, give_up_at)
    queued.assert_called_once()
    assert retried.value.sig.args == ("+818022223333", "本文", reference, give_up_at, checked)
    assert retried.value.when == 10.0  # doubled from 5 s for the second try
