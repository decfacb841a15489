"""The resident's contact page: the number on record masked, a new mobile number verified by
the code sent to it, SMS yes or no; every refusal in plain words on the same page."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client

from reservations.models import ContactChange, PhoneVerification, Ticket
from reservations.services.booking import reservation_book
from tests.channels.sms.conftest import locmem_sms, tasks_in_process  # noqa: F401
from tests.channels.web.conftest import Clock, sign_in
from tests.world import World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_in_process")]


@pytest.fixture
def ticket(world: World, clock: Clock) -> Ticket:
    ticket = world.resident()
    ticket.resident.phone = "+819087654321"
    ticket.resident.save()
    return ticket


@pytest.fixture
def person(client: Client, ticket: Ticket) -> str:
    """The signed-in person's page URL."""
    return sign_in(client, ticket)


def text(response: Any) -> str:
    return str(response.content.decode())


def send_code(
    client: Client, person: str, outbox: list[Any], capture: Any, phone: str = "080-2222-3333"
) -> str:
    with capture(execute=True):
        response = client.post(person + "contact/", {"action": "phone", "phone": phone})
    assert response.status_code == 302, text(response)[:3000]
    assert response["Location"] == person + "contact/code/"
    match = re.search(r"確認コード (\d{6})", outbox[-1].body)
    assert match is not None, outbox[-1].body
    return match.group(1)


def test_the_booking_page_links_to_the_contact_page(client: Client, person: str) -> None:
    page = text(client.get(person))
    assert f'href="{person}contact/"' in page
    assert "連絡先（携帯電話・SMS）" in page


def test_the_number_on_record_is_masked(client: Client, person: str) -> None:
    page = text(client.get(person + "contact/"))
    assert "090-****-4321" in page
    assert "8765" not in page
    assert "SMSでお知らせを受け取る設定です。" in page
    assert 'name="sms" id="sms-yes" value="yes" checked' in page


def test_a_new_number_is_verified_by_the_code_sent_to_it(
    client: Client,
    person: str,
    ticket: Ticket,
    locmem_sms: list[Any],  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    code = send_code(client, person, locmem_sms, django_capture_on_commit_callbacks)
    assert locmem_sms[-1].to_e164 == "+818022223333"
    page = text(client.get(person + "contact/code/"))
    assert "080-2222-3333" in page and "09:10 まで" in page
    assert 'autocomplete="one-time-code"' in page

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = client.post(person + "contact/code/", {"action": "confirm", "code": wrong})
    assert response.status_code == 400
    assert "確認コードが違います。あと4回まちがえると、このコードは使えなくなります。" in text(
        response
    )

    response = client.post(person + "contact/code/", {"action": "confirm", "code": code})
    assert response.status_code == 302
    assert response["Location"] == person + "contact/?notice=phone_changed"
    page = text(client.get(response["Location"]))
    assert "携帯電話の番号を登録しました。" in page and "080-****-3333" in page
    ticket.resident.refresh_from_db()
    assert ticket.resident.phone == "+818022223333"
    change = ContactChange.objects.get(kind="phone")
    assert change.verified and change.channel == "web" and change.actor == "resident"
    # Done: the code page has nothing more to do.
    assert client.get(person + "contact/code/")["Location"] == person + "contact/"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0987-31-1111", "この番号は携帯電話の番号ではないため、SMSが届きません。"),
        ("090-1234", "電話番号が正しくありません。"),
        ("", "携帯電話の番号を入力してください。"),
        ("9" * 41, "携帯電話の番号は11けたです。"),
    ],
)
def test_a_number_that_cannot_take_sms_is_refused_in_plain_words(
    client: Client, person: str, typed: str, message: str
) -> None:
    response = client.post(person + "contact/", {"action": "phone", "phone": typed})
    assert response.status_code == 400
    page = text(response)
    assert message in page
    assert 'aria-invalid="true"' in page and 'id="phone-error" role="alert"' in page
    assert page.count(message) == 1  # said once, at the field
    assert not PhoneVerification.objects.exists()


def test_sms_is_turned_off_and_on(client: Client, person: str, ticket: Ticket) -> None:
    response = client.post(person + "contact/", {"action": "sms", "sms": "no"})
    assert response["Location"] == person + "contact/?notice=sms_off"
    page = text(client.get(response["Location"]))
    assert "SMSでのお知らせを止めました。" in page and "SMSでのお知らせは止めています。" in page
    ticket.resident.refresh_from_db()
    assert not ticket.resident.sms_consent
    assert ticket.resident.sms_consent_changed_via == "web"
    client.post(person + "contact/", {"action": "sms", "sms": "yes"})
    ticket.resident.refresh_from_db()
    assert ticket.resident.sms_consent


def test_the_resident_chooses_the_language_of_the_sms(
    client: Client,
    person: str,
    ticket: Ticket,
    world: World,
    locmem_sms: list[Any],  # noqa: F811
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    page = text(client.get(person + "contact/"))
    assert "SMSのお知らせの言語" in page and 'value="ja" checked' in page
    assert 'lang="ja-x-easy">やさしい にほんご' in page and 'lang="en">English' in page
    response = client.post(person + "contact/", {"action": "language", "language": "en"})
    assert response["Location"] == person + "contact/?notice=language"
    page = text(client.get(response["Location"]))
    assert "次のお知らせから、この言語でお送りします" in page and 'value="en" checked' in page
    ticket.resident.refresh_from_db()
    assert ticket.resident.preferred_language == "en"

    # The next confirmation goes in English.
    settings.NOTIFY_HANDOFF = "on_commit"
    with django_capture_on_commit_callbacks(execute=True):
        reservation_book(ticket=ticket, slot=world.slot(dt.date(2026, 11, 10)), requester=world.web)
    assert "] Booked No." in locmem_sms[-1].body and "Tue 11/10" in locmem_sms[-1].body

    refused = client.post(person + "contact/", {"action": "language", "language": "fr"})
    assert refused.status_code == 400 and "言語は一覧から選んでください。" in text(refused)
    ticket.resident.refresh_from_db()
    assert ticket.resident.preferred_language == "en"


def test_a_missing_choice_is_asked_for(client: Client, person: str) -> None:
    response = client.post(person + "contact/", {"action": "sms", "sms": "maybe"})
    assert response.status_code == 400
    assert "「受け取る」か「受け取らない」を選んでください。" in text(response)


def test_without_a_mobile_number_there_is_no_sms_choice(
    client: Client, person: str, ticket: Ticket
) -> None:
    ticket.resident.phone = "+81987311111"
    ticket.resident.save()
    page = text(client.get(person + "contact/"))
    assert "0987-**-1111" in page
    assert "この番号は携帯電話ではないため、SMSは届きません。" in page
    assert 'name="sms"' not in page
    assert "携帯電話の番号を登録する" in page
    ticket.resident.phone = ""
    ticket.resident.save()
    assert "登録されていません。" in text(client.get(person + "contact/"))


def test_an_expired_code_offers_a_new_one(
    client: Client,
    person: str,
    clock: Clock,
    locmem_sms: list[Any],  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    code = send_code(client, person, locmem_sms, django_capture_on_commit_callbacks)
    clock.advance(minutes=10)
    response = client.post(person + "contact/code/", {"action": "confirm", "code": code})
    assert response.status_code == 400
    page = text(response)
    assert page.count("有効期限") == 1  # the error, not also the page's own sentence
    assert 'name="code"' not in page and "新しいコードを送る" in page
    page = text(client.get(person + "contact/code/"))
    assert "確認コードの有効期限が過ぎました。" in page and 'name="code"' not in page
    # The contact page no longer points to a code that cannot be used.
    assert "確認コードを入力する" not in text(client.get(person + "contact/"))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(person + "contact/code/", {"action": "resend"})
    assert response["Location"] == person + "contact/code/?notice=resent"
    assert "新しい確認コードを送りました。" in text(client.get(response["Location"]))
    fresh = re.search(r"確認コード (\d{6})", locmem_sms[-1].body)
    assert fresh is not None and locmem_sms[-1].to_e164 == "+818022223333"
    response = client.post(person + "contact/code/", {"action": "confirm", "code": fresh[1]})
    assert response.status_code == 302


def test_five_wrong_codes_lock_it_and_say_so_once(
    client: Client,
    person: str,
    locmem_sms: list[Any],  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    code = send_code(client, person, locmem_sms, django_capture_on_commit_callbacks)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        client.post(person + "contact/code/", {"action": "confirm", "code": wrong})
    response = client.post(person + "contact/code/", {"action": "confirm", "code": wrong})
    page = text(response)
    assert "確認コードを5回まちがえたため、このコードは使えなくなりました。" in page
    assert page.count("使えなくなりました") == 1
    assert 'name="code"' not in page


def test_a_short_code_is_not_counted(
    client: Client,
    person: str,
    locmem_sms: list[Any],  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    send_code(client, person, locmem_sms, django_capture_on_commit_callbacks)
    response = client.post(person + "contact/code/", {"action": "confirm", "code": "123"})
    assert "確認コードは6けたの数字です。" in text(response)
    assert PhoneVerification.objects.get().wrong_attempts == 0


def test_too_many_codes_are_refused_with_the_time_to_try_again(
    client: Client,
    person: str,
    clock: Clock,
    locmem_sms: list[Any],  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    for _ in range(3):
        send_code(client, person, locmem_sms, django_capture_on_commit_callbacks)
        clock.advance(minutes=1)
    response = client.post(person + "contact/code/", {"action": "resend"})
    assert response.status_code == 400
    assert "確認コードを続けて送ったため、いまは送れません。10:00以降（約57分後）" in text(response)
    assert len(locmem_sms) == 3


def test_the_code_page_without_a_code_goes_back(client: Client, person: str) -> None:
    assert client.get(person + "contact/code/")["Location"] == person + "contact/"


def test_signed_out_browsers_are_sent_to_sign_in(client: Client) -> None:
    response = client.get("/p/not-a-token/contact/")
    assert response.status_code == 302 and "notice=signin" in response["Location"]
