"""Every opening of a resident's record and every change is audited; supervisors see it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from channels.phone.models import RecordAccess
from reservations import roles
from reservations.models import Reservation
from reservations.services.booking import reservation_book
from tests.channels.phone.conftest import in_days, staff_user
from tests.world import World, jst

pytestmark = pytest.mark.django_db


def actions(resident_id: int) -> list[str]:
    return list(
        RecordAccess.objects.filter(resident_id=resident_id)
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_opening_and_every_change_leave_an_audit_row(
    phone_world: World, operator_client: Client
) -> None:
    slot, later = phone_world.slot(in_days(5), 10), phone_world.slot(in_days(6), 10)
    ticket = phone_world.resident()
    rid = ticket.resident_id
    operator_client.get("/phone/", {"q": ticket.number})
    operator_client.get(f"/phone/r/{rid}/")
    operator_client.post(f"/phone/r/{rid}/book/", {"slot": str(slot.pk), "key": "a"})
    booked = Reservation.objects.get(resident_id=rid)
    operator_client.post(f"/phone/r/{rid}/change/{booked.pk}/", {"slot": str(later.pk)})
    operator_client.post(f"/phone/r/{rid}/cancel/{booked.pk}/")
    operator_client.post(f"/phone/r/{rid}/contact/", {"phone": "090-2222-3333", "sms_consent": "1"})
    operator_client.post(f"/phone/r/{rid}/book/", {"slot": str(slot.pk), "key": "b"})
    assert actions(rid) == [
        "viewed",
        "booked",
        "changed",
        "cancelled",
        "contact",
        "booked",
    ]
    rows = RecordAccess.objects.filter(resident_id=rid)
    assert {r.user_id for r in rows} == {phone_world.operator.pk}
    assert all(r.call_id is not None for r in rows)
    assert rows.get(action="changed").detail["to_slot"] == later.pk


def test_a_refused_action_is_audited_with_its_code_and_sentence(
    phone_world: World, operator_client: Client
) -> None:
    slot = phone_world.slot(in_days(5), capacity=1)
    reservation_book(ticket=phone_world.resident(), slot=slot, requester=phone_world.phone())
    ticket = phone_world.resident(name="日南 次郎")
    operator_client.post(f"/phone/r/{ticket.resident_id}/book/", {"slot": str(slot.pk), "key": "r"})
    row = RecordAccess.objects.get(resident_id=ticket.resident_id)
    assert (row.action, row.detail) == (
        "refused",
        {
            "code": "slot_full",
            # The sentence the operator saw, kept for the audit page.
            "message": "申し訳ありません。この時間は満席になりました。別の時間をお選びください。",
        },
    )


def test_supervisors_see_the_audit_and_operators_do_not(
    phone_world: World, operator_client: Client, supervisor: User, client: Client
) -> None:
    ticket = phone_world.resident()
    operator_client.get(f"/phone/r/{ticket.resident_id}/")
    assert operator_client.get("/phone/audit/").status_code == 403
    supervisor_client = Client()
    supervisor_client.force_login(supervisor)
    text = supervisor_client.get("/phone/audit/", {"resident": ticket.resident_id}).content.decode()
    assert "operator" in text and "閲覧" in text and "日南 花子" in text


def supervisor_page(supervisor: User, query: dict[str, Any]) -> str:
    client = Client()
    client.force_login(supervisor)
    response = client.get("/phone/audit/", query)
    assert response.status_code == 200
    return response.content.decode()


def spoken(code: str) -> str:
    return f"{code[:3]}-{code[3:6]}-{code[6:]}"


def test_the_details_read_as_words_not_data(
    phone_world: World, operator_client: Client, supervisor: User
) -> None:
    slot, later = phone_world.slot(in_days(5), 10), phone_world.slot(in_days(6), 11, 30)
    full = phone_world.slot(in_days(7), 9, capacity=1)
    reservation_book(ticket=phone_world.resident(name="先客"), slot=full, requester=phone_world.web)
    ticket = phone_world.resident()
    rid = ticket.resident_id
    operator_client.post(f"/phone/r/{rid}/book/", {"slot": str(slot.pk), "key": "a"})
    booked = Reservation.objects.get(resident_id=rid)
    operator_client.post(f"/phone/r/{rid}/change/{booked.pk}/", {"slot": str(later.pk)})
    other = phone_world.resident(name="日南 次郎")
    operator_client.post(f"/phone/r/{other.resident_id}/book/", {"slot": str(full.pk), "key": "b"})
    operator_client.post(f"/phone/r/{rid}/contact/", {"phone": "090-2222-3333", "sms_consent": "1"})
    text = supervisor_page(supervisor, {})
    five, six = in_days(5), in_days(6)
    assert (
        f"予約番号 {spoken(booked.code)}、{five.year}年{five.month}月{five.day}日" in text
        and "10:00 日南市文化センター" in text
    )
    assert "11:30 日南市文化センター（" in text and " → " in text  # the change, old → new
    assert f"{six.year}年{six.month}月{six.day}日" in text
    assert "理由：申し訳ありません。この時間は満席になりました。" in text
    assert "変更した項目：電話番号<" in text  # the phone changed; SMS consent stayed
    # No stored data shown raw: no dict, no ids, no error codes.
    assert "{&#x27;" not in text and "slot_full" not in text and "&#x27;slot&#x27;" not in text


def test_rows_kept_with_only_an_error_code_are_explained_too(
    phone_world: World, supervisor: User
) -> None:
    ticket = phone_world.resident()
    RecordAccess.objects.create(
        user=phone_world.operator,
        resident=ticket.resident,
        action="refused",
        detail={"code": "slot_full"},
        at=timezone.now(),
    )
    RecordAccess.objects.create(
        user=phone_world.operator,
        resident=ticket.resident,
        action="unlocked",
        detail={"ticket": ticket.pk, "cleared": True},
        at=timezone.now(),
    )
    text = supervisor_page(supervisor, {})
    assert "理由：申し訳ありません。この時間は満席になりました。" in text
    assert f"接種券番号 {ticket.number}、ロックを解除しました" in text


def test_the_audit_is_filtered_by_staff_ticket_action_and_days(
    phone_world: World, supervisor: User
) -> None:
    first, second = phone_world.resident(), phone_world.resident(name="日南 次郎")
    other_operator = staff_user("operator2", roles.OPERATORS)
    rows = [
        (phone_world.operator, first, "viewed", jst(2026, 10, 20, 9)),
        (phone_world.operator, second, "viewed", jst(2026, 10, 25, 9)),
        (other_operator, first, "booked", jst(2026, 10, 30, 9)),
    ]
    for user, ticket, action, at in rows:
        RecordAccess.objects.create(user=user, resident=ticket.resident, action=action, at=at)

    def listed(query: dict[str, Any]) -> int:
        text = supervisor_page(supervisor, query)
        return text.count('<td class="detail">')

    assert listed({}) == 3
    assert listed({"user": other_operator.pk}) == 1
    # The ticket number as it is printed or read out, hyphen and full-width digits included.
    typed = first.number[:4] + "－" + first.number[4:]
    assert listed({"ticket": typed.translate({c: c + 0xFEE0 for c in range(48, 58)})}) == 2
    assert listed({"action": "viewed"}) == 2
    assert listed({"date_from": "2026-10-21", "date_to": "2026-10-25"}) == 1
    assert listed({"date_from": "R8.10.26"}) == 1
    # The staff filter lists who appears in the trail, by name.
    text = supervisor_page(supervisor, {})
    assert re.search(r'<option value="\d+">operator2</option>', text)


def test_bad_filters_are_explained_and_the_others_still_apply(
    phone_world: World, supervisor: User
) -> None:
    ticket = phone_world.resident()
    RecordAccess.objects.create(
        user=phone_world.operator, resident=ticket.resident, action="viewed", at=timezone.now()
    )
    text = supervisor_page(
        supervisor,
        {"ticket": "12", "user": "999999", "action": "drop", "date_from": "2026-13-45"},
    )
    assert "接種券番号は10桁の数字で入力してください" in text
    assert text.count('class="error"') == 4
    assert text.count('<td class="detail">') == 1
    text = supervisor_page(supervisor, {"date_from": "2026-11-02", "date_to": "2026-11-01"})
    assert "終了日は開始日以降にしてください" in text


def test_the_audit_is_paged(
    phone_world: World, supervisor: User, django_assert_max_num_queries: Any
) -> None:
    ticket = phone_world.resident()
    slot = phone_world.slot(in_days(5), 10)
    RecordAccess.objects.bulk_create(
        RecordAccess(
            user=phone_world.operator,
            resident=ticket.resident,
            action="booked",
            detail={"code": "698428787", "slot": slot.pk, "next_dose": None},
            at=jst(2026, 10, 1, 9) + dt.timedelta(minutes=n),
        )
        for n in range(120)
    )
    client = Client()
    client.force_login(supervisor)
    # However many rows, a page costs the same few queries (the details are read in bulk).
    with django_assert_max_num_queries(16):
        first = client.get("/phone/audit/", {"action": "booked"}).content.decode()
    assert first.count('<td class="detail">') == 50 and "1 / 3 ページ" in first
    assert "?action=booked&amp;page=2" in first and "予約番号 698-428-787" in first
    last = client.get("/phone/audit/", {"action": "booked", "page": "3"}).content.decode()
    assert last.count('<td class="detail">') == 20
    beyond = client.get("/phone/audit/", {"page": "99"}).content.decode()
    assert beyond.count('<td class="detail">') == 20  # the last page
