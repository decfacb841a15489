"""A ticket number locked after wrong tries on the web or in LINE is opened by the call centre
once the operator has verified the caller: the resident page says so, one button lifts it, the
audit trail records who did, and the resident can sign in again."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from channels.phone.models import RecordAccess
from reservations.exceptions import CredentialsInvalid, TooManyAttempts
from reservations.models import Ticket
from reservations.services.credentials import resident_authenticate
from tests.world import World

pytestmark = pytest.mark.django_db

NOTICE = "Web・LINEでの確認に続けて失敗したため"
BUTTON = "本人確認のうえロックを解除"


def sign_in(ticket: Ticket, born: dt.date) -> Ticket:
    return resident_authenticate(
        municipality_code="452041",
        ticket_number=ticket.number,
        birth_date=born,
        client_key="203.0.113.5",
    )


def lock(ticket: Ticket, settings: Any) -> None:
    for _try in range(settings.CREDENTIALS_TICKET_FAILURE_LIMIT):
        with pytest.raises(CredentialsInvalid):
            sign_in(ticket, dt.date(1900, 1, 1))
    with pytest.raises(TooManyAttempts):
        sign_in(ticket, ticket.resident.birth_date)


def test_the_resident_page_shows_a_lock_and_the_operator_lifts_it(
    phone_world: World, operator_client: Client, settings: Any
) -> None:
    ticket = phone_world.resident()
    page = f"/phone/r/{ticket.resident_id}/"
    # The caller is found by the ticket number they read out (a search starts the call log).
    assert operator_client.get("/phone/", {"q": ticket.number})["Location"] == page
    assert NOTICE not in operator_client.get(page).content.decode()
    lock(ticket, settings)
    shown = operator_client.get(page).content.decode()
    assert NOTICE in shown and ticket.number in shown and BUTTON in shown
    response = operator_client.post(f"/phone/r/{ticket.resident_id}/unlock/{ticket.pk}/")
    assert response.status_code == 302 and response["Location"] == page
    after = operator_client.get(page).content.decode()
    assert "のロックを解除しました" in after and NOTICE not in after
    row = RecordAccess.objects.get(action=RecordAccess.Action.UNLOCKED)
    assert (row.user_id, row.resident_id) == (phone_world.operator.pk, ticket.resident_id)
    assert row.detail == {"ticket": ticket.pk, "cleared": True}
    assert row.call_id is not None
    # The resident signs in on the web again with the right birth date.
    assert sign_in(ticket, ticket.resident.birth_date) == ticket


def test_lifting_a_lock_that_ran_out_says_so_and_is_still_audited(
    phone_world: World, operator_client: Client
) -> None:
    ticket = phone_world.resident()
    operator_client.post(f"/phone/r/{ticket.resident_id}/unlock/{ticket.pk}/")
    page = operator_client.get(f"/phone/r/{ticket.resident_id}/").content.decode()
    assert "この接種券番号はロックされていません。" in page
    row = RecordAccess.objects.get(action=RecordAccess.Action.UNLOCKED)
    assert row.detail == {"ticket": ticket.pk, "cleared": False}


def test_only_operators_lift_locks_and_only_of_their_residents(
    phone_world: World, client: Client, manager: User, settings: Any
) -> None:
    ticket = phone_world.resident()
    lock(ticket, settings)
    url = f"/phone/r/{ticket.resident_id}/unlock/{ticket.pk}/"
    assert client.post(url).status_code == 302  # to the sign-in page
    client.force_login(manager)
    assert client.post(url).status_code == 403
    client.force_login(phone_world.operator)
    assert client.get(url).status_code == 405
    # Another resident's ticket through this resident's page is not found.
    other = phone_world.resident(name="日南 次郎")
    assert client.post(f"/phone/r/{other.resident_id}/unlock/{ticket.pk}/").status_code == 404
    assert not RecordAccess.objects.filter(action=RecordAccess.Action.UNLOCKED).exists()
    with pytest.raises(TooManyAttempts):
        sign_in(ticket, ticket.resident.birth_date)


def test_a_supervisor_sees_the_unlock_in_the_audit_trail(
    phone_world: World, operator_client: Client, supervisor: User, settings: Any
) -> None:
    ticket = phone_world.resident()
    lock(ticket, settings)
    operator_client.post(f"/phone/r/{ticket.resident_id}/unlock/{ticket.pk}/")
    reader = Client()
    reader.force_login(supervisor)
    audit = reader.get("/phone/audit/", {"resident": ticket.resident_id})
    assert "本人確認のロック解除" in audit.content.decode()
