"""The call centre's permissions survive the core re-syncing its groups."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from channels.phone.roles import ensure_phone_permissions
from reservations import roles
from tests.world import World

pytestmark = pytest.mark.django_db


def test_core_group_sync_keeps_the_call_centres_permissions() -> None:
    roles.ensure_staff_groups()
    ensure_phone_permissions()
    roles.ensure_staff_groups()
    supervisors = Group.objects.get(name=roles.CALL_SUPERVISORS)
    codenames = set(supervisors.permissions.values_list("codename", flat=True))
    assert {"view_audit", "view_dashboard", "book_on_behalf"} <= codenames
    managers = Group.objects.get(name=roles.CALL_MANAGERS)
    assert managers.permissions.filter(codename="view_forecast").exists()
    assert not managers.permissions.filter(codename="book_on_behalf").exists()


def test_a_core_permission_taken_away_is_removed() -> None:
    roles.ensure_staff_groups()
    operators = Group.objects.get(name=roles.OPERATORS)
    from django.contrib.auth.models import Permission

    operators.permissions.add(Permission.objects.get(codename="export_vrs"))
    roles.ensure_staff_groups()
    assert not operators.permissions.filter(codename="export_vrs").exists()


# --- Roles that fit the jobs (issue 18) ---------------------------------------------------------


def _member(name: str, group: str) -> User:
    roles.ensure_staff_groups()
    ensure_phone_permissions()
    from channels.notify.apps import _grant_notify_permissions

    _grant_notify_permissions()
    user = User.objects.create_user(name, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)  # fresh permission cache


def test_venue_staff_book_walk_ins_but_do_not_get_the_console(phone_world: World) -> None:
    desk = _member("desk", roles.VENUE_STAFF)
    assert desk.has_perm("reservations.book_on_behalf")
    client = Client()
    client.force_login(desk)
    assert client.get("/phone/").status_code == 403
    assert client.get(f"/phone/r/{phone_world.resident().resident_id}/").status_code == 403
    assert client.get("/venue/").status_code in (200, 302)


def test_exporters_do_not_browse_residents(phone_world: World) -> None:
    exporter = _member("exporter1", roles.EXPORTERS)
    assert not exporter.has_perm("reservations.view_resident")
    client = Client()
    client.force_login(exporter)
    assert client.get("/admin/reservations/resident/").status_code == 403
    assert client.get("/phone/").status_code == 403
    assert client.get("/exports/").status_code == 200


def test_operators_update_contact_in_the_console_but_do_not_edit_residents_in_the_admin(
    phone_world: World,
) -> None:
    operator = _member("op1", roles.OPERATORS)
    ticket = phone_world.resident()
    client = Client()
    client.force_login(operator)
    url = f"/admin/reservations/resident/{ticket.resident_id}/change/"
    page = client.get(url)
    assert page.status_code == 200 and 'name="name"' not in page.content.decode()  # view only
    assert client.post(url, {"name": "書き換え"}).status_code == 403
    client.post(f"/phone/r/{ticket.resident_id}/contact/", {"phone": "090-1111-2222"})
    ticket.resident.refresh_from_db()
    assert ticket.resident.phone == "+819011112222"


def test_approving_a_broadcast_belongs_to_municipal_administrators() -> None:
    administrator = _member("city-admin", roles.ADMINISTRATORS)
    operator = _member("op2", roles.OPERATORS)
    assert administrator.has_perm("notify.approve_broadcast")
    assert not operator.has_perm("notify.approve_broadcast")
    assert administrator.has_perm("phone.use_console")
