"""Idempotency-Key: the same key and body get the first answer, status and body alike."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from channels.api.models import IdempotentRequest
from channels.api.tasks import idempotency_keys_forget_task
from reservations.models import Reservation
from tests.channels.api.conftest import Api

D = dt.date
pytestmark = pytest.mark.django_db


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def test_it_replays_the_first_answer_for_the_same_key_and_body(api: Api) -> None:
    ticket, slot = api.world.resident(), api.world.slot(D(2026, 11, 10))
    first = api.book(ticket, slot, headers=key("order-1"))
    again = api.book(ticket, slot, headers=key("order-1"))
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert Reservation.objects.count() == 1
    slot.refresh_from_db()
    assert slot.booked == 1


def test_it_replays_an_error_answer_too(api: Api) -> None:
    slot = api.world.slot(D(2026, 11, 10), capacity=1)
    api.book(api.world.resident(), slot)
    ticket = api.world.resident()
    first = api.book(ticket, slot, headers=key("late"))
    assert first.status_code == 409
    # A seat comes free, but the retry of the same request still gets its first answer.
    code = Reservation.objects.get().code
    api.operator.post(f"/api/v1/reservations/{code}/cancel/", {}, format="json")
    again = api.book(ticket, slot, headers=key("late"))
    assert (again.status_code, again.content) == (409, first.content)


def test_it_refuses_the_same_key_with_a_different_body(api: Api) -> None:
    ticket = api.world.resident()
    api.book(ticket, api.world.slot(D(2026, 11, 10)), headers=key("k"))
    response = api.book(ticket, api.world.slot(D(2026, 11, 11)), headers=key("k"))
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Reservation.objects.count() == 1


def test_keys_belong_to_one_token_user(api: Api) -> None:
    slot = api.world.slot(D(2026, 11, 10))
    mine = api.book(api.world.resident(), slot, headers=key("shared"))
    theirs = api.book(api.world.resident(), slot, api.admin, headers=key("shared"))
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["code"] != theirs.json()["code"]


@pytest.mark.parametrize("bad", ["", "x" * 81, "mit leerzeichen", "ключ"])
def test_it_refuses_a_malformed_key(api: Api, bad: str) -> None:
    response = api.book(api.world.resident(), api.world.slot(D(2026, 11, 10)), headers=key(bad))
    assert response.status_code == 400
    assert list(response.json()["detail"]) == ["Idempotency-Key"]
    assert Reservation.objects.count() == 0


def test_it_answers_in_progress_while_the_first_request_runs(api: Api) -> None:
    ticket, slot = api.world.resident(), api.world.slot(D(2026, 11, 10))
    api.book(ticket, slot, headers=key("slow"))
    # As if the first request were still running: its claim is fresh and unanswered.
    IdempotentRequest.objects.update(
        state=IdempotentRequest.State.IN_PROGRESS, claimed_at=timezone.now()
    )
    response = api.book(ticket, slot, headers=key("slow"))
    assert response.status_code == 409
    assert response.json()["code"] == "request_in_progress"


def test_a_retry_takes_over_a_claim_left_by_a_crashed_request(api: Api) -> None:
    ticket, slot = api.world.resident(), api.world.slot(D(2026, 11, 10))
    first = api.book(ticket, slot, headers=key("crash")).json()
    # The process died after the booking committed but before the answer was stored.
    IdempotentRequest.objects.update(
        state=IdempotentRequest.State.IN_PROGRESS,
        response_status=None,
        response_body="",
        claimed_at=timezone.now() - dt.timedelta(minutes=5),
    )
    retry = api.book(ticket, slot, headers=key("crash"))
    assert retry.status_code == 201
    assert retry.json()["code"] == first["code"]  # the core's key found the same booking
    assert Reservation.objects.count() == 1
    assert IdempotentRequest.objects.get().state == IdempotentRequest.State.DONE


def test_it_does_not_keep_a_rate_limited_answer(api: Api) -> None:
    from django.test import override_settings

    ticket, slot = api.world.resident(), api.world.slot(D(2026, 11, 10))
    with override_settings(CREDENTIALS_TICKET_FAILURE_LIMIT=1):
        wrong = {"birth_date": "1950-04-02"}
        assert api.book(ticket, slot, **wrong).status_code == 404
        assert api.book(ticket, slot, headers=key("r")).status_code == 429
    assert not IdempotentRequest.objects.exists()


def test_the_database_allows_one_claim_per_user_and_key(api: Api) -> None:
    row = {"user": api.world.operator, "key": "k", "fingerprint": "f", "claimed_at": timezone.now()}
    IdempotentRequest.objects.create(**row)
    with pytest.raises(IntegrityError), transaction.atomic():
        IdempotentRequest.objects.create(**row)


def test_cancel_and_vaccination_posts_take_keys_too(api: Api) -> None:
    code = api.book(api.world.resident(), api.world.slot(D(2026, 11, 10))).json()["code"]
    url = f"/api/v1/reservations/{code}/cancel/"
    first = api.operator.post(url, {}, format="json", headers=key("c"))
    again = api.operator.post(url, {}, format="json", headers=key("c"))
    assert first.content == again.content
    assert IdempotentRequest.objects.filter(key="c", state="done").count() == 1


def test_answered_keys_are_forgotten_after_a_day(api: Api, clock: Any) -> None:
    ticket, slot = api.world.resident(), api.world.slot(D(2026, 11, 10))
    api.book(ticket, slot, headers=key("old"))
    clock.shift(dt.timedelta(hours=23))
    api.book(api.world.resident(), slot, headers=key("new"))
    clock.shift(dt.timedelta(hours=2))
    assert idempotency_keys_forget_task() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
