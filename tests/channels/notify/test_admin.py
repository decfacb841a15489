"""The staff screens: a broadcast is prepared by one person and approved by another."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.test import Client

from channels.notify.models import Broadcast, OutboundMessage
from reservations.models import Reservation
from tests.channels.notify.conftest import SLOT_DAY, book
from tests.world import World


def _admin(name: str) -> User:
    return User.objects.create_superuser(name, password="x")


def test_prepare_approve_and_progress(
    client: Client, world: World, now: dt.datetime, locmem_sms: list[object]
) -> None:
    book(world, world.resident(), now)
    day = world.day(SLOT_DAY)
    author, approver = _admin("author"), _admin("approver")

    client.force_login(author)
    response = client.post(
        "/admin/notify/broadcast/add/", {"operating_day": day.pk, "send_in_quiet_hours": "on"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    broadcast = Broadcast.objects.get()
    assert broadcast.created_by == author and broadcast.status == Broadcast.Status.DRAFT

    # The author cannot approve their own broadcast, whatever the screen offers.
    client.post(
        "/admin/notify/broadcast/",
        {"action": "approve", "_selected_action": [broadcast.pk]},
    )
    assert Broadcast.objects.get().status == Broadcast.Status.DRAFT
    assert Reservation.objects.filter(status="confirmed").count() == 1

    client.force_login(approver)
    client.post(
        "/admin/notify/broadcast/",
        {"action": "approve", "_selected_action": [broadcast.pk]},
    )
    assert Broadcast.objects.get().status in (Broadcast.Status.SENDING, Broadcast.Status.DONE)
    assert Reservation.objects.filter(status="confirmed").count() == 0
    page = client.get(f"/admin/notify/broadcast/{broadcast.pk}/change/").content.decode()
    assert "対象 1 件" in page


def test_call_list_is_worked_from_the_message_list(
    client: Client, world: World, now: dt.datetime
) -> None:
    from channels.notify.outbox import messages_create_for_event

    ticket = world.resident()
    ticket.resident.phone = "+81987000000"
    ticket.resident.save()
    reservation = book(world, ticket, now)
    [entry] = messages_create_for_event(event_id=reservation.events.latest("id").pk, now=now)
    operator = _admin("op")
    client.force_login(operator)
    listing = client.get("/admin/notify/outboundmessage/?channel__exact=call_list")
    assert (
        reservation.code in listing.content.decode() or "+81987000000" in listing.content.decode()
    )
    client.post(
        "/admin/notify/outboundmessage/",
        {"action": "mark_reached", "_selected_action": [entry.pk]},
    )
    entry.refresh_from_db()
    assert entry.status == OutboundMessage.Status.DELIVERED and entry.handled_by == operator
