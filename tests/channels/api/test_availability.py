"""GET /sites/ and /slots/: readable without a token, limited per address when anonymous."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import override_settings

from reservations.models import Site, Vaccine
from tests.channels.api.conftest import Api

D = dt.date
pytestmark = pytest.mark.django_db


def rest_framework_with(**overrides: Any) -> dict[str, Any]:
    from django.conf import settings

    return {**settings.REST_FRAMEWORK, **overrides}


def test_it_lists_active_sites_without_a_token(api: Api) -> None:
    Site.objects.create(municipality=api.world.municipality, name="閉鎖した会場", is_active=False)
    body = api.anonymous.get("/api/v1/sites/").json()
    assert body["count"] == 1
    assert body["results"] == [
        {
            "id": api.world.site.pk,
            "name": "日南市文化センター",
            "short_name": "",
            "kind": "mass",
            "address": "",
        }
    ]


def test_it_lists_seats_left_per_slot_for_the_channel(api: Api) -> None:
    slot = api.world.slot(D(2026, 11, 10), capacity=5, reserved=2)
    api.book(api.world.resident(), slot)
    body = api.anonymous.get("/api/v1/slots/", {"date": "2026-11-10"}).json()
    assert body == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": slot.pk,
                "site": api.world.site.pk,
                "vaccine": "pfizer-12",
                "starts_at": "2026-11-10T10:00:00+09:00",
                "ends_at": "2026-11-10T10:15:00+09:00",
                "seats_left": 2,  # 5 - 1 booked - 2 held back for the phone
            }
        ],
    }
    by_phone = api.operator.get("/api/v1/slots/", {"date": "2026-11-10", "channel": "phone"})
    assert by_phone.json()["results"][0]["seats_left"] == 4


def test_it_filters_slots_by_site_date_and_vaccine(api: Api) -> None:
    other_site = Site.objects.create(municipality=api.world.municipality, name="南郷診療所")
    moderna = Vaccine.objects.get(code="moderna")
    a = api.world.slot(D(2026, 11, 10), 9)
    b = api.world.slot(D(2026, 11, 10), 10, site=other_site)
    c = api.world.slot(D(2026, 11, 11), 9, vaccine=moderna)

    def ids(**query: Any) -> list[int]:
        return [r["id"] for r in api.anonymous.get("/api/v1/slots/", query).json()["results"]]

    assert ids() == [a.pk, b.pk, c.pk]
    assert ids(date="2026-11-10") == [a.pk, b.pk]
    assert ids(site=other_site.pk) == [b.pk]
    assert ids(vaccine="moderna") == [c.pk]
    assert ids(vaccine="moderna", date="2026-11-10") == []


def test_it_pages_slot_lists(api: Api) -> None:
    for hour in range(9, 16):
        api.world.slot(D(2026, 11, 10), hour)
    first = api.anonymous.get("/api/v1/slots/", {"page_size": 3}).json()
    assert first["count"] == 7 and len(first["results"]) == 3 and first["previous"] is None
    assert "page=2" in first["next"]
    last = api.anonymous.get("/api/v1/slots/", {"page_size": 3, "page": 3}).json()
    assert len(last["results"]) == 1 and last["next"] is None
    missing = api.anonymous.get("/api/v1/slots/", {"page": 9})
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_it_validates_slot_queries(api: Api) -> None:
    response = api.anonymous.get("/api/v1/slots/", {"date": "10/11/2026", "channel": "fax"})
    assert response.status_code == 400
    assert set(response.json()["detail"]) == {"date", "channel"}


def test_it_shows_the_phone_reserve_only_to_operators(api: Api) -> None:
    api.world.slot(D(2026, 11, 10))
    for client in (api.anonymous, api.exporter):
        response = client.get("/api/v1/slots/", {"channel": "phone"})
        assert response.status_code in (401, 403)
    assert api.anonymous.get("/api/v1/slots/", {"channel": "phone"}).json()["code"] in (
        "not_authenticated",
        "permission_denied",
    )
    assert api.operator.get("/api/v1/slots/", {"channel": "phone"}).status_code == 200


def test_it_limits_anonymous_reads_per_address_but_not_staff_tokens(api: Api) -> None:
    with override_settings(
        REST_FRAMEWORK=rest_framework_with(DEFAULT_THROTTLE_RATES={"anon": "3/min"})
    ):
        for _i in range(3):
            assert api.anonymous.get("/api/v1/slots/").status_code == 200
        limited = api.anonymous.get("/api/v1/sites/")
        assert limited.status_code == 429
        assert limited.json()["code"] == "rate_limited"
        assert 0 < int(limited["Retry-After"]) <= 60
        # Another address still gets through; a staff token is never counted.
        assert api.anonymous.get("/api/v1/slots/", REMOTE_ADDR="192.0.2.7").status_code == 200
        for _i in range(5):
            assert api.operator.get("/api/v1/slots/").status_code == 200


def test_it_does_not_trust_a_forwarded_address_without_a_proxy(api: Api) -> None:
    with override_settings(
        REST_FRAMEWORK=rest_framework_with(DEFAULT_THROTTLE_RATES={"anon": "2/min"})
    ):
        statuses = [
            api.anonymous.get("/api/v1/slots/", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
            for i in range(3)
        ]
    assert statuses == [200, 200, 429]


def test_it_limits_the_address_behind_trusted_proxies_and_ipv6_by_64(api: Api) -> None:
    with override_settings(
        TRUSTED_PROXIES=1,
        REST_FRAMEWORK=rest_framework_with(DEFAULT_THROTTLE_RATES={"anon": "2/min"}),
    ):

        def get(forwarded_for: str) -> int:
            return int(
                api.anonymous.get(
                    "/api/v1/slots/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for
                ).status_code
            )

        # Spoofed entries in front of the proxy's own change nothing; one /64 is one client.
        assert get("192.0.2.1, 2001:db8:1:2::1") == 200
        assert get("192.0.2.2, 2001:db8:1:2::2") == 200
        assert get("2001:db8:1:2:ffff::9") == 429
        # Another /64, and another IPv4 client behind the same proxy, have their own count.
        assert get("2001:db8:1:3::1") == 200
        assert get("198.51.100.7") == 200


def test_the_index_links_every_endpoint(api: Api) -> None:
    body = api.anonymous.get("/api/v1/").json()
    assert body["version"] == "v1"
    assert body["docs"].endswith("/api/v1/docs/")
    assert body["slots"].endswith("/api/v1/slots/")
