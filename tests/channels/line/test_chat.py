"""The chat flows, driven by signed webhook events; the stand-in records what LINE received."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from channels.line.models import LineLink
from reservations.models import Reservation, Ticket
from tests.channels.line.conftest import Chat, actions, find_action, flex_texts, texts, today
from tests.world import World

# These pages and tasks read the clock themselves: it stands at `now`, inside the season.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]


def link(chat: Chat, ticket: Ticket, *, first: bool = True) -> list[dict[str, Any]]:
    greeting = chat.follow() if first else chat.say("家族を追加")
    assert "接種券番号" in texts(greeting)
    asked = chat.say(ticket.number)
    assert "生年月日" in texts(asked)
    birth = ticket.resident.birth_date
    return chat.say(f"{birth.year}年{birth.month}月{birth.day}日")


def test_it_links_with_full_width_digits_and_wareki(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    chat = chat_factory("U100")
    ticket = world.resident(dt.date(1950, 4, 1))
    chat.follow()
    full_width = ticket.number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert "生年月日" in texts(chat.say(full_width))
    done = chat.say("昭和２５年４月１日")
    assert "連携しました" in texts(done)
    assert LineLink.objects.get().resident == ticket.resident


@pytest.fixture
def series(world: World) -> World:
    """A municipal primary-series campaign running now, so dose 1 books dose 2 with it."""
    from reservations.models import Campaign, Program

    campaign = Campaign.objects.create(
        code="nichinan-primary-2026",
        name="初回接種（市独自）",
        program=Program.objects.get(code="covid-primary"),
        municipality=world.municipality,
        starts_on=today() - dt.timedelta(days=30),
        ends_on=today() + dt.timedelta(days=365),
    )
    campaign.vaccines.add(world.vaccine)
    world.campaign = campaign
    return world


def assert_within_limits(messages: list[dict[str, Any]]) -> None:
    assert 1 <= len(messages) <= 5
    for message in messages:
        items = (message.get("quickReply") or {}).get("items", [])
        assert len(items) <= 13


def book(chat: Chat, *, day: dt.date, time_label: str) -> list[dict[str, Any]]:
    sites = chat.say("予約する")
    assert_within_limits(sites)
    dates = chat.tap(sites, "日南市文化センター")
    assert_within_limits(dates)
    times = chat.tap(dates, f"{day.month}月{day.day}日")
    assert_within_limits(times)
    assert any(m["type"] == "flex" for m in times)
    held = chat.postback(_slot_data(times, time_label))
    assert_within_limits(held)
    return held


def _slot_data(messages: list[dict[str, Any]], time_label: str) -> str:
    for message in messages:
        if message["type"] != "flex":
            continue
        for bubble in message["contents"]["contents"]:
            title = bubble["body"]["contents"][0]["text"]
            if title.startswith(time_label):
                return str(bubble["footer"]["contents"][0]["action"]["data"])
    raise AssertionError(f"no time {time_label}")


def test_it_books_a_series_and_replies_with_the_reservation_number(
    chat_factory: Callable[[str], Chat], series: World
) -> None:
    first_day = today() + dt.timedelta(days=3)
    series.slot(first_day, 10)
    series.slot(first_day, 11)
    second_day = first_day + dt.timedelta(days=21)
    series.slot(second_day, 10)
    ticket = series.resident()
    chat = chat_factory("U200")
    link(chat, ticket)

    held = book(chat, day=first_day, time_label="10:00")
    assert "仮押さえ" in texts(held)
    summary = flex_texts(held)
    assert "1回目" in summary and "2回目" in summary
    first = Reservation.objects.get(dose_number=1)
    assert first.status == Reservation.Status.HELD and first.channel == "line"
    assert first.next_dose is not None and first.next_dose.slot.operating_day.date == second_day

    done = chat.tap(held, "予約を確定する")
    first.refresh_from_db()
    assert first.status == Reservation.Status.CONFIRMED
    code = first.code
    # One confirmation for the series: the card, naming the vaccine and both doses, with the
    # menu to go on (no text beside it, no push from the notifications).
    [card] = done
    assert card["type"] == "flex"
    assert f"{code[:3]}-{code[3:6]}-{code[6:]}" in flex_texts(done)
    assert "コミナティ筋注（12歳以上用）" in flex_texts(done)
    assert "1回目" in flex_texts(done) and "2回目" in flex_texts(done)
    assert card["altText"].startswith("予約が確定しました：コミナティ筋注（12歳以上用）")
    assert "予約確認" in {a["label"] for a in actions(done)}
    assert Reservation.objects.filter(status=Reservation.Status.CONFIRMED).count() == 2

    # 予約確認 shows the series in one bubble, with change and cancel buttons.
    listing = chat.say("予約確認")
    assert f"{code[:3]}-{code[3:6]}-{code[6:]}" in flex_texts(listing)
    labels = [a["label"] for a in actions(listing)]
    assert labels.count("キャンセル") >= 1 and "日時を変更" in labels


def test_it_changes_a_booking(chat_factory: Callable[[str], Chat], world: World) -> None:
    day = today() + dt.timedelta(days=5)
    world.slot(day, 10)
    world.slot(day, 14)
    ticket = world.resident()
    chat = chat_factory("U300")
    link(chat, ticket)
    chat.tap(book(chat, day=day, time_label="10:00"), "予約を確定する")
    listing = chat.say("予約確認")
    sites = chat.tap(listing, "日時を変更")
    dates = chat.tap(sites, "日南市文化センター")
    times = chat.tap(dates, f"{day.month}月{day.day}日")
    question = chat.postback(_slot_data(times, "14:00"))
    assert "変更しますか" in texts(question)
    done = chat.tap(question, "変更する")
    [card] = done
    assert card["altText"].startswith("予約を変更しました：") and "14:00" in card["altText"]
    booking = Reservation.objects.get()
    assert booking.status == Reservation.Status.CONFIRMED
    from django.utils import timezone

    assert timezone.localtime(booking.slot.starts_at).hour == 14


def test_it_cancels_a_booking_after_asking(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    day = today() + dt.timedelta(days=5)
    world.slot(day, 10)
    ticket = world.resident()
    chat = chat_factory("U400")
    link(chat, ticket)
    chat.tap(book(chat, day=day, time_label="10:00"), "予約を確定する")
    question = chat.tap(chat.say("キャンセル"), "キャンセル")
    assert "キャンセルしますか" in texts(question)
    assert Reservation.objects.get().status == Reservation.Status.CONFIRMED
    done = chat.tap(question, "キャンセルする")
    [card] = done
    assert card["altText"].startswith("予約をキャンセルしました：")
    assert Reservation.objects.get().status == Reservation.Status.CANCELLED
    assert "確定している予約はありません" in texts(chat.say("予約確認"))


def test_a_full_slot_says_so_and_offers_other_dates(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    day = today() + dt.timedelta(days=5)
    slot = world.slot(day, 10, capacity=1)
    world.slot(day, 11)
    chat = chat_factory("U500")
    link(chat, world.resident())
    sites = chat.say("予約する")
    times = chat.tap(chat.tap(sites, "日南市文化センター"), f"{day.month}月{day.day}日")
    # Someone else takes the last seat while this resident reads the list.
    from reservations.services.booking import reservation_book

    reservation_book(ticket=world.resident(name="別の人"), slot=slot, requester=world.web)
    answer = chat.postback(_slot_data(times, "10:00"))
    assert "満席" in texts(answer)
    assert find_action(answer, f"{day.month}月{day.day}日")  # next step: choose again
    assert not Reservation.objects.filter(resident__name="日南 花子").exists()


def test_a_second_booking_of_the_same_dose_is_refused(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    day = today() + dt.timedelta(days=5)
    world.slot(day, 10)
    world.slot(day, 11)
    chat = chat_factory("U600")
    ticket = world.resident()
    link(chat, ticket)
    sites = chat.say("予約する")
    times = chat.tap(chat.tap(sites, "日南市文化センター"), f"{day.month}月{day.day}日")
    chat.tap(chat.postback(_slot_data(times, "10:00")), "予約を確定する")
    # A second time tapped from the same (old) carousel: the core refuses it.
    answer = chat.postback(_slot_data(times, "11:00"))
    held = Reservation.objects.get(ticket=ticket)
    # The core's already_booked sentence, naming the booking the resident holds.
    assert f"この回の予約はすでにあります（予約番号 {held.code}）" in texts(answer)
    assert find_action(answer, "予約確認")
    # Starting over says so before offering anything.
    assert "すでに予約があります" in texts(chat.say("予約する"))
    assert Reservation.objects.count() == 1


def test_a_change_after_the_deadline_points_to_the_call_centre(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    day = today() + dt.timedelta(days=1)
    world.slot(day, 10, change_closes=2)
    chat = chat_factory("U700")
    link(chat, world.resident())
    chat.tap(book(chat, day=day, time_label="10:00"), "予約を確定する")
    question = chat.tap(chat.say("予約確認"), "キャンセル")
    answer = chat.tap(question, "キャンセルする")
    assert "受付期限を過ぎています" in texts(answer) and "0987-00-0000" in texts(answer)
    assert Reservation.objects.get().status == Reservation.Status.CONFIRMED


def test_wrong_birth_dates_are_limited_like_the_web(
    chat_factory: Callable[[str], Chat], world: World, settings: Any
) -> None:
    settings.CREDENTIALS_TICKET_FAILURE_LIMIT = 3
    ticket = world.resident(dt.date(1950, 4, 1))
    chat = chat_factory("U800")
    chat.follow()
    for left in (2, 1):
        chat.say(ticket.number)
        answer = texts(chat.say("1950年4月2日"))
        assert "正しくありません" in answer
        assert f"あと{left}回間違えると、この接種券番号は15分間ロックされます。" in answer
    chat.say(ticket.number)
    # The third wrong try locks the number: the chat says until when and offers the menu.
    answer = texts(chat.say("1950年4月2日"))
    assert "15分間ロックしました" in answer and "0987-00-0000" in answer
    assert "接種券番号」（10桁）を送ってください" not in answer
    chat.say("予約する")
    chat.say(ticket.number)
    answer = texts(chat.say("1950年4月1日"))  # right, but the ticket is locked for now
    assert "この接種券番号での確認に続けて失敗したため" in answer and "以降（約" in answer
    assert not LineLink.objects.exists()


def test_bad_input_gets_the_identifier_message(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    chat = chat_factory("U900")
    chat.follow()
    assert "10桁" in texts(chat.say("12345"))
    chat.say("0000000001")
    assert "生年月日" in texts(chat.say("あした"))


def test_a_family_shares_one_line_account(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    day = today() + dt.timedelta(days=5)
    world.slot(day, 10)
    mother = world.resident(dt.date(1940, 1, 1), name="日南 母")
    father = world.resident(dt.date(1941, 2, 2), name="日南 父")
    chat = chat_factory("U1000")
    link(chat, mother)
    link(chat, father, first=False)
    who = chat.say("予約する")
    assert {"日南 母", "日南 父"} <= {a["label"] for a in actions(who)}
    sites = chat.tap(who, "日南 父")
    times = chat.tap(chat.tap(sites, "日南市文化センター"), f"{day.month}月{day.day}日")
    chat.tap(chat.postback(_slot_data(times, "10:00")), "予約を確定する")
    assert Reservation.objects.get().resident == father.resident
    from channels.line.outbound import line_user_id_for

    assert line_user_id_for(resident_id=mother.resident_id) == "U1000"
    assert line_user_id_for(resident_id=father.resident_id) == "U1000"


def test_postback_data_is_checked_never_trusted(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    day = today() + dt.timedelta(days=5)
    slot = world.slot(day, 10)
    stranger = world.resident(name="他人")
    from reservations.services.booking import reservation_book

    theirs = reservation_book(ticket=stranger, slot=slot, requester=world.web)
    chat = chat_factory("U1100")
    link(chat, world.resident())
    for forged in (
        f"a=cancel&r={theirs.pk}",
        f"a=cancel_yes&r={theirs.pk}",
        "a=slot&l=999&t=1",
        "a=nope",
        "x" * 50,
    ):
        answer = chat.postback(forged)
        assert "使え" in texts(answer)
    theirs.refresh_from_db()
    assert theirs.status == Reservation.Status.CONFIRMED


def test_the_date_picker_answer_is_used(chat_factory: Callable[[str], Chat], world: World) -> None:
    day = today() + dt.timedelta(days=7)
    world.slot(day, 9)
    chat = chat_factory("U1200")
    link(chat, world.resident())
    dates = chat.tap(chat.say("予約する"), "日南市文化センター")
    picker = find_action(dates, "カレンダー")
    assert picker["type"] == "datetimepicker" and picker["mode"] == "date"
    times = chat.postback(picker["data"], params={"date": day.isoformat()})
    assert _slot_data(times, "09:00")


def test_an_idle_conversation_expires_and_releases_the_hold(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    from channels.line.models import LineAccount

    day = today() + dt.timedelta(days=5)
    world.slot(day, 10)
    chat = chat_factory("U1300")
    link(chat, world.resident())
    held = book(chat, day=day, time_label="10:00")
    LineAccount.objects.filter(line_user_id="U1300").update(
        step_changed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    )
    answer = chat.tap(held, "予約を確定する")
    assert "最初からやり直してください" in texts(answer)
    assert Reservation.objects.get().status == Reservation.Status.CANCELLED


def test_inquiry_and_unknown_text_show_the_menu(
    chat_factory: Callable[[str], Chat], world: World
) -> None:
    chat = chat_factory("U1400")
    link(chat, world.resident())
    assert "0987-00-0000" in texts(chat.say("問い合わせ"))
    answer = chat.say("こんにちは")
    assert {"予約する", "予約確認", "キャンセル", "問い合わせ"} <= {
        a["label"] for a in actions(answer)
    }
