"""Staff see LINE links in the admin, read-only: links change only through the chat."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client

from channels.line.models import LineAccount, LineLink
from tests.world import World

pytestmark = pytest.mark.django_db


def test_links_are_listed_and_read_only(client: Client, world: World) -> None:
    ticket = world.resident()
    account = LineAccount.objects.create(line_user_id="Uadmin")
    link = LineLink.objects.create(
        account=account, resident=ticket.resident, ticket=ticket, linked_at=dt.datetime.now(dt.UTC)
    )
    client.force_login(User.objects.create_superuser("root", password="x"))
    listing = client.get("/admin/line/linelink/")
    assert listing.status_code == 200 and "日南 花子" in listing.content.decode()
    assert client.get("/admin/line/lineaccount/").status_code == 200
    assert client.get("/admin/line/linelink/add/").status_code == 403
    client.post(f"/admin/line/linelink/{link.pk}/change/", {"is_active": ""})
    link.refresh_from_db()
    assert link.is_active
