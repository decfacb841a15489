"""POST /reservations/, GET /reservations/{code}/, cancel and change: every outcome the core
can give, in the API's one error shape."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import override_settings

from reservations.models import Campaign, Reservation, ReservationEvent, Slot, Vaccination
from reservations.selectors import slot_counter_mismatches
from tests.channels.api.conftest import Api, credentials, staff, token_client
from tests.world import World, jst

D = dt.date
pytestmark = pytest.mark.django_db


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "detail"}
    assert body["code"] == code
    assert body["message"]
    return body


def test_it_books_and_answers_with_the_reservation(api: Api) -> None:
    slot = api.world.slot(D(2026, 11, 10))
    ticket = api.world.resident()
    response = api.book(ticket, slot)
    assert response.status_code == 201, response.content
    body = response.json()
    reservation = Reservation.objects.get()
    assert body["code"] == reservation.code
    assert body["status"] == "confirmed"
    assert body["dose_number"] == 1
    assert body["channel"] == "api"
    assert body["slot"] == {
        "id": slot.pk,
        "site": api.world.site.pk,
        "site_name": "日南市文化センター",
        "vaccine": "pfizer-12",
        "starts_at": "2026-11-10T10:00:00+09:00",
        "ends_at": "2026-11-10T10:15:00+09:00",
    }
    assert body["next_dose"] is None  # the routine programme gives one dose a season
    assert reservation.entered_by_user == api.world.operator
    assert reservation.events.get().kind == ReservationEvent.Kind.BOOKED


def test_it_reads_a_reservation_by_its_code(api: Api) -> None:
    booked = api.book(api.world.resident(), api.world.slot(D(2026, 11, 10))).json()
    code = booked["code"]
    response = api.operator.get(f"/api/v1/reservations/{code}/")
    assert response.status_code == 200
    assert response.json() == booked
    # Read back from a form: grouped in threes, full-width digits.
    spoken = f"{code[:3]}-{code[3:6]}-{code[6:]}".translate(
        str.maketrans("0123456789", "０１２３４５６７８９")
    )
    assert api.operator.get(f"/api/v1/reservations/{spoken}/").json()["code"] == code


@pytest.mark.parametrize("code", ["123456789", "12345", "abc"])
def test_it_answers_404_for_an_unknown_code(api: Api, code: str) -> None:
    error(api.operator.get(f"/api/v1/reservations/{code}/"), 404, "not_found")
    error(
        api.operator.post(f"/api/v1/reservations/{code}/cancel/", {}, format="json"),
        404,
        "not_found",
    )


def test_it_stores_the_phone_number_and_consent_given_with_the_booking(api: Api) -> None:
    ticket = api.world.resident()
    response = api.book(
        ticket, api.world.slot(D(2026, 11, 10)), phone="090-1111-2222", sms_consent=False
    )
    assert response.status_code == 201
    ticket.resident.refresh_from_db()
    assert (ticket.resident.phone, ticket.resident.sms_consent) == ("+819011112222", False)


def test_it_keeps_the_old_phone_number_when_the_booking_is_refused(api: Api) -> None:
    ticket = api.world.resident()
    full = api.world.slot(D(2026, 11, 10), capacity=1)
    api.book(api.world.resident(), full)
    error(api.book(ticket, full, phone="090-1111-2222"), 409, "slot_full")
    ticket.resident.refresh_from_db()
    assert ticket.resident.phone == "+819012345678"


# --- errors ---------------------------------------------------------------------------------


def test_it_gives_field_errors_for_bad_input(api: Api) -> None:
    response = api.operator.post(
        "/api/v1/reservations/",
        {"ticket_number": "1", "birth_date": "1950-13-01", "slot": 999999, "phone": "abc"},
        format="json",
    )
    body = error(response, 400, "validation_error")
    # The slot of no row is named with the other fields: the request is malformed anyway.
    assert set(body["detail"]) == {
        "municipality_code",
        "ticket_number",
        "birth_date",
        "slot",
        "phone",
    }
    assert all(isinstance(m, list) and m for m in body["detail"].values())


def test_a_well_formed_slot_id_of_no_slot_is_404_naming_the_field(api: Api) -> None:
    body = error(api.book(api.world.resident(), Slot(pk=999999)), 404, "not_found")
    assert list(body["detail"]) == ["slot"]
    code = api.book(api.world.resident(), api.world.slot(D(2026, 11, 10))).json()["code"]
    moved = api.operator.post(
        f"/api/v1/reservations/{code}/change/", {"slot": 999999}, format="json"
    )
    assert list(error(moved, 404, "not_found")["detail"]) == ["slot"]


@pytest.mark.parametrize(
    "wrong",
    [
        {"municipality_code": "４５２０４１"},
        {"municipality_code": "45204"},
        {"ticket_number": "000-000-0001"},
        {"ticket_number": "0000000001\n"},
        {"slot": "1"},
        {"phone": "０９０１１１１２２２２"},
    ],
)
def test_it_holds_partners_to_the_forms_the_schema_states(api: Api, wrong: dict[str, Any]) -> None:
    ticket, slot = api.world.resident(), api.world.slot(D(2026, 11, 10))
    body = credentials(ticket) | {"slot": slot.pk} | wrong
    response = api.operator.post("/api/v1/reservations/", body, format="json")
    assert list(error(response, 400, "validation_error")["detail"]) == list(wrong)


def test_a_phone_number_of_the_right_form_that_no_one_can_call_is_422(api: Api) -> None:
    response = api.book(api.world.resident(), api.world.slot(D(2026, 11, 10)), phone="0000")
    assert list(error(response, 422, "phone_invalid")["detail"]) == ["phone"]
    assert not Reservation.objects.exists()


def test_it_refuses_a_body_that_is_not_json(api: Api) -> None:
    response = api.operator.post(
        "/api/v1/reservations/", "{not json", content_type="application/json"
    )
    error(response, 400, "parse_error")


def test_it_gives_the_same_answer_for_an_unknown_ticket_and_a_wrong_birth_date(api: Api) -> None:
    ticket, slot = api.world.resident(), api.world.slot(D(2026, 11, 10))
    wrong_birth = api.operator.post(
        "/api/v1/reservations/",
        credentials(ticket) | {"birth_date": "1950-04-02", "slot": slot.pk},
        format="json",
    )
    unknown = api.operator.post(
        "/api/v1/reservations/",
        credentials(ticket) | {"ticket_number": "9999999999", "slot": slot.pk},
        format="json",
    )
    assert error(wrong_birth, 404, "credentials_invalid") == error(
        unknown, 404, "credentials_invalid"
    )


@override_settings(CREDENTIALS_TICKET_FAILURE_LIMIT=3)
def test_it_stops_guessing_a_ticket_even_with_a_staff_token(api: Api) -> None:
    ticket, slot = api.world.resident(), api.world.slot(D(2026, 11, 10))
    guess = credentials(ticket) | {"slot": slot.pk}
    left = []
    for day in range(2, 5):
        wrong = guess | {"birth_date": f"1950-04-{day:02d}"}
        body = error(
            api.operator.post("/api/v1/reservations/", wrong, format="json"),
            404,
            "credentials_invalid",
        )
        left.append(body["detail"]["attempts_left"])
        assert body["detail"]["lock_minutes"] == 15
    # The tries left count down; the third wrong try locked the number and says until when.
    assert left == [2, 1, 0]
    assert "あと2回間違えると" not in body["message"] and "15分間ロックしました" in body["message"]
    response = api.operator.post("/api/v1/reservations/", guess, format="json")
    body = error(response, 429, "too_many_attempts")
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert body["detail"]["retry_after_seconds"] == int(response["Retry-After"])
    assert body["detail"]["call_centre_phone"] == "0987-00-0000"
    assert (body["detail"]["lock_minutes"], body["detail"]["locked"]) == (15, "ticket")
    english = api.operator.post(
        "/api/v1/reservations/", guess, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert (
        "this ticket number is locked for 15 min"
        in error(english, 429, "too_many_attempts")["message"]
    )


def test_it_says_slot_full_when_the_last_seat_is_gone(api: Api) -> None:
    slot = api.world.slot(D(2026, 11, 10), capacity=1)
    assert api.book(api.world.resident(), slot).status_code == 201
    body = error(api.book(api.world.resident(), slot), 409, "slot_full")
    assert (
        body["message"]
        == "申し訳ありません。この時間は満席になりました。別の時間をお選びください。"
    )


def test_it_keeps_the_phone_reserve_from_the_api_channel_but_not_from_operators(api: Api) -> None:
    slot = api.world.slot(D(2026, 11, 10), capacity=2, reserved=1)
    assert api.book(api.world.resident(), slot).status_code == 201
    error(api.book(api.world.resident(), slot), 409, "slot_full")
    response = api.book(api.world.resident(), slot, channel="phone")
    assert response.status_code == 201
    assert response.json()["channel"] == "phone"


def test_it_refuses_the_phone_channel_to_a_partner_without_the_operator_permission(
    api: Api,
) -> None:
    partner = staff("portal")
    partner.user_permissions.add(Permission.objects.get(codename="add_reservation"))
    client = token_client(User.objects.get(pk=partner.pk))
    slot = api.world.slot(D(2026, 11, 10))
    error(api.book(api.world.resident(), slot, client, channel="phone"), 403, "permission_denied")
    assert api.book(api.world.resident(), slot, client).status_code == 201


def test_it_says_already_booked_for_a_second_booking_of_the_same_dose(api: Api) -> None:
    ticket = api.world.resident()
    first = api.book(ticket, api.world.slot(D(2026, 11, 10))).json()
    body = error(
        api.book(ticket, api.world.slot(D(2026, 11, 11)), dose_number=1), 409, "already_booked"
    )
    assert body["detail"] == {"existing_code": first["code"]}


def test_it_says_already_booked_when_the_season_dose_is_booked_and_no_dose_is_named(
    api: Api,
) -> None:
    # What a partner system sends: no dose number, so the core takes the next one, which the
    # one-per-season rule would refuse (422 not_eligible before issue 17).
    ticket = api.world.resident()
    first = api.book(ticket, api.world.slot(D(2026, 11, 10))).json()
    body = error(api.book(ticket, api.world.slot(D(2026, 11, 11))), 409, "already_booked")
    assert body["detail"] == {"existing_code": first["code"]}
    assert first["code"] in body["message"]
    english = api.book(
        ticket, api.world.slot(D(2026, 11, 12)), headers={"Accept-Language": "en"}
    ).json()
    assert english["code"] == "already_booked" and first["code"] in english["message"]
    assert not re.search(r"[ぁ-んァ-ン一-龥]", english["message"])


def test_it_names_the_rule_and_the_earliest_date_when_not_eligible(api: Api) -> None:
    young = api.world.resident(D(1990, 1, 1))
    body = error(api.book(young, api.world.slot(D(2026, 11, 10))), 422, "not_eligible")
    assert body["detail"]["rule"]
    assert "earliest_date" in body["detail"]


def test_it_gives_the_earliest_allowed_date_for_an_interval(api: Api) -> None:
    ticket = api.world.resident()
    Vaccination.objects.create(
        resident=ticket.resident,
        vaccine=api.world.vaccine,
        antigen=api.world.vaccine.antigen,
        campaign=Campaign.objects.get(code="covid-routine-2025"),
        dose_number=5,
        vaccinated_on=D(2026, 9, 1),
    )
    body = error(api.book(ticket, api.world.slot(D(2026, 11, 10))), 422, "not_eligible")
    earliest = D.fromisoformat(body["detail"]["earliest_date"])
    assert earliest > D(2026, 11, 10)
    assert body["detail"]["rule"]


def test_it_says_outside_booking_window(api: Api) -> None:
    slot = api.world.slot(D(2026, 12, 20), opens=30)
    body = error(api.book(api.world.resident(), slot), 422, "outside_booking_window")
    assert body["detail"]["opens_on"] == "2026-11-20"


def test_it_speaks_english_when_asked(api: Api) -> None:
    slot = api.world.slot(D(2026, 11, 10), capacity=1)
    api.book(api.world.resident(), slot)
    body = error(
        api.book(api.world.resident(), slot, headers={"Accept-Language": "en"}), 409, "slot_full"
    )
    assert body["message"].isascii() and "full" in body["message"].lower()
    validation = api.operator.post(
        "/api/v1/reservations/", {}, format="json", headers={"Accept-Language": "en"}
    ).json()
    assert validation["message"].isascii()
    assert validation["detail"]["slot"] == ["This field is required."]


# --- cancel and change ----------------------------------------------------------------------


def test_it_cancels_and_cancelling_again_changes_nothing(api: Api) -> None:
    slot = api.world.slot(D(2026, 11, 10), capacity=1)
    code = api.book(api.world.resident(), slot).json()["code"]
    response = api.operator.post(f"/api/v1/reservations/{code}/cancel/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    again = api.operator.post(f"/api/v1/reservations/{code}/cancel/", {}, format="json")
    assert again.json() == response.json()
    slot.refresh_from_db()
    assert slot.booked == 0
    assert slot_counter_mismatches() == []


def test_it_says_change_deadline_passed_to_the_api_channel_but_lets_operators_through(
    api: Api,
) -> None:
    code = api.book(api.world.resident(), api.world.slot(D(2026, 11, 3), change_closes=2)).json()[
        "code"
    ]
    url = f"/api/v1/reservations/{code}/cancel/"
    error(api.operator.post(url, {}, format="json"), 422, "change_deadline_passed")
    response = api.operator.post(url, {"channel": "phone"}, format="json")
    assert response.json()["status"] == "cancelled"


def test_it_moves_a_booking_to_another_slot(api: Api) -> None:
    old, new = api.world.slot(D(2026, 11, 10)), api.world.slot(D(2026, 11, 12), 14)
    code = api.book(api.world.resident(), old).json()["code"]
    response = api.operator.post(
        f"/api/v1/reservations/{code}/change/", {"slot": new.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["slot"]["id"] == new.pk
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.booked, new.booked) == (0, 1)


def test_it_refuses_to_change_into_a_full_slot_or_a_cancelled_booking(api: Api) -> None:
    full = api.world.slot(D(2026, 11, 12), capacity=1)
    api.book(api.world.resident(), full)
    code = api.book(api.world.resident(), api.world.slot(D(2026, 11, 10))).json()["code"]
    url = f"/api/v1/reservations/{code}/change/"
    error(api.operator.post(url, {"slot": full.pk}, format="json"), 409, "slot_full")
    error(api.operator.post(url, {}, format="json"), 400, "validation_error")
    api.operator.post(f"/api/v1/reservations/{code}/cancel/", {}, format="json")
    other = api.world.slot(D(2026, 11, 13))
    error(api.operator.post(url, {"slot": other.pk}, format="json"), 409, "invalid_state")


# --- permissions per role -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "book", "read", "cancel"),
    [
        ("operator", 201, 200, 200),
        ("admin", 201, 200, 200),
        ("superuser", 201, 200, 200),
        ("venue", 403, 200, 200),
        ("exporter", 403, 403, 403),
        ("nobody", 403, 403, 403),
        ("anonymous", 401, 401, 401),
    ],
)
def test_it_allows_each_role_what_its_group_grants(
    api: Api, who: str, book: int, read: int, cancel: int
) -> None:
    client = getattr(api, who)
    booked = api.book(api.world.resident(), api.world.slot(D(2026, 11, 10), capacity=9), client)
    assert booked.status_code == book
    code = api.book(api.world.resident(), api.world.slot(D(2026, 11, 10), capacity=9)).json()[
        "code"
    ]
    assert client.get(f"/api/v1/reservations/{code}/").status_code == read
    cancelled = client.post(f"/api/v1/reservations/{code}/cancel/", {}, format="json")
    assert cancelled.status_code == cancel
    if cancel >= 400:
        code_expected = "not_authenticated" if cancel == 401 else "permission_denied"
        error(cancelled, cancel, code_expected)


def test_it_rejects_a_wrong_token(api: Api) -> None:
    api.anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    error(api.anonymous.get("/api/v1/reservations/123456789/"), 401, "authentication_failed")


# --- series (セット予約) ----------------------------------------------------------------------


def test_it_books_the_paired_second_dose_of_a_two_dose_series(
    world: World, api: Api, clock: Any
) -> None:
    clock.move_to(jst(2021, 6, 1, 9))
    world.campaign = Campaign.objects.get(code="covid-2021-primary")
    first = world.slot(D(2021, 6, 10))
    second = world.slot(D(2021, 7, 1))
    ticket = world.resident()
    response = api.book(ticket, first)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["next_dose"]["slot"]["id"] == second.pk
    assert body["next_dose"]["dose_number"] == 2
    paired = api.operator.get(f"/api/v1/reservations/{body['next_dose']['code']}/").json()
    assert paired["previous_dose"] == body["code"]
    alone = api.book(world.resident(), first, book_next_dose=False).json()
    assert alone["next_dose"] is None
    assert Slot.objects.get(pk=second.pk).booked == 1


def test_a_body_takes_only_the_fields_it_lists(api: Api) -> None:
    # The schema closes every request body (additionalProperties: false); so does the server.
    ticket, slot = api.world.resident(), api.world.slot(D(2026, 11, 10))
    response = api.operator.post(
        "/api/v1/reservations/",
        credentials(ticket) | {"slot": slot.pk, "dose_numbr": 2},
        format="json",
    )
    assert list(error(response, 400, "validation_error")["detail"]) == ["dose_numbr"]
    assert not Reservation.objects.exists()


def test_the_schema_states_the_rules_the_server_enforces(api: Api) -> None:
    schema = api.anonymous.get("/api/v1/schema/", {"format": "json"}).json()
    create = schema["paths"]["/api/v1/reservations/"]["post"]
    key = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    rule = {"minLength": 1, "maxLength": 80, "pattern": "^[!-~]+$"}
    assert {name: key["schema"].get(name) for name in rule} == rule
    assert "existing_code" in create["responses"]["409"]["description"]
    body = schema["components"]["schemas"]["ReservationCreateRequest"]
    assert body["additionalProperties"] is False
    assert body["properties"]["ticket_number"]["pattern"] == "^[0-9]{10}$"
    assert body["properties"]["slot"]["minimum"] == 1
    shapes = schema["components"]["schemas"]["VaccinationCreateRequest"]["oneOf"]
    assert len(shapes) == 2
