"""Whose data a member of staff sees (reservations/staff_scope.py), and the staff bar's switch
between the municipalities of a contractor's operator."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from reservations.models import Municipality, Site, StaffAssignment
from reservations.staff_scope import forget_staff_scope, staff_scope
from tests.world import World, staff_with

pytestmark = pytest.mark.django_db


def test_staff_nobody_assigned_see_the_home_city_only_while_it_is_the_only_one(
    world: World,
) -> None:
    unassigned = User.objects.create_user("nobody", is_staff=True)
    assert staff_scope(unassigned).municipality_ids == {world.municipality.pk}
    # A municipality row alone (a visiting resident's home) changes nothing.
    visitors_home = Municipality.objects.create(code="452017", name="宮崎市")
    forget_staff_scope(unassigned)
    assert staff_scope(unassigned).municipality_ids == {world.municipality.pk}
    Site.objects.create(municipality=visitors_home, name="宮崎市の会場")
    forget_staff_scope(unassigned)
    assert staff_scope(unassigned).is_empty  # a second city served: nobody by default


def test_a_clinic_sees_its_site_and_a_whole_city_row_wins(world: World) -> None:
    clinic = Site.objects.create(municipality=world.municipality, name="油津クリニック")
    user = User.objects.create_user("clinic", is_staff=True)
    StaffAssignment.objects.create(user=user, municipality=world.municipality, site=clinic)
    scope = staff_scope(user)
    assert list(scope.sites()) == [clinic]
    assert scope.covers_municipality(world.municipality.pk)  # its residents, for walk-ins
    assert not scope.covers_site(world.site)
    StaffAssignment.objects.create(user=user, municipality=world.municipality)
    forget_staff_scope(user)
    assert set(staff_scope(user).sites()) == {clinic, world.site}


def test_a_site_of_another_city_is_refused_in_words(world: World) -> None:
    neighbour = world.neighbour()
    row = StaffAssignment(user=world.operator, municipality=world.municipality, site=neighbour.site)
    with pytest.raises(Exception, match="担当自治体の会場ではありません"):
        row.full_clean()


def test_a_superuser_sees_everything(world: World) -> None:
    world.neighbour()
    root = User.objects.create_superuser("root", password="x")
    assert staff_scope(root).everything
    assert staff_scope(root).municipalities().count() == 2


def test_the_staff_bar_switches_between_the_users_cities(world: World, client: Client) -> None:
    neighbour = world.neighbour(operator_serves_both=True)
    client.force_login(world.operator)
    console = client.get("/phone/").content.decode()
    assert 'name="municipality"' in console and "都城市" in console
    switched = client.post(
        "/staff/municipality/", {"municipality": "452025", "next": "/phone/?q=x"}
    )
    assert switched.status_code == 302 and switched["Location"] == "/phone/?q=x"
    assert client.session["staff_acting_municipality"] == neighbour.municipality.pk
    # Off the site, or a city not the user's: back to the user's own area, said in words.
    away = client.post(
        "/staff/municipality/", {"municipality": "452025", "next": "https://evil.example/"}
    )
    assert away["Location"] == "/phone/"
    refused = client.post("/staff/municipality/", {"municipality": "452017"}, follow=True)
    assert "担当していない自治体です。" in refused.content.decode()
    assert client.session["staff_acting_municipality"] == neighbour.municipality.pk


def test_staff_of_one_city_have_no_switch(world: World, client: Client) -> None:
    world.neighbour()
    client.force_login(staff_with("viewer", "use_console"))
    assert 'id="staff-municipality"' not in client.get("/phone/").content.decode()
