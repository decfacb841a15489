"""One staff sign-in for /phone/, /venue/, /exports/ and /admin/: one failure limit by username
and by client (django-axes, channels/phone/sign_in.py) that no door bypasses, its lockout page,
and the idle timeout (channels/phone/middleware.py) that leaves residents alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.formats import date_format

from channels.phone.middleware import LAST_SEEN_KEY
from channels.phone.sign_in import UNREADABLE_CLIENT, client_ip_address
from tests.channels.web.conftest import sign_in as resident_sign_in
from tests.world import World

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
LOCKED = "ログインを停止しています"


@pytest.fixture
def staff(phone_world: World) -> User:
    user = phone_world.operator
    user.set_password(PASSWORD)
    user.save()
    return user


def post_sign_in(
    client: Client,
    password: str,
    *,
    username: str = "operator",
    path: str = "/phone/login/",
    **extra: Any,
) -> Any:
    return client.post(path, {"username": username, "password": password}, **extra)


def lock_by_username(client: Client) -> None:
    """Five wrong passwords for "operator", each from its own address (only the name locks)."""
    for attempt in range(5):
        post_sign_in(client, "wrong", REMOTE_ADDR=f"192.0.2.{attempt + 1}")


# --- One limit at every door --------------------------------------------------------------------


def test_a_username_locked_at_the_console_gets_no_way_in_through_the_admin(
    staff: User, client: Client
) -> None:
    lock_by_username(client)
    through_admin = post_sign_in(client, PASSWORD, path="/admin/login/?next=/admin/")
    assert through_admin.status_code == 302
    assert through_admin["Location"] == "/phone/login/?next=/admin/"
    assert client.get("/admin/").status_code == 302  # not signed in
    # Where the admin sends it, the right password meets the same lock.
    assert post_sign_in(client, PASSWORD).status_code == 429


def test_failures_at_djangos_own_admin_login_count_for_the_console_too(
    staff: User, client: Client
) -> None:
    """Django's admin login view (behind the redirect) authenticates through the same axes
    backend: failures there lock the console's sign-in as well."""
    factory = RequestFactory()
    for attempt in range(5):
        request = factory.post(
            "/admin/login/",
            {"username": "operator", "password": "wrong"},
            REMOTE_ADDR=f"192.0.2.{attempt + 1}",
        )
        request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        request.session = SessionStore()
        request.user = AnonymousUser()
        admin.site.login(request).render()  # type: ignore[attr-defined]
    assert post_sign_in(client, PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 429


def test_a_client_address_locks_whatever_usernames_it_tries(
    staff: User, client: Client, settings: Any
) -> None:
    settings.STAFF_LOGIN_CLIENT_FAILURE_LIMIT = 8
    for attempt in range(7):
        response = post_sign_in(client, "wrong", username=f"guess{attempt}")
        assert response.status_code == 200, attempt  # the form again, with its error
    response = post_sign_in(client, "wrong", username="guess7")
    assert response.status_code == 429
    # A real account, right password, same address: refused.
    assert post_sign_in(client, PASSWORD).status_code == 429
    # The same account from another address signs in.
    assert post_sign_in(client, PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302


def test_an_office_signing_in_from_one_address_is_not_locked_by_a_few_typos(
    staff: User, client: Client
) -> None:
    # Opening day, 9:00: a floor of operators behind one address; five of them mistype once.
    for attempt in range(5):
        assert post_sign_in(client, "wrong", username=f"op{attempt}").status_code == 200
    assert post_sign_in(client, PASSWORD).status_code == 302


def test_behind_a_proxy_clients_are_told_apart_by_the_address_it_forwards(
    staff: User, client: Client, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = 1
    settings.STAFF_LOGIN_CLIENT_FAILURE_LIMIT = 5
    for attempt in range(5):
        post_sign_in(
            client, "wrong", username=f"guess{attempt}", HTTP_X_FORWARDED_FOR="203.0.113.5"
        )
    # Same proxy (REMOTE_ADDR), another client behind it: not locked.
    assert post_sign_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 302
    client.post("/phone/logout/")
    assert post_sign_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    factory = RequestFactory()
    one = client_ip_address(factory.get("/", REMOTE_ADDR="2001:db8:1:2::10"))
    same_network = client_ip_address(factory.get("/", REMOTE_ADDR="2001:db8:1:2:abcd::1"))
    other_network = client_ip_address(factory.get("/", REMOTE_ADDR="2001:db8:1:3::10"))
    assert one == same_network == "2001:db8:1:2::"
    assert other_network != one
    # No readable address: one shared count, never none.
    assert client_ip_address(factory.get("/", REMOTE_ADDR="")) == UNREADABLE_CLIENT


def test_the_lock_ends_after_the_cool_off(
    staff: User, client: Client, settings: Any, season_clock: time_machine.Coordinates
) -> None:
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
    for _attempt in range(5):
        post_sign_in(client, "wrong")
    season_clock.shift(dt.timedelta(minutes=14))
    assert post_sign_in(client, PASSWORD).status_code == 429
    # The refused try did not push the end further: 15 minutes after the last failure, in.
    season_clock.shift(dt.timedelta(minutes=1, seconds=2))
    assert post_sign_in(client, PASSWORD).status_code == 302


# --- The lockout page -----------------------------------------------------------------------------


def test_the_lockout_page_is_japanese_says_until_when_and_names_no_internals(
    staff: User, client: Client, settings: Any
) -> None:
    settings.STAFF_LOGIN_CLIENT_FAILURE_LIMIT = 5  # both locks at once
    for _attempt in range(4):
        post_sign_in(client, "wrong")
    response = post_sign_in(client, "wrong")
    assert response.status_code == 429
    page = response.content.decode()
    assert "このアカウントとこの接続元からのログインを停止しています" in page
    last = AccessAttempt.objects.get(username="operator").attempt_time
    until = timezone.localtime(last + dt.timedelta(minutes=15))
    assert date_format(until, "Y-m-d H:i") in page
    assert "監督者に連絡" in page
    assert 1 <= int(response["Retry-After"]) <= 15 * 60
    for internal in ("axes", "operator", "127.0.0.1", "AccessAttempt", "Traceback"):
        assert internal.lower() not in page.lower(), internal


def test_the_lockout_page_says_which_is_locked(staff: User, client: Client, settings: Any) -> None:
    settings.STAFF_LOGIN_CLIENT_FAILURE_LIMIT = 5
    lock_by_username(client)
    by_name = post_sign_in(client, PASSWORD, REMOTE_ADDR="198.51.100.1").content.decode()
    assert "このアカウントでのログインを停止しています" in by_name
    for attempt in range(5):
        response = post_sign_in(client, "wrong", username=f"guess{attempt}")
    assert "この接続元からのログインを停止しています" in response.content.decode()


# --- Idle timeout ---------------------------------------------------------------------------------


def test_staff_are_signed_out_after_the_idle_limit_and_not_before(
    staff: User, client: Client, settings: Any, season_clock: time_machine.Coordinates
) -> None:
    settings.STAFF_SESSION_IDLE_MINUTES = 30
    client.force_login(staff)
    assert client.get("/phone/").status_code == 200
    season_clock.shift(dt.timedelta(minutes=29))
    assert client.get("/phone/").status_code == 200
    # Idle time, not time since signing in: 58 minutes after it, 29 since the last page.
    season_clock.shift(dt.timedelta(minutes=29))
    assert client.get("/phone/").status_code == 200
    season_clock.shift(dt.timedelta(minutes=30, seconds=2))
    response = client.get("/phone/", follow=True)
    assert response.redirect_chain[0] == ("/phone/login/?next=/phone/", 302)
    assert "一定時間操作がなかったためログアウトしました" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_idle_admin_page_leads_to_the_staff_sign_in_with_the_notice(
    phone_world: World, manager: User, settings: Any, season_clock: time_machine.Coordinates
) -> None:
    settings.STAFF_SESSION_IDLE_MINUTES = 30
    client = Client()
    client.force_login(manager)
    assert client.get("/admin/").status_code == 200
    season_clock.shift(dt.timedelta(minutes=31))
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1] == ("/phone/login/?next=/admin/", 302)
    assert "一定時間操作がなかったためログアウトしました" in response.content.decode()


def test_a_residents_session_is_left_alone(
    world: World, client: Client, settings: Any, season_clock: time_machine.Coordinates
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    settings.STAFF_SESSION_IDLE_MINUTES = 1
    settings.WEB_SESSION_IDLE_MINUTES = 20
    url = resident_sign_in(client, world.resident())
    # Longer than the staff limit, shorter than the residents' own.
    season_clock.shift(dt.timedelta(minutes=5))
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    assert LAST_SEEN_KEY not in client.session
    assert not [q for q in captured.captured_queries if "auth_user" in q["sql"]]
