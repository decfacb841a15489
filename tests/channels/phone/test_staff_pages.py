"""The shared staff layout (reservations/templates/staff/base.html): each role sees the areas it
may use, its name and a sign-out; the 403 and 404 pages say what happened in words and lead
back to the user's own area; signing out and in again lands each role on its area."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from reservations import roles
from reservations.staff_areas import staff_areas, staff_home_url
from tests.channels.phone.conftest import staff_user
from tests.world import World

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def areas(user: User) -> list[tuple[str, str]]:
    return [(area.key, area.url) for area in staff_areas(user)]


def test_each_role_sees_the_areas_it_may_use(phone_world: World, manager: User) -> None:
    assert areas(phone_world.operator) == [("phone", "/phone/")]
    # Venue staff book walk-ins on a resident's behalf at the venue; the call-centre console
    # is not theirs.
    desk = staff_user("desk", roles.VENUE_STAFF)
    assert areas(desk) == [("venue", "/venue/")]
    assert staff_home_url(desk) == "/venue/"
    clerk = staff_user("clerk", roles.EXPORTERS)
    assert areas(clerk) == [("exports", "/exports/")]
    # A manager's 電話受付 is the dashboard (no console rights); the admin holds their events.
    assert areas(manager) == [("phone", "/phone/dashboard/"), ("admin", "/admin/")]
    assert staff_home_url(manager) == "/phone/dashboard/"
    chief = staff_user("chief", roles.ADMINISTRATORS)
    assert [key for key, _url in areas(chief)] == ["phone", "venue", "exports", "admin"]
    nobody = User.objects.create_user("resident-like", password="x")
    assert areas(nobody) == [] and staff_home_url(nobody) == "/"


@pytest.mark.parametrize(
    ("group", "url", "current"),
    [
        (roles.EXPORTERS, "/exports/", "出力・突合"),
        (roles.VENUE_STAFF, "/venue/", "会場"),
        (roles.OPERATORS, "/phone/", "電話受付"),
    ],
)
def test_every_staff_area_has_the_navigation_the_name_and_a_sign_out(
    phone_world: World, group: str, url: str, current: str
) -> None:
    user = staff_user("staff-member", group)
    user.first_name, user.last_name = "花子", "窓口"
    user.save()
    text = signed_in(user).get(url).content.decode()
    assert re.search(rf'<a href="{url}" aria-current="page">{current}</a>', text)
    assert "ログイン中:</span> 花子 窓口" in text
    form = re.search(
        r'<form class="staff-user" method="post" action="([^"]+)">(.*?)</form>', text, re.S
    )
    assert form is not None and form[1] == "/phone/logout/"
    assert 'name="csrfmiddlewaretoken"' in form[2] and "ログアウト" in form[2]
    # Each area keeps its own stylesheet after the shared one.
    assert text.index("staff/staff.css") < text.index(
        {"/exports/": "exports.css", "/venue/": "venue.css", "/phone/": "console.css"}[url]
    )


def test_signing_out_ends_the_session_and_signing_in_lands_on_the_users_area(
    phone_world: World,
) -> None:
    desk = staff_user("desk", roles.VENUE_STAFF)
    desk.set_password("a long venue passphrase")
    desk.save()
    client = signed_in(desk)
    response = client.post("/phone/logout/")
    assert response.status_code == 302 and response["Location"] == "/phone/login/"
    assert client.get("/venue/").status_code == 302  # signed out
    response = client.post(
        "/phone/login/", {"username": "desk", "password": "a long venue passphrase"}
    )
    assert response.status_code == 302 and response["Location"] == "/venue/"


def test_a_refusal_is_a_page_in_words_with_a_way_back(phone_world: World) -> None:
    response = signed_in(phone_world.operator).get("/phone/dashboard/")
    assert response.status_code == 403
    text = response.content.decode()
    assert "<h1>このページを開く権限がありません</h1>" in text
    assert "ログイン中のアカウント（operator）には、このページを使う権限がありません" in text
    assert '<p class="way-back"><a href="/phone/">電話受付の画面に戻る</a>' in text
    assert 'aria-label="業務の切り替え"' in text and "ログアウト" in text  # the staff layout
    assert "403 Forbidden" not in text


def test_a_refusal_follows_the_users_language(phone_world: World) -> None:
    client = signed_in(phone_world.operator)
    text = client.get("/phone/dashboard/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in text


def test_a_missing_page_for_staff_leads_back_to_their_area(phone_world: World) -> None:
    clerk = staff_user("clerk", roles.EXPORTERS)
    response = signed_in(clerk).get("/exports/no-such-page/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "<h1>ページが見つかりません</h1>" in text
    assert '<p class="way-back"><a href="/exports/">出力・突合の画面に戻る</a>' in text
    response = signed_in(phone_world.operator).get("/phone/r/999999/")
    assert response.status_code == 404 and 'href="/phone/"' in response.content.decode()


def test_residents_get_the_resident_style_pages(phone_world: World, client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "ページが見つかりません" in text and "トップページに戻る" in text
    assert "web/web.css" in text and "staff/staff.css" not in text
    # Someone signed in without any staff rights (not staff) is refused the same way.
    someone = User.objects.create_user("someone", password="x")
    response = signed_in(someone).get("/phone/")
    assert response.status_code == 403
    text = response.content.decode()
    assert "このページは表示できません" in text and 'href="/"' in text
    assert "staff/staff.css" not in text
