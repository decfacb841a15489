"""Each municipality's own LINE official account: its webhook checks its own secret, its chat
serves only that city, and what is sent in its name carries its own token. The admin keeps the
secret and the token write-only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from channels.line.models import LineAccount, LineLink, LineOfficialAccount, LineWebhookEvent
from channels.line.outbound import (
    LinePushRejected,
    line_push,
    line_recipient_for,
    line_text_messages,
)
from channels.line.services import Outgoing, line_outgoing_send
from channels.line.standin import StandInLine
from channels.notify.delivery import message_deliver
from channels.notify.models import OutboundMessage
from channels.notify.outbox import messages_create_for_event
from reservations.models import Reservation, ReservationEvent, Ticket
from reservations.season_check import season_check
from reservations.services.booking import reservation_book
from tests.channels.line.conftest import Chat, actions, event_base, sign, texts, today
from tests.world import World, jst, staff_with

pytestmark = pytest.mark.django_db

SECRET_A = "a1" * 16
SECRET_B = "b2" * 16
TOKEN_A = "token-of-nichinan-account"
TOKEN_B = "token-of-miyakonojo-account"
URL_A = "/line/m/452041/webhook/"
URL_B = "/line/m/452025/webhook/"


@pytest.fixture
def city_b(world: World) -> World:
    return world.neighbour()  # 都城市 (452025)


@pytest.fixture
def accounts(
    world: World, city_b: World, standin: StandInLine
) -> tuple[LineOfficialAccount, LineOfficialAccount]:
    """日南市 and 都城市 each with their own account (日南市 is also the settings' city)."""
    a = LineOfficialAccount.objects.create(
        municipality=world.municipality,
        channel_id="1000000001",
        channel_secret=SECRET_A,
        channel_access_token=TOKEN_A,
    )
    b = LineOfficialAccount.objects.create(
        municipality=city_b.municipality,
        channel_id="1000000002",
        channel_secret=SECRET_B,
        channel_access_token=TOKEN_B,
    )
    standin.accept_token(TOKEN_A)
    standin.accept_token(TOKEN_B)
    return a, b


def link(chat: Chat, ticket: Ticket) -> list[dict[str, Any]]:
    chat.follow()
    chat.say(ticket.number)
    birth = ticket.resident.birth_date
    return chat.say(f"{birth.year}年{birth.month}月{birth.day}日")


def tokens_used(standin: StandInLine, calls_before: int = 0) -> set[str]:
    return {call.headers["authorization"] for call in standin.accepted()[calls_before:]}


# --- Webhooks ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("accounts")
def test_an_event_signed_for_b_is_refused_at_a(chat_factory: Callable[..., Chat]) -> None:
    signed_by_b_sent_to_a = chat_factory("Uwrong", webhook=URL_A, secret=SECRET_B)
    assert signed_by_b_sent_to_a.post([event_base("Uwrong", "follow")]).status_code == 400
    # Nor does the settings' webhook take B's signature.
    signed_by_b_sent_home = chat_factory("Uwrong", secret=SECRET_B)
    assert signed_by_b_sent_home.post([event_base("Uwrong", "follow")]).status_code == 400
    assert not LineWebhookEvent.objects.exists()


def test_an_event_is_stored_with_the_account_it_came_to(
    chat_factory: Callable[..., Chat],
    accounts: tuple[LineOfficialAccount, LineOfficialAccount],
) -> None:
    _a, b = accounts
    chat = chat_factory("Ub1", webhook=URL_B, secret=SECRET_B)
    assert "接種券番号" in texts(chat.follow())
    assert LineWebhookEvent.objects.get().official_account == b
    assert LineAccount.objects.get().official_account == b


def test_an_unknown_or_switched_off_code_is_not_found(
    client: Client, accounts: tuple[LineOfficialAccount, LineOfficialAccount]
) -> None:
    body = b'{"destination": "U", "events": []}'

    def post(url: str, secret: str) -> int:
        return client.post(
            url, body, content_type="application/json", HTTP_X_LINE_SIGNATURE=sign(body, secret)
        ).status_code

    assert post(URL_B, SECRET_B) == 200
    assert post("/line/m/452033/webhook/", SECRET_B) == 404  # a code with no account
    assert post("/line/m/45202/webhook/", SECRET_B) == 404  # not a code at all
    _a, b = accounts
    b.is_active = False
    b.save()
    assert post(URL_B, SECRET_B) == 404


# --- The chat serves its own municipality ---------------------------------------------------


@pytest.mark.usefixtures("season_clock", "accounts")
def test_a_chat_in_b_offers_only_b_sites_and_answers_with_b_token(
    chat_factory: Callable[..., Chat], world: World, city_b: World, standin: StandInLine
) -> None:
    day = today() + dt.timedelta(days=4)
    world.slot(day, 10)
    city_b.slot(day, 10)
    chat = chat_factory("Ub2", webhook=URL_B, secret=SECRET_B)
    assert "連携しました" in texts(link(chat, city_b.resident(name="都城 太郎")))

    sites = chat.say("予約する")
    labels = [a.get("label") for a in actions(sites)]
    assert "都城市総合体育館" in labels
    assert "日南市文化センター" not in labels

    # A tampered button naming the other city's site is refused like any stale button.
    link_id = LineLink.objects.get().pk
    refused = chat.postback(f"a=site&l={link_id}&s={world.site.pk}")
    assert "使えなくなりました" in texts(refused)

    dates = chat.tap(sites, "都城市総合体育館")
    times = chat.tap(dates, f"{day.month}月{day.day}日")
    held = _hold(chat, times)
    chat.tap(held, "予約を確定する")
    booked = Reservation.objects.get(status=Reservation.Status.CONFIRMED)
    assert booked.slot.operating_day.site == city_b.site
    assert tokens_used(standin) == {f"Bearer {TOKEN_B}"}


def _hold(chat: Chat, times: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for message in times:
        if message["type"] == "flex":
            bubble = message["contents"]["contents"][0]
            return chat.postback(bubble["footer"]["contents"][0]["action"]["data"])
    raise AssertionError("no times offered")


@pytest.mark.usefixtures("season_clock", "accounts")
def test_a_ticket_of_another_municipality_is_refused_in_plain_words(
    chat_factory: Callable[..., Chat], world: World
) -> None:
    chat = chat_factory("Ub3", webhook=URL_B, secret=SECRET_B)
    answer = texts(link(chat, world.resident()))  # a 日南市 ticket, in 都城市's account
    assert "日南市の接種券です" in answer
    assert "都城市の接種券だけ" in answer
    assert not LineLink.objects.exists()


@pytest.mark.usefixtures("season_clock", "accounts")
def test_the_same_user_id_in_two_accounts_keeps_two_chats(
    chat_factory: Callable[..., Chat], world: World, city_b: World
) -> None:
    """Two accounts under one LINE provider see a person with one user id."""
    in_b = chat_factory("Ushared", webhook=URL_B, secret=SECRET_B)
    link(in_b, city_b.resident())
    in_a = chat_factory("Ushared", webhook=URL_A, secret=SECRET_A)
    asked = in_a.say("予約する")  # nobody is linked in 日南市's account
    assert "接種券番号" in texts(asked)
    assert LineAccount.objects.filter(line_user_id="Ushared").count() == 2
    [linked] = LineLink.objects.all()
    assert linked.account.official_account is not None
    assert linked.account.official_account.municipality == city_b.municipality


# --- What is sent, and with whose token -----------------------------------------------------


def _linked_in(account: LineOfficialAccount, ticket: Ticket, user_id: str) -> LineAccount:
    line_account = LineAccount.objects.create(line_user_id=user_id, official_account=account)
    LineLink.objects.create(
        account=line_account,
        resident=ticket.resident,
        ticket=ticket,
        linked_at=jst(2026, 11, 1, 9),
    )
    return line_account


def test_a_notice_for_a_b_resident_is_pushed_with_b_token(
    city_b: World,
    now: dt.datetime,
    standin: StandInLine,
    accounts: tuple[LineOfficialAccount, LineOfficialAccount],
) -> None:
    _a, b = accounts
    ticket = city_b.resident()
    _linked_in(b, ticket, "Ubpush")
    reservation = reservation_book(
        ticket=ticket,
        slot=city_b.slot(dt.date(2026, 11, 10), 10),
        requester=city_b.web,
        book_next_dose=False,
        now=now,
    )
    booked = reservation.events.filter(kind=ReservationEvent.Kind.BOOKED).latest("id")
    [message] = messages_create_for_event(event_id=booked.pk, now=now)
    assert (message.channel, message.address) == (OutboundMessage.Channel.LINE, "Ubpush")

    daytime = jst(2026, 11, 2, 12)
    assert message_deliver(message_id=message.pk, now=daytime).status == "sent"
    [push] = standin.accepted("push")
    assert push.body["to"] == "Ubpush"
    assert push.headers["authorization"] == f"Bearer {TOKEN_B}"


def test_the_same_user_in_two_accounts_is_pushed_through_the_residents_account(
    world: World,
    city_b: World,
    standin: StandInLine,
    accounts: tuple[LineOfficialAccount, LineOfficialAccount],
) -> None:
    a, b = accounts
    in_a = world.resident()
    in_b = city_b.resident()
    _linked_in(a, in_a, "Uboth")
    _linked_in(b, in_b, "Uboth")
    key = "0f4cf7f6-4e9b-4f4e-9a56-6a4d3b0e1c01"
    line_push(
        to="Uboth", messages=line_text_messages("B"), retry_key=key, resident_id=in_b.resident_id
    )
    other = "0f4cf7f6-4e9b-4f4e-9a56-6a4d3b0e1c02"
    line_push(
        to="Uboth", messages=line_text_messages("A"), retry_key=other, resident_id=in_a.resident_id
    )
    sent = {c.body["messages"][0]["text"]: c.headers["authorization"] for c in standin.accepted()}
    assert sent == {"B": f"Bearer {TOKEN_B}", "A": f"Bearer {TOKEN_A}"}


def test_a_chat_answer_pushed_later_goes_out_with_its_account_token(
    standin: StandInLine, accounts: tuple[LineOfficialAccount, LineOfficialAccount]
) -> None:
    _a, b = accounts
    outgoing = Outgoing(
        webhook_event_id="01TESTLATE",
        official_account_id=b.pk,
        line_user_id="Ulate",
        reply_token=None,
        reply_token_fresh=False,
        messages=line_text_messages("こんにちは"),
    )
    line_outgoing_send(outgoing, push_later=lambda **kwargs: None)
    [push] = standin.accepted("push")
    assert push.headers["authorization"] == f"Bearer {TOKEN_B}"


def test_nothing_goes_out_through_a_switched_off_account(
    city_b: World,
    standin: StandInLine,
    accounts: tuple[LineOfficialAccount, LineOfficialAccount],
) -> None:
    _a, b = accounts
    ticket = city_b.resident()
    _linked_in(b, ticket, "Uoff")
    assert line_recipient_for(resident_id=ticket.resident_id) is not None
    b.is_active = False
    b.save()
    # Notify routes the resident by SMS or phone instead, and a push already queued is refused.
    assert line_recipient_for(resident_id=ticket.resident_id) is None
    with pytest.raises(LinePushRejected):
        line_push(
            to="Uoff",
            messages=line_text_messages("x"),
            retry_key="0f4cf7f6-4e9b-4f4e-9a56-6a4d3b0e1c03",
            resident_id=ticket.resident_id,
        )
    assert standin.calls == []


# --- The pre-opening check --------------------------------------------------------------------


def test_the_season_check_asks_each_city_for_its_own_account(
    world: World, city_b: World, now: dt.datetime, settings: Any
) -> None:
    settings.LINE_CHANNEL_SECRET = "secret"
    settings.LINE_CHANNEL_ACCESS_TOKEN = "token"

    def line_codes(target: World) -> set[str]:
        findings = season_check(municipality=target.municipality, now=now)
        return {f.code for f in findings if f.code.startswith("line_")}

    assert line_codes(world) == set()  # the settings' account serves the home city
    assert line_codes(city_b) == {"line_not_configured"}
    LineOfficialAccount.objects.create(
        municipality=city_b.municipality,
        channel_id="1",
        channel_secret=SECRET_B,
        channel_access_token=TOKEN_B,
    )
    assert line_codes(city_b) == set()


# --- The admin --------------------------------------------------------------------------------


def _form(municipality_id: int, **fields: str) -> dict[str, Any]:
    return {
        "municipality": str(municipality_id),
        "channel_id": "2000000001",
        "channel_secret": "",
        "channel_access_token": "",
        "is_active": "on",
        **fields,
    }


def test_the_admin_never_shows_a_stored_secret(client: Client, city_b: World) -> None:
    client.force_login(User.objects.create_superuser("root", password="x"))
    added = client.post(
        "/admin/line/lineofficialaccount/add/",
        _form(city_b.municipality.pk, channel_secret=SECRET_B, channel_access_token=TOKEN_B),
    )
    assert added.status_code == 302, added.content.decode()
    account = LineOfficialAccount.objects.get()
    assert (account.channel_secret, account.channel_access_token) == (SECRET_B, TOKEN_B)

    change_url = f"/admin/line/lineofficialaccount/{account.pk}/change/"
    for url in ("/admin/line/lineofficialaccount/", change_url):
        page = client.get(url).content.decode()
        assert SECRET_B not in page and TOKEN_B not in page
    assert URL_B in client.get(change_url).content.decode()
    assert client.get("/admin/line/lineofficialaccount/").content.decode().count("icon-yes") >= 2

    # Left blank, both are kept; typed, the new one replaces the old.
    kept = client.post(change_url, _form(city_b.municipality.pk, channel_id="2000000002"))
    assert kept.status_code == 302
    account.refresh_from_db()
    assert (account.channel_id, account.channel_secret) == ("2000000002", SECRET_B)
    assert account.channel_access_token == TOKEN_B
    client.post(change_url, _form(city_b.municipality.pk, channel_access_token="new-token"))
    account.refresh_from_db()
    assert account.channel_access_token == "new-token"
    assert account.channel_secret == SECRET_B


def test_the_admin_refuses_a_new_account_without_secrets_in_words(
    client: Client, city_b: World
) -> None:
    client.force_login(User.objects.create_superuser("root", password="x"))
    refused = client.post("/admin/line/lineofficialaccount/add/", _form(city_b.municipality.pk))
    assert refused.status_code == 200
    assert "この項目は必須です。" in refused.content.decode()
    spaced = client.post(
        "/admin/line/lineofficialaccount/add/",
        _form(city_b.municipality.pk, channel_secret="ab cd", channel_access_token="t"),
    )
    assert "空白を含めずに" in spaced.content.decode()
    huge = client.post(
        "/admin/line/lineofficialaccount/add/",
        _form(2**70, channel_secret="s", channel_access_token="t", channel_id="x1"),
    )
    assert huge.status_code == 200
    page = huge.content.decode()
    assert "正しく選択してください" in page or "Select a valid choice" in page
    assert "半角数字" in page
    assert not LineOfficialAccount.objects.exists()


def test_staff_see_only_their_own_cities_account(
    client: Client, world: World, city_b: World
) -> None:
    LineOfficialAccount.objects.create(
        municipality=city_b.municipality,
        channel_id="1",
        channel_secret=SECRET_B,
        channel_access_token=TOKEN_B,
    )
    own = LineOfficialAccount.objects.create(
        municipality=world.municipality,
        channel_id="2",
        channel_secret=SECRET_A,
        channel_access_token=TOKEN_A,
    )
    staff = staff_with(
        "nichinan", "view_lineofficialaccount", "change_lineofficialaccount"
    )  # works for 日南市 only
    client.force_login(staff)
    listing = client.get("/admin/line/lineofficialaccount/").content.decode()
    assert "日南市" in listing and "都城市" not in listing
    other = LineOfficialAccount.objects.get(municipality=city_b.municipality)
    assert client.get(f"/admin/line/lineofficialaccount/{other.pk}/change/").status_code == 404
    form = client.get(f"/admin/line/lineofficialaccount/{own.pk}/change/").content.decode()
    assert "都城市" not in form  # not offered as a municipality either
