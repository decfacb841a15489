"""The staff sign-in's second factor (channels/phone/second_factor.py): administrators,
exporters and superusers (every member of staff with STAFF_OTP_REQUIRED=all) give a TOTP code
after the password, enrolling an authenticator app the first time; until then no staff page
opens. Every sign-in here goes through the real form: force_login would skip the very steps
under test."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from channels.phone.second_factor import must_use_second_factor
from reservations import roles
from reservations.staff_areas import staff_home_url
from tests.world import World

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
CODE_PAGE = "/phone/login/code/"
ENROL_PAGE = "/phone/login/enrol/"


def staff_member(username: str, group: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def exporter(phone_world: World) -> User:
    return staff_member("exporter", roles.EXPORTERS)


@pytest.fixture
def administrator(phone_world: World) -> User:
    user = staff_member("administrator", roles.ADMINISTRATORS)
    TOTPDevice.objects.create(user=user, name="認証アプリ", confirmed=True)
    return user


@pytest.fixture
def operator(phone_world: World) -> User:
    user = phone_world.operator
    user.set_password(PASSWORD)
    user.save()
    return user


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code the authenticator app shows now (or `steps_ahead` 30-second steps later: the
    device accepts one step either side, and never a step it has already accepted)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def sign_in(client: Client, username: str, next_page: str = "") -> str:
    """The password step; where it leads."""
    url = f"/phone/login/?next={next_page}" if next_page else "/phone/login/"
    response = client.post(url, {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()
    return str(response["Location"])


def path_of(location: str) -> str:
    return urlsplit(location).path


def test_an_exporter_without_a_device_enrols_then_reaches_the_exports(
    exporter: User, client: Client
) -> None:
    assert path_of(sign_in(client, "exporter")) == CODE_PAGE
    # No device yet: the code page leads to the enrolment page, still headed for the exports.
    to_enrol = client.get(CODE_PAGE + "?next=/exports/")
    assert to_enrol.status_code == 302
    assert path_of(to_enrol["Location"]) == ENROL_PAGE
    enrolment = client.get(to_enrol["Location"])
    assert enrolment.status_code == 200
    page = enrolment.content.decode()
    assert "<svg" in page and "認証アプリの設定" in page
    assert 'inputmode="numeric"' in page and 'autocomplete="one-time-code"' in page
    device = TOTPDevice.objects.get(user=exporter)
    assert device.confirmed is False
    # Reloading keeps the same secret: the app has already scanned it.
    client.get(ENROL_PAGE)
    assert TOTPDevice.objects.filter(user=exporter).count() == 1
    # Not yet verified: the exports send it back to the code page.
    blocked = client.get("/exports/")
    assert blocked.status_code == 302 and path_of(blocked["Location"]) == CODE_PAGE

    confirmed = client.post(ENROL_PAGE, {"code": code_for(device), "next": "/exports/"})

    assert confirmed.status_code == 302 and confirmed["Location"] == "/exports/"
    device.refresh_from_db()
    assert device.confirmed is True
    assert client.get("/exports/").status_code == 200


def test_a_code_typed_with_full_width_digits_is_the_same_code(
    exporter: User, client: Client
) -> None:
    sign_in(client, "exporter")
    client.get(ENROL_PAGE)
    device = TOTPDevice.objects.get(user=exporter)
    full_width = code_for(device).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert client.post(ENROL_PAGE, {"code": full_width}).status_code == 302
    assert client.get("/exports/").status_code == 200


def test_an_administrator_gives_the_code_before_the_admin_and_the_console_open(
    administrator: User, client: Client
) -> None:
    location = sign_in(client, "administrator", next_page="/admin/")
    assert path_of(location) == CODE_PAGE
    for page in ("/admin/", "/phone/", "/venue/"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert path_of(response["Location"]) == CODE_PAGE
    # A device already confirmed: the code page asks for the code, no enrolment.
    assert client.get(location).status_code == 200
    assert client.get(ENROL_PAGE)["Location"].startswith(CODE_PAGE)

    device = TOTPDevice.objects.get(user=administrator)
    verified = client.post(location, {"code": code_for(device), "next": "/admin/"})

    assert verified.status_code == 302 and verified["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/phone/").status_code == 200


def test_a_wrong_code_is_refused_in_japanese_and_repeated_tries_must_wait(
    administrator: User, client: Client
) -> None:
    sign_in(client, "administrator")
    device = TOTPDevice.objects.get(user=administrator)
    right = code_for(device)
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"

    refused = client.post(CODE_PAGE, {"code": wrong})

    assert refused.status_code == 200
    assert "確認コードが正しくありません" in refused.content.decode()
    assert client.get("/phone/").status_code == 302
    # Straight away again, even with the right code: django-otp's throttle says how long.
    throttled = client.post(CODE_PAGE, {"code": right})
    assert throttled.status_code == 429
    assert "秒後まで受け付けません" in throttled.content.decode()
    assert client.get("/phone/").status_code == 302
    not_a_code = client.post(CODE_PAGE, {"code": "12ab"})
    assert "6桁の数字を入力してください" in not_a_code.content.decode()


def test_after_the_wait_the_right_code_is_accepted(
    administrator: User, client: Client, season_clock: time_machine.Coordinates
) -> None:
    sign_in(client, "administrator")
    device = TOTPDevice.objects.get(user=administrator)
    wrong = f"{(int(code_for(device)) + 500_000) % 1_000_000:06d}"
    client.post(CODE_PAGE, {"code": wrong})
    season_clock.shift(2)  # past the one-second wait after one failure
    assert client.post(CODE_PAGE, {"code": code_for(device)}).status_code == 302
    assert client.get("/phone/").status_code == 200


def test_an_operator_signs_in_with_the_password_alone(operator: User, client: Client) -> None:
    assert sign_in(client, "operator") == "/phone/"
    assert client.get("/phone/").status_code == 200
    assert not TOTPDevice.objects.filter(user=operator).exists()


def test_with_all_staff_required_the_operator_enrols_too(
    operator: User, client: Client, settings: object
) -> None:
    settings.STAFF_OTP_REQUIRED = "all"  # type: ignore[attr-defined]
    assert path_of(sign_in(client, "operator")) == CODE_PAGE
    assert client.get("/phone/").status_code == 302
    assert path_of(client.get(CODE_PAGE)["Location"]) == ENROL_PAGE
    client.get(ENROL_PAGE)
    device = TOTPDevice.objects.get(user=operator)
    assert client.post(ENROL_PAGE, {"code": code_for(device)}).status_code == 302
    assert client.get("/phone/").status_code == 200


def test_signing_out_and_in_again_asks_for_the_code_again(
    administrator: User, client: Client
) -> None:
    sign_in(client, "administrator")
    device = TOTPDevice.objects.get(user=administrator)
    client.post(CODE_PAGE, {"code": code_for(device)})
    assert client.get("/phone/").status_code == 200

    client.post("/phone/logout/")
    assert path_of(sign_in(client, "administrator")) == CODE_PAGE

    assert client.get("/phone/").status_code == 302
    # The code already used is spent; the app's next one is accepted.
    assert client.post(CODE_PAGE, {"code": code_for(device, steps_ahead=1)}).status_code == 302
    assert client.get("/phone/").status_code == 200


def test_a_reset_device_means_enrolling_again(administrator: User, client: Client) -> None:
    """A lost phone: deleting the device (in the admin) ends the verified sign-in too, and the
    next step is enrolling a new one."""
    sign_in(client, "administrator")
    device = TOTPDevice.objects.get(user=administrator)
    client.post(CODE_PAGE, {"code": code_for(device)})
    assert client.get("/phone/").status_code == 200

    superuser = User.objects.create_superuser("root", password=PASSWORD)
    TOTPDevice.objects.create(user=superuser, name="test", confirmed=True)
    admin_client = Client()
    admin_client.post("/phone/login/", {"username": "root", "password": PASSWORD})
    admin_client.post(CODE_PAGE, {"code": code_for(TOTPDevice.objects.get(user=superuser))})
    change_page = admin_client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert change_page.status_code == 200
    # The admin never shows the secret of an existing device.
    assert device.key not in change_page.content.decode()
    deleted = admin_client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()

    assert path_of(client.get("/phone/")["Location"]) == CODE_PAGE
    assert path_of(client.get(CODE_PAGE)["Location"]) == ENROL_PAGE


def test_a_next_page_elsewhere_is_not_followed(administrator: User, client: Client) -> None:
    sign_in(client, "administrator")
    device = TOTPDevice.objects.get(user=administrator)
    response = client.post(
        CODE_PAGE, {"code": code_for(device), "next": "https://evil.example/phish"}
    )
    assert response.status_code == 302
    # Their own first area instead (an administrator's is the venue).
    assert response["Location"] == staff_home_url(administrator) == "/venue/"


def test_who_owes_a_second_factor(phone_world: World, settings: object) -> None:
    operator = phone_world.operator
    venue = staff_member("venue", roles.VENUE_STAFF)
    exporter = staff_member("exporter", roles.EXPORTERS)
    administrator = staff_member("administrator", roles.ADMINISTRATORS)
    superuser = User.objects.create_superuser("root", password=PASSWORD)
    resident_side = User.objects.create_user("not-staff", password=PASSWORD)
    assert [must_use_second_factor(u) for u in (operator, venue, resident_side)] == [False] * 3
    assert [must_use_second_factor(u) for u in (exporter, administrator, superuser)] == [True] * 3
    settings.STAFF_OTP_REQUIRED = "all"  # type: ignore[attr-defined]
    assert must_use_second_factor(operator) and must_use_second_factor(venue)
    assert not must_use_second_factor(resident_side)
