"""Console sign-in: Django's authentication, with django-axes' lock after repeated failures."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.world import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(phone_world: World) -> User:
    user = phone_world.operator
    user.set_password("correct horse battery staple")
    user.save()
    return user


def sign_in(client: Client, password: str, username: str = "operator", address: str = "") -> str:
    """The page's text (the form again, or the lockout page) or where it redirected."""
    extra = {"REMOTE_ADDR": address} if address else {}
    response = client.post("/phone/login/", {"username": username, "password": password}, **extra)
    return response["Location"] if response.status_code == 302 else response.content.decode()


def test_a_right_password_signs_in(staff: User, client: Client) -> None:
    assert sign_in(client, "correct horse battery staple") == "/phone/"
    assert client.get("/phone/").status_code == 200


def test_it_locks_after_repeated_failures_even_for_the_right_password(
    staff: User, client: Client
) -> None:
    for _attempt in range(4):
        assert "正しいユーザー名とパスワード" in sign_in(client, "wrong")
    locked = sign_in(client, "wrong")
    assert "ログインを停止しています" in locked
    # The right password does not get through a lock, and says nothing about being right.
    assert "ログインを停止しています" in sign_in(client, "correct horse battery staple")
    assert client.get("/phone/").status_code == 302


def test_the_lock_is_per_username_and_case_blind(staff: User, client: Client) -> None:
    # Each failure from its own address, so that only the username's count reaches the limit.
    for attempt in range(5):
        sign_in(client, "wrong", username="OPERATOR", address=f"192.0.2.{attempt + 1}")
    assert "ログインを停止しています" in sign_in(
        client, "correct horse battery staple", address="198.51.100.1"
    )
    User.objects.create_user("venue", password="another long passphrase", is_staff=True)
    # A different account is unaffected (it lacks console rights, so it gets a 403 later).
    assert (
        sign_in(client, "another long passphrase", username="venue", address="198.51.100.2")
        == "/phone/"
    )


def test_a_success_does_not_clear_earlier_failures(staff: User, client: Client) -> None:
    """Failures expire with the cool-off, not with a success: a success would also clear its
    address's count, so anyone with an account could reset the guesses at another's."""
    for _attempt in range(3):
        sign_in(client, "wrong")
    assert sign_in(client, "correct horse battery staple") == "/phone/"
    client.post("/phone/logout/")
    sign_in(client, "wrong")
    assert "ログインを停止しています" in sign_in(client, "wrong")


def test_the_admin_login_sends_staff_to_the_staff_sign_in(staff: User, client: Client) -> None:
    response = client.post(
        "/admin/login/?next=/admin/reservations/site/",
        {"username": "operator", "password": "correct horse battery staple"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/phone/login/?next=/admin/reservations/site/"
    # Nobody is signed in by posting a password there.
    assert "_auth_user_id" not in client.session
