"""`manage.py staff_add` and reservations.services.staff: creating and updating staff accounts."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from reservations import roles
from reservations.models import Site, StaffAssignment
from reservations.services.staff import StaffAccountError, staff_account_save
from reservations.staff_scope import staff_scope
from tests.world import World

PASSWORD = "kuroshio-桜-2026"  # noqa: S105


@pytest.fixture(autouse=True)
def _no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest may run attached to a terminal; the command must not wait for a typed password.
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.delenv("STAFF_PASSWORD", raising=False)


def staff_add(*args: str, password: str | None = PASSWORD, **env: Any) -> str:
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        if password is not None:
            patch.setenv("STAFF_PASSWORD", password)
        call_command("staff_add", *args, stdout=out)
    return out.getvalue()


def assignments(user: User) -> set[tuple[str, str | None]]:
    return {
        (a.municipality.code, a.site.name if a.site else None)
        for a in StaffAssignment.objects.filter(user=user).select_related("municipality", "site")
    }


def test_it_creates_a_staff_account_with_its_role_and_municipality(world: World) -> None:
    out = staff_add("tanaka", "--role", "venue", "--municipality", "452041")

    user = User.objects.get(username="tanaka")
    assert user.is_staff and user.is_active and not user.is_superuser
    assert user.check_password(PASSWORD)
    assert list(user.groups.values_list("name", flat=True)) == [roles.VENUE_STAFF]
    assert assignments(user) == {("452041", None)}
    assert "tanaka" in out and "作成しました" in out
    assert user.has_perm("reservations.add_vaccination")


def test_it_assigns_several_municipalities_typed_in_full_width(world: World) -> None:
    neighbour = world.neighbour()
    staff_add(
        "suzuki",
        "--role",
        "supervisor",
        "--municipality",
        "４５２０４１",
        "--municipality",
        "452025",
    )

    user = User.objects.get(username="suzuki")
    assert assignments(user) == {("452041", None), ("452025", None)}
    assert staff_scope(user).covers_municipality(neighbour.municipality.pk)


def test_updating_changes_role_assignments_and_password(world: World) -> None:
    world.neighbour()
    staff_add("sato", "--role", "operator", "--municipality", "452041")

    out = staff_add(
        "sato", "--role", "manager", "--municipality", "452025", password="another-桜-passphrase"
    )

    user = User.objects.get(username="sato")
    assert list(user.groups.values_list("name", flat=True)) == [roles.CALL_MANAGERS]
    assert assignments(user) == {("452025", None)}
    assert user.check_password("another-桜-passphrase")
    assert "更新しました" in out
    assert User.objects.filter(username="sato").count() == 1


def test_updating_without_a_password_keeps_the_old_one(world: World) -> None:
    staff_add("sato", "--role", "operator", "--municipality", "452041")

    out = staff_add("sato", "--role", "venue", "--municipality", "452041", password=None)

    user = User.objects.get(username="sato")
    assert user.check_password(PASSWORD)
    assert list(user.groups.values_list("name", flat=True)) == [roles.VENUE_STAFF]
    assert "パスワードは変更していません" in out


def test_updating_keeps_groups_that_are_not_roles(world: World) -> None:
    staff_add("sato", "--role", "operator", "--municipality", "452041")
    user = User.objects.get(username="sato")
    other = Group.objects.create(name="広報")
    user.groups.add(other)

    staff_add("sato", "--role", "exporter", "--municipality", "452041")

    assert set(user.groups.values_list("name", flat=True)) == {"広報", roles.EXPORTERS}


def test_site_assignment_by_name_and_part_of_a_name(world: World) -> None:
    clinic = Site.objects.create(
        municipality=world.municipality, name="油津みなと内科クリニック", short_name="油津内科"
    )
    staff_add("clinic", "--role", "venue", "--municipality", "452041", "--site", "油津内科")
    user = User.objects.get(username="clinic")
    assert assignments(user) == {("452041", clinic.name)}
    scope = staff_scope(user)
    assert scope.covers_site(clinic) and not scope.covers_site(world.site)

    staff_add("clinic", "--role", "venue", "--municipality", "452041", "--site", "文化センター")
    assert assignments(User.objects.get(username="clinic")) == {("452041", world.site.name)}


def test_a_site_name_matching_several_sites_names_the_candidates(world: World) -> None:
    Site.objects.create(municipality=world.municipality, name="日南市保健センター")

    with pytest.raises(CommandError) as refused:
        staff_add("clinic", "--role", "venue", "--municipality", "452041", "--site", "日南市")

    assert "複数" in str(refused.value)
    assert "日南市保健センター" in str(refused.value)
    assert "日南市文化センター" in str(refused.value)
    assert not User.objects.filter(username="clinic").exists()


def test_a_site_of_another_municipality_is_refused(world: World) -> None:
    neighbour = world.neighbour()

    with pytest.raises(CommandError) as refused:
        staff_add(
            "clinic", "--role", "venue", "--municipality", "452041", "--site", neighbour.site.name
        )

    # The candidates are the given municipality's own sites, never the other city's.
    assert world.site.name in str(refused.value)
    assert not User.objects.filter(username="clinic").exists()


def test_a_municipality_without_a_named_site_is_refused(world: World) -> None:
    world.neighbour()

    with pytest.raises(CommandError) as refused:
        staff_add(
            "clinic",
            "--role",
            "venue",
            "--municipality",
            "452041",
            "--municipality",
            "452025",
            "--site",
            world.site.name,
        )

    assert "452025" in str(refused.value)
    assert not User.objects.filter(username="clinic").exists()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("45204", "6桁"),  # too short
        ("452042", "452042"),  # wrong check digit
        ("131016", "登録されていません"),  # a real code (千代田区), not served here
    ],
)
def test_bad_municipality_codes_are_refused_in_japanese(
    world: World, code: str, expected: str
) -> None:
    with pytest.raises(CommandError) as refused:
        staff_add("tanaka", "--role", "operator", "--municipality", code)

    assert expected in str(refused.value)
    assert not User.objects.filter(username="tanaka").exists()


def test_an_update_refused_changes_nothing(world: World) -> None:
    staff_add("sato", "--role", "operator", "--municipality", "452041")

    with pytest.raises(CommandError):
        staff_add("sato", "--role", "admin", "--municipality", "452041", "--municipality", "131016")

    user = User.objects.get(username="sato")
    assert list(user.groups.values_list("name", flat=True)) == [roles.OPERATORS]
    assert assignments(user) == {("452041", None)}


def test_a_weak_password_is_refused_by_django_validators(world: World) -> None:
    with pytest.raises(CommandError) as refused:
        staff_add("tanaka", "--role", "operator", "--municipality", "452041", password="12345")

    assert "パスワード" in str(refused.value)
    assert not User.objects.filter(username="tanaka").exists()


def test_a_new_account_without_password_or_terminal_is_refused(world: World) -> None:
    with pytest.raises(CommandError) as refused:
        staff_add("tanaka", "--role", "operator", "--municipality", "452041", password=None)

    assert "STAFF_PASSWORD" in str(refused.value)
    assert not User.objects.filter(username="tanaka").exists()


def test_the_password_is_asked_for_at_a_terminal(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

    staff_add("tanaka", "--role", "operator", "--municipality", "452041", password=None)

    assert User.objects.get(username="tanaka").check_password(PASSWORD)


def test_the_service_refuses_an_unknown_role(world: World) -> None:
    with pytest.raises(StaffAccountError):
        staff_account_save(
            username="tanaka", role="root", municipality_codes=["452041"], password=PASSWORD
        )


@pytest.mark.parametrize(
    ("role", "owes_enrolment"), [("admin", True), ("exporter", True), ("operator", False)]
)
def test_administrators_and_exporters_enrol_a_second_factor_at_first_sign_in(
    world: World, role: str, owes_enrolment: bool
) -> None:
    staff_add("tanaka", "--role", role, "--municipality", "452041")
    client = Client()

    response = client.post(reverse("phone:login"), {"username": "tanaka", "password": PASSWORD})

    assert response.status_code == 302
    code_page = reverse("phone:second_factor")
    if owes_enrolment:
        # The code page, which sends an account with no confirmed device on to enrol.
        assert response["Location"].startswith(code_page)
        onward = client.get(response["Location"])
        assert onward.status_code == 302
        assert onward["Location"].startswith(reverse("phone:second_factor_enrol"))
        # Until enrolled, no staff page opens.
        assert client.get(reverse("venue:home"))["Location"].startswith(code_page)
    else:
        assert not response["Location"].startswith(code_page)
        assert client.get(reverse("phone:home")).status_code == 200
