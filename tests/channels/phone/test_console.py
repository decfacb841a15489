"""The resident screen and acting for the caller: book (phone reserve, series), change,
cancel, proxy, contact details, and every core error in plain words."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from channels.phone.models import Call
from reservations.models import Municipality, Reservation, Resident, Slot, StaffAssignment, Ticket
from reservations.services.booking import reservation_book
from tests.channels.phone.conftest import in_days
from tests.world import World

pytestmark = pytest.mark.django_db


def page(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def shown(text: str) -> str:
    """The page without what only screen readers read (the slot buttons spell out what their
    numbers mean)."""
    return re.sub(r'<span class="sr">[^<]*</span>', "", text)


def follow_post(client: Client, url: str, data: dict[str, str]) -> str:
    return page(client.post(url, data, follow=True))


def test_the_console_needs_a_signed_in_operator(phone_world: World, client: Client) -> None:
    response = client.get("/phone/")
    assert response.status_code == 302
    assert response["Location"].startswith("/phone/login/")
    exporter = User.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(exporter)
    assert client.get("/phone/").status_code == 403


def test_the_resident_screen_shows_everything_for_the_call(
    phone_world: World, operator_client: Client
) -> None:
    ticket = phone_world.resident()
    slot = phone_world.slot(in_days(5), capacity=5, reserved=3)
    text = page(operator_client.get(f"/phone/r/{ticket.resident_id}/"))
    assert "日南 花子" in text and "昭和25年4月1日" in text
    assert ticket.number in text
    assert "受信可" in text  # SMS consent
    # Seats left for the phone (all 5) of 5, and the unused phone reserve 3 of 3.
    # (What the numbers mean is spelled out for screen readers only.)
    assert "5/5 (3/3)" in shown(text)
    assert '<span class="sr">、電話枠の空き</span>' in text
    assert f'value="{slot.pk}"' in text
    assert "予約できます" in text


def test_it_books_from_the_phone_reserve_that_the_web_cannot_use(
    phone_world: World, operator_client: Client
) -> None:
    slot = phone_world.slot(in_days(5), capacity=2, reserved=2)
    web_ticket, ticket = phone_world.resident(), phone_world.resident(name="日南 次郎")
    from reservations.exceptions import SlotFull

    with pytest.raises(SlotFull):
        reservation_book(ticket=web_ticket, slot=slot, requester=phone_world.web)
    operator_client.get("/phone/", {"q": ticket.number})  # starts the call
    text = follow_post(
        operator_client, f"/phone/r/{ticket.resident_id}/book/", {"slot": str(slot.pk), "key": "k1"}
    )
    assert "予約しました" in text and "予約番号" in text
    reservation = Reservation.objects.get(resident=ticket.resident)
    assert reservation.channel == "phone" and reservation.staff_seat
    assert reservation.entered_by_user == phone_world.operator
    slot.refresh_from_db()
    assert (slot.booked, slot.booked_staff) == (1, 1)
    call = Call.objects.get(operator=phone_world.operator)
    assert call.outcome == Call.Outcome.BOOKED and call.bookings_made == 1
    assert list(call.residents.all()) == [ticket.resident]
    # Another caller now sees one seat left, from the phone reserve.
    assert "1/2 (1/2)" in shown(page(operator_client.get(f"/phone/r/{web_ticket.resident_id}/")))


def test_a_double_submit_books_once(phone_world: World, operator_client: Client) -> None:
    slot = phone_world.slot(in_days(5))
    ticket = phone_world.resident()
    url = f"/phone/r/{ticket.resident_id}/book/"
    operator_client.post(url, {"slot": str(slot.pk), "key": "same-key"})
    operator_client.post(url, {"slot": str(slot.pk), "key": "same-key"})
    assert Reservation.objects.filter(resident=ticket.resident).count() == 1


def test_it_books_a_series_with_the_second_dose(
    series_world: World, operator_client: Client
) -> None:
    first = series_world.slot(in_days(5), 10)
    second = series_world.slot(in_days(5 + 21), 10)
    ticket = series_world.resident()
    text = follow_post(
        operator_client,
        f"/phone/r/{ticket.resident_id}/book/",
        {"slot": str(first.pk), "series": "1", "key": "s1"},
    )
    assert "1回目" in text and "2回目" in text
    booked = Reservation.objects.get(resident=ticket.resident, dose_number=1)
    assert booked.next_dose is not None and booked.next_dose.slot == second


def test_the_operator_can_book_one_dose_only(series_world: World, operator_client: Client) -> None:
    first = series_world.slot(in_days(5), 10)
    series_world.slot(in_days(5 + 21), 10)
    ticket = series_world.resident()
    operator_client.post(
        f"/phone/r/{ticket.resident_id}/book/", {"slot": str(first.pk), "series": "0", "key": "x"}
    )
    assert Reservation.objects.filter(resident=ticket.resident).count() == 1


def test_a_proxy_caller_and_their_relationship_are_recorded(
    phone_world: World, operator_client: Client
) -> None:
    slot = phone_world.slot(in_days(5))
    ticket = phone_world.resident()
    operator_client.get("/phone/", {"q": ticket.number})
    text = follow_post(
        operator_client,
        "/phone/call/caller/",
        {"proxy": "1", "relationship": "長男", "next": "/phone/"},
    )
    assert "代理: 長男" in text
    operator_client.post(f"/phone/r/{ticket.resident_id}/book/", {"slot": str(slot.pk), "key": "p"})
    reservation = Reservation.objects.get(resident=ticket.resident)
    assert reservation.proxy_relationship == "長男"
    assert reservation.entered_by == "operator"


def test_a_proxy_without_a_relationship_is_asked_for_it(
    phone_world: World, operator_client: Client
) -> None:
    text = follow_post(operator_client, "/phone/call/caller/", {"proxy": "1", "next": "/phone/"})
    assert "続柄を入力してください" in text


def test_a_duplicate_booking_is_warned_about_before_and_refused(
    phone_world: World, operator_client: Client
) -> None:
    slot, other = phone_world.slot(in_days(5), 10), phone_world.slot(in_days(6), 10)
    ticket = phone_world.resident()
    existing = reservation_book(ticket=ticket, slot=slot, requester=phone_world.phone())
    text = page(operator_client.get(f"/phone/r/{ticket.resident_id}/"))
    spoken = f"{existing.code[:3]}-{existing.code[3:6]}-{existing.code[6:]}"
    assert f"すでに予約があります（予約番号 {spoken}）" in text
    assert "すでに予約がある回は新たに予約できません" in text
    text = follow_post(
        operator_client, f"/phone/r/{ticket.resident_id}/book/", {"slot": str(other.pk), "key": "d"}
    )
    # The season's one dose is the booking the caller holds: the core names it.
    assert f"この回の予約はすでにあります（予約番号 {existing.code}）" in text
    assert Reservation.objects.filter(resident=ticket.resident).count() == 1


def test_a_full_slot_is_refused_in_plain_words(phone_world: World, operator_client: Client) -> None:
    slot = phone_world.slot(in_days(5), capacity=1)
    reservation_book(ticket=phone_world.resident(), slot=slot, requester=phone_world.phone())
    ticket = phone_world.resident(name="日南 次郎")
    text = follow_post(
        operator_client, f"/phone/r/{ticket.resident_id}/book/", {"slot": str(slot.pk), "key": "f"}
    )
    assert "この時間は満席になりました" in text


@pytest.mark.parametrize("slot_value", ["", "x", "0", "9" * 30])
def test_a_slot_that_is_not_one_is_asked_for_again(
    phone_world: World, operator_client: Client, slot_value: str
) -> None:
    ticket = phone_world.resident()
    text = follow_post(
        operator_client, f"/phone/r/{ticket.resident_id}/book/", {"slot": slot_value, "key": "k"}
    )
    assert "予約枠を選んでください" in text
    assert not Reservation.objects.exists()


def test_an_ineligible_resident_is_told_the_rule_and_earliest_date(
    phone_world: World, operator_client: Client
) -> None:
    slot = phone_world.slot(in_days(5))
    young = phone_world.resident(dt.date(1990, 1, 1))
    text = page(operator_client.get(f"/phone/r/{young.resident_id}/"))
    assert "予約できます" not in text
    text = follow_post(
        operator_client, f"/phone/r/{young.resident_id}/book/", {"slot": str(slot.pk), "key": "y"}
    )
    assert "対象" in text  # the eligibility rule's own sentence
    assert not Reservation.objects.filter(resident=young.resident).exists()


def test_a_day_outside_its_booking_window_is_explained(
    phone_world: World, operator_client: Client
) -> None:
    slot = phone_world.slot(in_days(40), opens=10)
    ticket = phone_world.resident()
    text = follow_post(
        operator_client, f"/phone/r/{ticket.resident_id}/book/", {"slot": str(slot.pk), "key": "w"}
    )
    assert "の予約受付は" in text and "からです" in text


def test_a_resident_without_a_valid_ticket_cannot_be_booked(
    phone_world: World, operator_client: Client
) -> None:
    slot = phone_world.slot(in_days(5))
    ticket = phone_world.resident()
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.VOID)
    text = follow_post(
        operator_client, f"/phone/r/{ticket.resident_id}/book/", {"slot": str(slot.pk), "key": "v"}
    )
    assert "有効な接種券がありません" in text


def test_it_changes_a_booking(phone_world: World, operator_client: Client) -> None:
    slot, later = phone_world.slot(in_days(5), 10), phone_world.slot(in_days(7), 14)
    ticket = phone_world.resident()
    booked = reservation_book(ticket=ticket, slot=slot, requester=phone_world.phone())
    text = page(operator_client.get(f"/phone/r/{ticket.resident_id}/", {"change": booked.pk}))
    assert f"/phone/r/{ticket.resident_id}/change/{booked.pk}/" in text
    text = follow_post(
        operator_client,
        f"/phone/r/{ticket.resident_id}/change/{booked.pk}/",
        {"slot": str(later.pk)},
    )
    assert "予約を変更しました" in text
    booked.refresh_from_db()
    assert booked.slot == later


def test_cancelling_reads_back_warns_and_then_cancels_the_series(
    series_world: World, operator_client: Client
) -> None:
    first = series_world.slot(in_days(5), 10)
    series_world.slot(in_days(26), 10)
    ticket = series_world.resident()
    booked = reservation_book(ticket=ticket, slot=first, requester=series_world.phone())
    url = f"/phone/r/{ticket.resident_id}/cancel/{booked.pk}/"
    confirm = page(operator_client.get(url))
    # The 予約番号 in threes, as it is read out.
    spoken = f"{booked.code[:3]}-{booked.code[3:6]}-{booked.code[6:]}"
    assert spoken in confirm and "元に戻せません" in confirm
    assert "2回目もあわせてキャンセル" in confirm
    assert Reservation.objects.get(pk=booked.pk).status == "confirmed"  # GET changes nothing
    text = follow_post(operator_client, url, {})
    assert "予約をキャンセルしました" in text
    statuses = set(
        Reservation.objects.filter(resident=ticket.resident).values_list("status", flat=True)
    )
    assert statuses == {"cancelled"}


def test_contact_details_are_updated_and_a_bad_number_refused(
    phone_world: World, operator_client: Client
) -> None:
    ticket = phone_world.resident()
    url = f"/phone/r/{ticket.resident_id}/contact/"
    text = follow_post(
        operator_client, url, {"phone": "０８０－１１１１－２２２２", "sms_consent": "0"}
    )
    assert "連絡先を更新しました" in text
    resident = Resident.objects.get(pk=ticket.resident_id)
    assert (resident.phone, resident.sms_consent) == ("+818011112222", False)
    text = follow_post(operator_client, url, {"phone": "12345", "sms_consent": "1"})
    assert "電話番号が正しくありません" in text
    assert Resident.objects.get(pk=ticket.resident_id).phone == "+818011112222"


def test_the_operator_sets_the_language_of_the_sms_with_the_rest_or_none_of_it(
    phone_world: World, operator_client: Client
) -> None:
    ticket = phone_world.resident()
    page_text = page(operator_client.get(f"/phone/r/{ticket.resident_id}/"))
    assert '<option value="ja" selected>日本語</option>' in page_text
    url = f"/phone/r/{ticket.resident_id}/contact/"
    form = {"phone": "080-1111-2222", "sms_consent": "1", "language": "ja-easy"}
    assert "連絡先を更新しました" in follow_post(operator_client, url, form)
    assert Resident.objects.get(pk=ticket.resident_id).preferred_language == "ja-easy"
    # An unknown language refuses the whole form: the number is not changed either.
    refused = follow_post(operator_client, url, {**form, "phone": "080-3333-4444", "language": "x"})
    assert "お知らせの言語は、一覧から選んでください。" in refused
    resident = Resident.objects.get(pk=ticket.resident_id)
    assert (resident.phone, resident.preferred_language) == ("+818011112222", "ja-easy")


def test_operators_see_only_their_municipalitys_residents(
    phone_world: World, operator_client: Client
) -> None:
    ticket = phone_world.resident()
    other = Municipality.objects.create(code="452017", name="宮崎市")
    StaffAssignment.objects.filter(user=phone_world.operator).update(municipality=other)
    assert operator_client.get(f"/phone/r/{ticket.resident_id}/").status_code == 404
    response = operator_client.post(
        f"/phone/r/{ticket.resident_id}/book/", {"slot": str(phone_world.slot(in_days(5)).pk)}
    )
    assert response.status_code == 404
    assert not Reservation.objects.exists()


def test_closing_the_call_is_one_click_with_the_outcome_suggested(
    phone_world: World, operator_client: Client
) -> None:
    slot = phone_world.slot(in_days(5))
    ticket = phone_world.resident()
    operator_client.get("/phone/", {"q": ticket.number})
    operator_client.post(f"/phone/r/{ticket.resident_id}/book/", {"slot": str(slot.pk), "key": "c"})
    text = page(operator_client.get(f"/phone/r/{ticket.resident_id}/"))
    assert 'value="booked" class="primary"' in text
    text = follow_post(
        operator_client, "/phone/call/close/", {"outcome": "booked", "notes": "娘さんから"}
    )
    assert "通話を記録しました" in text
    call = Call.objects.get()
    assert call.ended_at is not None and call.handling_seconds is not None
    assert call.purpose == Call.Purpose.BOOK and call.notes == "娘さんから"
    assert Slot.objects.get(pk=slot.pk).booked == 1


def test_a_series_without_a_second_seat_is_explained(
    series_world: World, operator_client: Client
) -> None:
    first = series_world.slot(in_days(5), 10)
    ticket = series_world.resident()
    text = follow_post(
        operator_client,
        f"/phone/r/{ticket.resident_id}/book/",
        {"slot": str(first.pk), "series": "1", "key": "n"},
    )
    assert "2回目の予約枠が見つからないため" in text
    assert not Reservation.objects.filter(resident=ticket.resident).exists()
