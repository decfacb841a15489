"""The call centre's permissions survive the core re-syncing its groups."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from channels.phone.roles import ensure_phone_permissions
from reservations import roles

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
