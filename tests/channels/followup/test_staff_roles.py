"""The health follow-up's two roles: their groups hold exactly the app's permissions they need,
after every migrate, and `staff_add --role health|doctor` puts a member of staff in them."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from channels.followup.apps import ensure_followup_roles, followup_role_permissions
from reservations.roles import FOLLOWUP_DOCTORS, HEALTH_CENTRE_STAFF
from tests.world import World

pytestmark = pytest.mark.django_db


def codenames(group: str) -> set[str]:
    return set(
        Group.objects.get(name=group)
        .permissions.filter(content_type__app_label="followup")
        .values_list("codename", flat=True)
    )


def test_the_groups_hold_the_roles_permissions() -> None:
    # Made by the post_migrate of the test database's migrate; again here, harmlessly.
    ensure_followup_roles()
    ensure_followup_roles()
    assert codenames(HEALTH_CENTRE_STAFF) == {
        "view_questionnaire",
        "view_question",
        "view_choice",
        "view_alertrule",
        "view_followedperson",
        "change_followedperson",
        "add_followup",
        "view_followup",
        "change_followup",
        "view_followupanswer",
        "change_followupanswer",
        "view_followupcall",
        "change_followupcall",
        "view_followupphoto",
    }
    assert codenames(FOLLOWUP_DOCTORS) == {
        "view_followup",
        "view_followedperson",
        "view_followupanswer",
        "view_followupphoto",
        "review_photo",
    }
    # Every codename named exists: a renamed permission would silently drop out otherwise.
    for group, names in followup_role_permissions().items():
        assert codenames(group) == set(names)


@pytest.mark.parametrize(
    ("role", "group", "may", "may_not"),
    [
        ("health", HEALTH_CENTRE_STAFF, "followup.change_followupanswer", "followup.review_photo"),
        ("doctor", FOLLOWUP_DOCTORS, "followup.review_photo", "followup.change_followupanswer"),
    ],
)
def test_staff_add_accepts_the_follow_up_roles(
    world: World, monkeypatch: pytest.MonkeyPatch, role: str, group: str, may: str, may_not: str
) -> None:
    ensure_followup_roles()
    monkeypatch.setenv("STAFF_PASSWORD", "kuroshio-桜-2026")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    call_command(
        "staff_add",
        f"{role}-user",
        "--role",
        role,
        "--municipality",
        "452041",
        stdout=io.StringIO(),
    )
    user = User.objects.get(username=f"{role}-user")
    assert list(user.groups.values_list("name", flat=True)) == [group]
    assert user.has_perm(may) and not user.has_perm(may_not)
    assert user.has_perm("followup.view_followup")
