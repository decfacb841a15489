"""Console sign-in: Django's authentication with a database-backed lock after failures."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from channels.phone.models import StaffLoginThrottle
from tests.world import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(phone_world: World) -> User:
    user = phone_world.operator
    user.set_password("correct horse battery staple")
    user.save()
    return user


def sign_in(client: Client, password: str, username: str = "operator") -> str:
    response = client.post("/phone/login/", {"username": username, "password": password})
    return response.content.decode() if response.status_code == 200 else response["Location"]


def test_a_right_password_signs_in(staff: User, client: Client) -> None:
    assert sign_in(client, "correct horse battery staple") == "/phone/"
    assert client.get("/phone/").status_code == 200


def test_it_locks_after_repeated_failures_even_for_the_right_password(
    staff: User, client: Client, settings: object
) -> None:
    for _attempt in range(4):
        assert "正しいユーザー名とパスワード" in sign_in(client, "wrong")
    locked = sign_in(client, "wrong")
    assert "ログインを停止しています" in locked
    # The right password does not get through a lock, and says nothing about being right.
    assert "ログインを停止しています" in sign_in(client, "correct horse battery staple")
    assert client.get("/phone/").status_code == 302


def test_the_lock_is_per_username_and_case_blind(staff: User, client: Client) -> None:
    for _attempt in range(5):
        sign_in(client, "wrong", username="OPERATOR")
    assert StaffLoginThrottle.objects.get(username="operator").locked_until is not None
    other = User.objects.create_user("venue", password="another long passphrase", is_staff=True)
    assert other.pk
    # A different account is unaffected (it lacks console rights, so it gets a 403 later).
    assert sign_in(client, "another long passphrase", username="venue") == "/phone/"


def test_success_clears_earlier_failures(staff: User, client: Client) -> None:
    for _attempt in range(3):
        sign_in(client, "wrong")
    sign_in(client, "correct horse battery staple")
    assert not StaffLoginThrottle.objects.filter(username="operator").exists()


def test_the_admin_login_still_works(staff: User, client: Client) -> None:
    response = client.post(
        "/admin/login/", {"username": "operator", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
