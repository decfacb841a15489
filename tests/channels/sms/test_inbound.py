"""POST /sms/inbound/<provider>/: a resident's reply STOP turns SMS off for their number and
sends one SMS saying so; anything else, or anything unsigned, changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from channels.sms.inbound import is_stop
from channels.sms.models import SmsInbound
from reservations.models import ContactChange, Resident
from tests.channels.sms.standin import TwilioStandIn
from tests.world import World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_in_process")]

URL = "/sms/inbound/twilio/"
PUBLIC_URL = "https://yoyaku.example.lg.jp/sms/inbound/twilio/"
MOBILE = "+819012345678"


@pytest.fixture
def inbound(settings: Any, twilio_sms: TwilioStandIn) -> TwilioStandIn:
    """Twilio for sending (the stand-in) and forwarding replies to our public webhook URL."""
    settings.TWILIO_INBOUND_URL = PUBLIC_URL
    return twilio_sms


@pytest.fixture
def couple(world: World) -> list[Resident]:
    world.municipality.sms_sender_label = "日南市ワクチン予約"
    world.municipality.save()
    # World's residents all have MOBILE: a couple sharing one phone.
    return [world.resident(name=name).resident for name in ("日南 太郎", "日南 花子")]


def reply(
    client: Client, twilio: TwilioStandIn, body: str, *, sender: str = MOBILE, **form: str
) -> Any:
    data = twilio.incoming_message(sender=sender, body=body) | form
    signature = twilio.signature(PUBLIC_URL, data)
    return client.post(URL, data=data, headers={"X-Twilio-Signature": signature})


def consents(residents: list[Resident]) -> list[bool]:
    return [Resident.objects.get(pk=r.pk).sms_consent for r in residents]


@pytest.mark.parametrize(
    "body", ["STOP", "stop", " Stop\n", "ＳＴＯＰ", "停止", "停止。", "ていし"]
)
def test_a_signed_stop_turns_sms_off_and_confirms_once(
    client: Client,
    inbound: TwilioStandIn,
    couple: list[Resident],
    django_capture_on_commit_callbacks: Any,
    body: str,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = reply(client, inbound, body)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Response></Response>" in response.content
    assert consents(couple) == [False, False]
    [confirmation] = inbound.messages
    assert confirmation["to"] == MOBILE
    assert confirmation["body"].startswith("【日南市ワクチン予約】SMSでのお知らせを停止しました。")
    assert set(ContactChange.objects.values_list("kind", "channel")) == {("sms_off", "sms")}
    assert SmsInbound.objects.get().residents_stopped == 2


def test_an_unsigned_or_forged_reply_is_refused(
    client: Client, inbound: TwilioStandIn, couple: list[Resident]
) -> None:
    data = inbound.incoming_message(sender=MOBILE, body="STOP")
    assert client.post(URL, data=data).status_code == 403
    forged = TwilioStandIn(auth_token="not-ours").signature(PUBLIC_URL, data)  # noqa: S106
    assert client.post(URL, data=data, headers={"X-Twilio-Signature": forged}).status_code == 403
    # Signed for one body, sent with another.
    signed = inbound.signature(PUBLIC_URL, data | {"Body": "hello"})
    assert client.post(URL, data=data, headers={"X-Twilio-Signature": signed}).status_code == 403
    assert consents(couple) == [True, True]
    assert inbound.messages == [] and not SmsInbound.objects.exists()


def test_without_an_auth_token_every_reply_is_refused(
    client: Client, inbound: TwilioStandIn, couple: list[Resident], settings: Any
) -> None:
    settings.TWILIO_AUTH_TOKEN = ""
    assert reply(client, inbound, "STOP").status_code == 403
    assert consents(couple) == [True, True]


@pytest.mark.parametrize("body", ["ありがとう", "STOP please", "停止しないで", "", "stopp"])
def test_any_other_text_is_ignored(
    client: Client,
    inbound: TwilioStandIn,
    couple: list[Resident],
    django_capture_on_commit_callbacks: Any,
    body: str,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert reply(client, inbound, body).status_code == 200
    assert consents(couple) == [True, True]
    assert inbound.messages == [] and not SmsInbound.objects.exists()
    assert not ContactChange.objects.exists()


def test_a_repeated_webhook_acts_once(
    client: Client,
    inbound: TwilioStandIn,
    couple: list[Resident],
    django_capture_on_commit_callbacks: Any,
) -> None:
    data = inbound.incoming_message(sender=MOBILE, body="STOP")
    headers = {"X-Twilio-Signature": inbound.signature(PUBLIC_URL, data)}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(URL, data=data, headers=headers).status_code == 200
    Resident.objects.filter(pk=couple[0].pk).update(sms_consent=True)  # turned on again since
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(URL, data=data, headers=headers).status_code == 200
    assert consents(couple) == [True, False]
    assert len(inbound.messages) == 1


def test_a_stop_from_an_unknown_or_odd_sender_changes_nothing(
    client: Client,
    inbound: TwilioStandIn,
    couple: list[Resident],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert reply(client, inbound, "STOP", sender="+819099990000").status_code == 200
        assert reply(client, inbound, "STOP", sender="MADOGUCHI").status_code == 200
    assert consents(couple) == [True, True] and inbound.messages == []


def test_a_reply_without_its_fields_is_a_bad_request(
    client: Client, inbound: TwilioStandIn, couple: list[Resident]
) -> None:
    data = {"Body": "STOP", "AccountSid": inbound.account_sid}
    headers = {"X-Twilio-Signature": inbound.signature(PUBLIC_URL, data)}
    assert client.post(URL, data=data, headers=headers).status_code == 400


def test_providers_that_forward_no_replies_have_no_webhook(client: Client) -> None:
    assert client.post("/sms/inbound/http/", data={"Body": "STOP"}).status_code == 404
    assert client.get(URL).status_code == 405


@pytest.mark.parametrize(
    ("body", "stops"),
    [("STOP", True), ("ｽﾄｯﾌﾟ", False), ("ﾃｲｼ", True), ("配信停止", True), ("Stop!", True)],
)
def test_what_counts_as_stop(body: str, stops: bool) -> None:
    assert is_stop(body) is stops
