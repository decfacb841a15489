"""Every opening of a resident's record and every change is audited; supervisors see it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from channels.phone.models import RecordAccess
from reservations.models import Reservation
from reservations.services.booking import reservation_book
from tests.channels.phone.conftest import in_days
from tests.world import World

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


def test_a_refused_action_is_audited_with_its_code(
    phone_world: World, operator_client: Client
) -> None:
    slot = phone_world.slot(in_days(5), capacity=1)
    reservation_book(ticket=phone_world.resident(), slot=slot, requester=phone_world.phone())
    ticket = phone_world.resident(name="日南 次郎")
    operator_client.post(f"/phone/r/{ticket.resident_id}/book/", {"slot": str(slot.pk), "key": "r"})
    row = RecordAccess.objects.get(resident_id=ticket.resident_id)
    assert (row.action, row.detail) == ("refused", {"code": "slot_full"})


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
