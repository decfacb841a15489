"""Partner API keys (issue 18): `Authorization: Api-Key <key>`, stored hashed, scoped to
operations and to municipalities, expiring and revocable. A key of 日南市 (452041) never
reaches 都城市's (452025) slots, bookings or residents: their ids answer as if they did not
exist."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from channels.api.models import SCOPE_FIELDS, PartnerKey, Scope
from reservations import roles
from reservations.models import Municipality, Reservation, Slot, StaffAssignment, Vaccination
from tests.channels.api.conftest import Api, credentials, staff, token_client
from tests.world import World, sign_in_verified

D = dt.date
pytestmark = pytest.mark.django_db

ALL_SCOPES = set(Scope)


def partner_key(
    user: User,
    *municipalities: Municipality,
    scopes: set[str] = ALL_SCOPES,
    **fields: Any,
) -> tuple[PartnerKey, str]:
    permitted = {SCOPE_FIELDS[scope]: True for scope in scopes}
    key, clear = PartnerKey.objects.create_key(
        partner="日南コールセンター", name="test", user=user, **permitted, **fields
    )
    assert isinstance(key, PartnerKey)
    key.municipalities.set(municipalities)
    return key, clear


def key_client(clear: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {clear}")
    return client


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "detail"}
    assert body["code"] == code
    assert body["message"]
    return body


@pytest.fixture
def miyakonojo(api: Api) -> World:
    return api.world.neighbour(operator_serves_both=True)


@pytest.fixture
def nichinan_key(api: Api) -> APIClient:
    _key, clear = partner_key(api.world.operator, api.world.municipality)
    return key_client(clear)


def book_in_miyakonojo(api: Api, miyakonojo: World) -> Reservation:
    """都城市's own booking, made with the staff token of an operator serving both cities."""
    ticket = miyakonojo.resident(name="都城 太郎")
    response = api.book(ticket, miyakonojo.slot(D(2026, 11, 11)))
    assert response.status_code == 201, response.content
    return Reservation.objects.get(code=response.json()["code"])


def assert_nothing_of(reservation: Reservation, response: Any) -> None:
    text = response.content.decode()
    assert reservation.code not in text
    assert reservation.ticket.number not in text
    assert reservation.resident.name not in text
    assert "都城市" not in text


def test_a_key_reads_only_its_citys_sites_and_slots(
    api: Api, miyakonojo: World, nichinan_key: APIClient
) -> None:
    home, away = api.world.slot(D(2026, 11, 10)), miyakonojo.slot(D(2026, 11, 10))
    sites = nichinan_key.get("/api/v1/sites/")
    assert sites.status_code == 200, sites.content
    assert [site["id"] for site in sites.json()["results"]] == [api.world.site.pk]
    slots = nichinan_key.get("/api/v1/slots/", {"date": "2026-11-10"})
    assert slots.status_code == 200, slots.content
    assert [row["id"] for row in slots.json()["results"]] == [home.pk]
    assert "都城市" not in slots.content.decode() + sites.content.decode()
    # Naming the other city's site finds nothing, as a site of no row does.
    other = nichinan_key.get(
        "/api/v1/slots/", {"date": "2026-11-10", "site": away.operating_day.site_id}
    )
    assert other.status_code == 200 and other.json()["results"] == []


def test_a_key_of_two_cities_reads_both(api: Api, miyakonojo: World) -> None:
    home, away = api.world.slot(D(2026, 11, 10), 11), miyakonojo.slot(D(2026, 11, 10), 9)
    _key, clear = partner_key(api.world.operator, api.world.municipality, miyakonojo.municipality)
    slots = key_client(clear).get("/api/v1/slots/", {"date": "2026-11-10"})
    assert [row["id"] for row in slots.json()["results"]] == [away.pk, home.pk]  # by time


def test_a_key_books_in_its_city_as_its_user(api: Api, nichinan_key: APIClient) -> None:
    slot = api.world.slot(D(2026, 11, 10))
    response = api.book(api.world.resident(), slot, client=nichinan_key)
    assert response.status_code == 201, response.content
    reservation = Reservation.objects.get(code=response.json()["code"])
    assert reservation.entered_by_user == api.world.operator
    assert reservation.slot == slot


def test_another_citys_slot_is_404_and_books_nothing(
    api: Api, miyakonojo: World, nichinan_key: APIClient
) -> None:
    # Even where 都城市 takes 日南市's residents: the slot is not this key's data.
    miyakonojo.municipality.accepts_residents_of.add(api.world.municipality)
    away = miyakonojo.slot(D(2026, 11, 10))
    response = api.book(api.world.resident(), away, client=nichinan_key)
    body = error(response, 404, "not_found")
    assert set(body["detail"]) == {"slot"}
    missing = nichinan_key.post(
        "/api/v1/reservations/",
        credentials(api.world.resident()) | {"slot": away.pk + 1000},
        format="json",
    )
    # Word for word what a slot id of no row gets, but for the id.
    gone = missing.json()
    assert gone["message"] == body["message"]
    assert gone["detail"]["slot"] == [
        text.replace(str(away.pk), str(away.pk + 1000)) for text in body["detail"]["slot"]
    ]
    assert not Reservation.objects.exists()
    assert Slot.objects.get(pk=away.pk).booked == 0


def test_another_citys_resident_is_an_unknown_ticket(
    api: Api, miyakonojo: World, nichinan_key: APIClient
) -> None:
    stranger = miyakonojo.resident(name="都城 太郎")
    response = api.book(stranger, api.world.slot(D(2026, 11, 10)), client=nichinan_key)
    error(response, 404, "credentials_invalid")
    assert "都城 太郎" not in response.content.decode()
    assert not Reservation.objects.exists()


def test_another_citys_reservation_is_404_everywhere_and_left_alone(
    api: Api, miyakonojo: World, nichinan_key: APIClient
) -> None:
    theirs = book_in_miyakonojo(api, miyakonojo)
    home = api.world.slot(D(2026, 11, 12))
    base = f"/api/v1/reservations/{theirs.code}/"
    answers = [
        nichinan_key.get(base),
        nichinan_key.post(f"{base}cancel/", {}, format="json"),
        nichinan_key.post(f"{base}change/", {"slot": home.pk}, format="json"),
    ]
    for response in answers:
        body = error(response, 404, "not_found")
        assert body["message"] == "この予約番号の予約は見つかりません。"
        assert_nothing_of(theirs, response)
    unchanged = Reservation.objects.get(pk=theirs.pk)
    assert (unchanged.status, unchanged.slot_id) == (theirs.status, theirs.slot_id)
    # A staff token is narrowed the same way, by its user's assignments: the contractor's
    # operator serving both cities reads it, 日南市's own operator does not.
    assert api.operator.get(base).status_code == 200
    nichinan_operator = staff("nichinan-operator", roles.OPERATORS)
    StaffAssignment.objects.create(user=nichinan_operator, municipality=api.world.municipality)
    hidden = token_client(nichinan_operator).get(base)
    error(hidden, 404, "not_found")
    assert_nothing_of(theirs, hidden)


def test_a_change_into_another_citys_slot_is_404(
    api: Api, miyakonojo: World, nichinan_key: APIClient
) -> None:
    code = api.book(api.world.resident(), api.world.slot(D(2026, 11, 10)), client=nichinan_key)
    away = miyakonojo.slot(D(2026, 11, 12))
    response = nichinan_key.post(
        f"/api/v1/reservations/{code.json()['code']}/change/", {"slot": away.pk}, format="json"
    )
    assert set(error(response, 404, "not_found")["detail"]) == {"slot"}


def test_vaccinations_reach_only_the_keys_city(api: Api, miyakonojo: World) -> None:
    venue = staff("venue-partner", roles.VENUE_STAFF)
    _key, clear = partner_key(venue, api.world.municipality)
    client = key_client(clear)
    theirs = book_in_miyakonojo(api, miyakonojo)
    by_booking = client.post(
        "/api/v1/vaccinations/",
        {"reservation": theirs.code, "vaccinated_at": "2026-11-02T08:00:00+09:00"},
        format="json",
    )
    error(by_booking, 404, "not_found")
    assert_nothing_of(theirs, by_booking)
    by_ticket = client.post(
        "/api/v1/vaccinations/",
        credentials(theirs.ticket) | {"vaccine": "pfizer-12"},
        format="json",
    )
    error(by_ticket, 404, "credentials_invalid")
    at_their_site = client.post(
        "/api/v1/vaccinations/",
        credentials(api.world.resident()) | {"vaccine": "pfizer-12", "site": miyakonojo.site.pk},
        format="json",
    )
    assert set(error(at_their_site, 404, "not_found")["detail"]) == {"site"}
    assert not Vaccination.objects.exists()
    ours = client.post(
        "/api/v1/vaccinations/",
        credentials(api.world.resident()) | {"vaccine": "pfizer-12", "site": api.world.site.pk},
        format="json",
    )
    assert ours.status_code == 201, ours.content


@pytest.mark.parametrize(
    ("scope", "method", "path"),
    [
        (Scope.READ_AVAILABILITY, "get", "/api/v1/slots/"),
        (Scope.READ_AVAILABILITY, "get", "/api/v1/sites/"),
        (Scope.BOOK, "post", "/api/v1/reservations/"),
        (Scope.READ_RESERVATIONS, "get", "/api/v1/reservations/123456789/"),
        (Scope.CHANGE, "post", "/api/v1/reservations/123456789/cancel/"),
        (Scope.CHANGE, "post", "/api/v1/reservations/123456789/change/"),
        (Scope.RECORD_VACCINATIONS, "post", "/api/v1/vaccinations/"),
    ],
)
def test_a_key_without_the_scope_gets_403(api: Api, scope: str, method: str, path: str) -> None:
    superuser = staff("root-partner", superuser=True)  # every permission: only the scope refuses
    _key, clear = partner_key(superuser, api.world.municipality, scopes=ALL_SCOPES - {scope})
    response = getattr(key_client(clear), method)(path, {}, format="json")
    body = error(response, 403, "scope_missing")
    assert body["detail"] == {"required_scope": scope}
    assert not Reservation.objects.exists()


def test_a_key_cannot_exceed_its_users_permissions(api: Api) -> None:
    _key, clear = partner_key(staff("no-role"), api.world.municipality)
    response = api.book(
        api.world.resident(), api.world.slot(D(2026, 11, 10)), client=key_client(clear)
    )
    error(response, 403, "permission_denied")


def test_revoked_expired_and_unknown_keys_get_401(api: Api, now: dt.datetime) -> None:
    slot, ticket = api.world.slot(D(2026, 11, 10)), api.world.resident()
    revoked, revoked_clear = partner_key(api.world.operator, api.world.municipality)
    revoked.revoked = True
    revoked.save()
    _expired, expired_clear = partner_key(
        api.world.operator, api.world.municipality, expiry_date=now - dt.timedelta(minutes=1)
    )
    _valid, valid_clear = partner_key(
        api.world.operator, api.world.municipality, expiry_date=now + dt.timedelta(days=1)
    )
    prefix, _dot, secret = valid_clear.partition(".")
    wrong_secret = f"{prefix}.{'A' * len(secret)}"
    for clear in [revoked_clear, expired_clear, wrong_secret, "garbage", "x.y\xe9z"]:
        response = api.book(ticket, slot, client=key_client(clear))
        body = error(response, 401, "authentication_failed")
        assert body["message"] == "APIキーが正しくないか、失効または有効期限切れです。"
    assert not Reservation.objects.exists()
    assert api.book(ticket, slot, client=key_client(valid_clear)).status_code == 201


def test_a_deactivated_user_s_key_gets_401(api: Api) -> None:
    user = staff("leaver", roles.OPERATORS)
    _key, clear = partner_key(user, api.world.municipality)
    User.objects.filter(pk=user.pk).update(is_active=False)
    error(key_client(clear).get("/api/v1/slots/"), 401, "authentication_failed")


def test_a_partner_key_is_not_a_drf_token(api: Api) -> None:
    _key, clear = partner_key(api.world.operator, api.world.municipality)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {clear}")
    error(client.get("/api/v1/reservations/123456789/"), 401, "authentication_failed")


def test_the_clear_key_is_not_stored(api: Api) -> None:
    key, clear = partner_key(api.world.operator, api.world.municipality)
    prefix, _dot, secret = clear.partition(".")
    row = PartnerKey.objects.filter(pk=key.pk).values().get()
    assert row["prefix"] == prefix
    assert row["hashed_key"].startswith("sha512$$")
    assert all(secret not in str(value) for value in row.values())


def test_the_admin_shows_a_new_key_once_and_revokes(api: Api) -> None:
    admin = Client()
    sign_in_verified(admin, staff("keymaster", superuser=True))
    response = admin.post(
        "/admin/api/partnerkey/add/",
        {
            "partner": "日南市予約ポータル",
            "name": "本番",
            "user": api.world.operator.pk,
            "municipalities": [api.world.municipality.pk],
            "may_book": "on",
            "expiry_date_0": "",
            "expiry_date_1": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    key = PartnerKey.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) >= 1 and any(key.prefix + "." in m for m in shown)
    clear = next(word for m in shown for word in m.split() if word.startswith(key.prefix + "."))
    assert PartnerKey.objects.get_from_key(clear) == key
    assert (key.may_book, key.may_change) == (True, False)
    _prefix, _dot, secret = clear.partition(".")
    listing = admin.get("/admin/api/partnerkey/")
    page = admin.get(f"/admin/api/partnerkey/{key.pk}/change/")
    for later in (listing, page):
        assert later.status_code == 200
        # The hash is in the pages (the library's primary key is prefix.hash, so it is in
        # the links); the key itself never is.
        assert secret not in later.content.decode()
    admin.post(
        "/admin/api/partnerkey/",
        {"action": "revoke_keys", "_selected_action": [key.pk]},
    )
    assert PartnerKey.objects.get().revoked
    error(key_client(clear).get("/api/v1/slots/"), 401, "authentication_failed")


def test_the_admin_requires_a_municipality(api: Api) -> None:
    admin = Client()
    sign_in_verified(admin, staff("keymaster", superuser=True))
    response = admin.post(
        "/admin/api/partnerkey/add/",
        {
            "partner": "x",
            "name": "x",
            "user": api.world.operator.pk,
            "expiry_date_0": "",
            "expiry_date_1": "",
        },
    )
    assert response.status_code == 200  # the form again, with its error
    assert "municipalities" in response.context["adminform"].form.errors
    assert not PartnerKey.objects.exists()
