"""A resident who cannot book reads why: which rule in plain words, the earliest date that would
pass (西暦 and 和暦 in Japanese, the English date in English), and what to do next; never a
rule's internal code."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.test import Client

from reservations.exceptions import NotEligible
from reservations.models import EligibilityRule, IntervalRule
from reservations.services.booking import reservation_book
from tests.channels.web.conftest import Clock, sign_in
from tests.world import World

pytestmark = pytest.mark.django_db

D = dt.date


def rule_codes() -> set[str]:
    return set(EligibilityRule.objects.values_list("code", flat=True)) | set(
        IntervalRule.objects.values_list("code", flat=True)
    )


def assert_no_rule_code(page: str) -> None:
    shown = [code for code in rule_codes() if code in page]
    assert shown == []
    assert not re.search(r"(program|campaign|eligibility)\.[\w-]+\.(limit|period|none)", page)


def test_a_60_year_old_without_attestation_reads_the_rule_and_what_to_do(
    client: Client, world: World, clock: Clock
) -> None:
    world.slot(D(2026, 11, 10))
    ticket = world.resident(D(1966, 6, 1))  # 60 this season, 65 only in 2031
    page = client.get(f"{sign_in(client, ticket)}book/").content.decode()
    assert "いま、この方が予約できる日時はありません" in page
    # Who the vaccine is for, in words.
    assert "接種日に65歳以上の方" in page
    assert "接種日に60歳以上65歳未満で、対象となる障害があると申し出た方" in page
    # Not this season at all: said with the season's end, 西暦 and 和暦.
    assert "この接種の期間（2027年3月31日（令和9年3月31日）まで）に" in page
    # What to do: an attestation goes through the call centre.
    assert "対象となる障害がある方は、申し出の手続きが必要です" in page
    assert "0987-00-0000" in page
    assert_no_rule_code(page)


def test_someone_turning_65_reads_the_earliest_date(
    client: Client, world: World, clock: Clock
) -> None:
    world.slot(D(2026, 11, 10))
    ticket = world.resident(D(1962, 1, 15))
    page = client.get(f"{sign_in(client, ticket)}book/").content.decode()
    assert "2027年1月14日（令和9年1月14日） 以降の日にちであれば予約できます" in page
    assert "その日以降の日にちが選べるようになってから" in page
    assert_no_rule_code(page)


def test_in_english_the_earliest_date_is_an_english_date(
    client: Client, world: World, clock: Clock
) -> None:
    world.slot(D(2026, 11, 10))
    ticket = world.resident(D(1962, 1, 15))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(f"{sign_in(client, ticket)}book/").content.decode()
    assert '<html lang="en"' in page
    assert "14 Jan 2027" in page and "令和9年" not in page
    assert_no_rule_code(page)


def test_a_window_not_yet_open_names_its_opening(
    client: Client, world: World, clock: Clock
) -> None:
    world.slot(D(2026, 11, 20), opens=5)
    page = client.get(f"{sign_in(client, world.resident())}book/").content.decode()
    assert "予約の受付は 2026年11月15日（令和8年11月15日） から始まります" in page


def test_a_booked_season_points_to_the_booking(client: Client, world: World, clock: Clock) -> None:
    ticket = world.resident()
    reservation_book(ticket=ticket, slot=world.slot(D(2026, 11, 10)), requester=world.web)
    world.slot(D(2026, 11, 11))
    page = client.get(f"{sign_in(client, ticket)}book/").content.decode()
    assert "この接種は1人1回までで、すでに接種または予約があります" in page
    assert "「予約の確認」" in page
    assert_no_rule_code(page)


def test_a_refused_hold_names_no_rule_code(client: Client, world: World, clock: Clock) -> None:
    slot = world.slot(D(2026, 11, 10))
    world.slot(D(2026, 11, 11))
    ticket = world.resident(D(1962, 1, 15))
    url = sign_in(client, ticket)
    # A page left open from before (or a crafted post): the core refuses the hold.
    response = client.post(f"{url}book/", {"slot": slot.pk})
    assert response.status_code == 400
    page = response.content.decode()
    assert "2027年1月14日（令和9年1月14日）以降の日にちであれば予約できます" in page
    assert_no_rule_code(page)


def test_the_core_sentence_it_replaces_does_carry_the_code(world: World) -> None:
    # What the page would have shown without the resident wording: the reason these tests
    # look for codes at all.
    from reservations.selectors import booking_prospects
    from tests.world import jst

    world.slot(D(2026, 11, 10))
    [prospect] = booking_prospects(
        resident=world.resident(D(1966, 6, 1)).resident, now=jst(2026, 11, 2, 9, 0)
    )
    assert isinstance(prospect.refusal, NotEligible)
    assert prospect.refusal.rule_code in str(prospect.refusal.message)
