"""The pre-opening check (reservations/season_check.py): configurations that reproduce the 2021
mistakes each give their finding; an opening with errors stays shut through the booking
service until an administrator overrides it with a reason; the command prints the findings
and exits non-zero on errors.

The channel checks (SMS, LINE, the call centre) have their tests beside their channels.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import translation

from reservations import roles
from reservations.cohorts import cohort_openings_cache_clear
from reservations.exceptions import (
    InvalidStateTransition,
    OpeningBlocked,
    PermissionDenied,
    ReasonRequired,
)
from reservations.models import (
    ClosedDay,
    CohortOpening,
    DayLot,
    OpeningCheck,
    Reservation,
    Vaccine,
)
from reservations.rules.engine import standard_next_date
from reservations.season_check import Finding, Severity, season_check
from reservations.selectors import rulebook_for, slot_list_available
from reservations.services.booking import Requester, reservation_book
from reservations.services.openings import (
    opening_check_override,
    opening_check_run,
    openings_due,
)
from reservations.tasks import openings_check_due_task
from tests.world import World, jst, staff_with

D = dt.date
NOVEMBER = {"date_from": D(2026, 11, 1), "date_to": D(2026, 11, 30)}
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cohort_cache() -> Iterator[None]:
    # Per process and keyed by municipality id (SQLite reuses ids after a rollback).
    cohort_openings_cache_clear()
    yield
    cohort_openings_cache_clear()


def codes(findings: list[Finding], severity: str | None = None) -> set[str]:
    return {f.code for f in findings if severity is None or f.severity == severity}


def finding(findings: list[Finding], code: str) -> Finding:
    return next(f for f in findings if f.code == code)


def check(world: World, now: dt.datetime, **kwargs: object) -> list[Finding]:
    return season_check(municipality=world.municipality, now=now, **kwargs)  # type: ignore[arg-type]


def administrator() -> User:
    user = User.objects.create_user("admin", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.ADMINISTRATORS))
    return User.objects.get(pk=user.pk)


def dose_two_date(world: World, dose_one: dt.date) -> dt.date:
    """Where the rules put dose 2 of the primary series (not hard-coded: the rules decide)."""
    rules = rulebook_for(
        municipality_id=world.municipality.pk,
        campaign=world.campaign,
        antigen=world.vaccine.antigen,
    )
    target = standard_next_date(
        vaccine=world.vaccine,
        dose_number=2,
        previous_on=dose_one,
        municipality_id=world.municipality.pk,
        rules=rules,
    )
    assert target is not None
    return target


# --- Dose-2 seats -------------------------------------------------------------------------------


def test_it_finds_dose_one_seats_with_no_dose_two_seat_at_the_interval(
    world: World, now: dt.datetime
) -> None:
    """2021 (Zürich, Yokosuka): dose-1 seats opened with no dose-2 days set up after them."""
    world.primary_series()
    world.slot(D(2026, 11, 10), capacity=5)
    findings = check(world, now)
    missing = finding(findings, "dose_two_seats_missing")
    assert missing.severity == Severity.ERROR
    assert missing.params["seats"] == 5
    assert missing.params["dates"] == "2026-11-10"
    assert "2026-11-10" in missing.text()

    # The day at the interval takes those five seats as dose 2; it offers no dose 1 of its own.
    world.slot(dose_two_date(world, D(2026, 11, 10)), capacity=5)
    assert "dose_two_seats_missing" not in codes(check(world, now))


def test_it_counts_each_dose_two_seat_once(world: World, now: dt.datetime) -> None:
    """Two dose-1 days cannot both count on the same five dose-2 seats."""
    world.primary_series()
    world.slot(D(2026, 11, 10), capacity=5)
    world.slot(D(2026, 11, 11), capacity=5)
    world.slot(dose_two_date(world, D(2026, 11, 11)), capacity=5)
    missing = finding(check(world, now), "dose_two_seats_missing")
    assert missing.params["seats"] == 5
    assert missing.params["dates"] == "2026-11-11"


def test_a_one_dose_campaign_needs_no_dose_two_seats(world: World, now: dt.datetime) -> None:
    world.slot(D(2026, 11, 10), capacity=5)  # the routine campaign: one dose a season
    assert "dose_two_seats_missing" not in codes(check(world, now))


# --- Days: closed, lots, vaccines, windows ------------------------------------------------------


def test_it_finds_slots_on_closed_days(world: World, now: dt.datetime) -> None:
    ClosedDay.objects.create(
        municipality=world.municipality, date=D(2026, 11, 12), name="市制記念日"
    )
    world.slot(D(2026, 11, 12))
    world.slot(D(2026, 11, 3))  # 文化の日
    world.slot(D(2026, 11, 13))
    findings = check(world, now)
    own = finding(findings, "slots_on_closed_day")
    assert (own.severity, own.params["date"]) == (Severity.ERROR, "2026-11-12")
    assert "市制記念日" in own.text()
    holiday = finding(findings, "slots_on_holiday")
    assert (holiday.severity, holiday.params["date"]) == (Severity.WARNING, "2026-11-03")
    assert all(f.params.get("date") != "2026-11-13" for f in findings)


def test_it_finds_a_day_soon_with_no_lots(world: World, now: dt.datetime) -> None:
    day = world.slot(D(2026, 11, 4)).operating_day  # two days ahead
    world.slot(D(2026, 11, 20))  # lots are entered nearer the day
    lots = finding(check(world, now), "day_without_lots")
    assert (lots.severity, lots.params["dates"]) == (Severity.WARNING, "2026-11-04")
    DayLot.objects.create(operating_day=day, lot_number="FA1234")
    assert "day_without_lots" not in codes(check(world, now))


def test_it_finds_a_vaccine_outside_the_campaign(world: World, now: dt.datetime) -> None:
    other = Vaccine.objects.exclude(pk__in=world.campaign.vaccines.all()).first()
    assert other is not None
    world.slot(D(2026, 11, 10), vaccine=other)
    assert finding(check(world, now), "vaccine_not_in_campaign").severity == Severity.ERROR


def test_it_finds_a_change_deadline_before_booking_closes(world: World, now: dt.datetime) -> None:
    # One day earlier is the usual arrangement (the world's days: close 0, changes 1): a warning.
    world.slot(D(2026, 11, 10))
    usual = finding(check(world, now), "change_deadline_before_booking_closes")
    assert (usual.severity, usual.params["gap"]) == (Severity.WARNING, 1)
    # Changes closing a week before booking does: a week of bookings nobody can cancel online.
    world.slot(D(2026, 11, 20), closes=0, change_closes=7)
    wide = finding(check(world, now), "change_deadline_before_booking_closes")
    assert (wide.severity, wide.params["gap"], wide.params["count"]) == (Severity.ERROR, 7, 2)


def test_consistent_windows_give_no_deadline_finding(world: World, now: dt.datetime) -> None:
    world.slot(D(2026, 11, 10), closes=1, change_closes=1)
    assert "change_deadline_before_booking_closes" not in codes(check(world, now))


def test_it_requires_a_call_centre_number(world: World, now: dt.datetime) -> None:
    world.slot(D(2026, 11, 10))
    assert "call_centre_phone_missing" not in codes(check(world, now))
    world.municipality.call_centre_phone = ""
    world.municipality.save()
    assert "call_centre_phone_missing" in codes(check(world, now), Severity.ERROR)


# --- Openings: the day, the capacity ------------------------------------------------------------


def opening(world: World, opens_at: dt.datetime, **fields: object) -> CohortOpening:
    return CohortOpening.objects.create(
        municipality=world.municipality,
        born_to=fields.pop("born_to", D(1946, 12, 31)),
        opens_at=opens_at,
        **fields,
    )


def test_it_finds_an_opening_on_a_closed_day_or_a_weekend(world: World, now: dt.datetime) -> None:
    """2021: windows opened on the wrong day, with the city office shut."""
    world.slot(D(2026, 11, 20))
    holiday = opening(world, jst(2026, 11, 3, 9))  # 文化の日
    saturday = opening(world, jst(2026, 11, 7, 9), born_from=D(1947, 1, 1), born_to=D(1956, 12, 31))
    weekday = opening(world, jst(2026, 11, 9, 9), born_from=D(1957, 1, 1), born_to=None)
    on_holiday = check(world, now, opening=holiday)
    assert finding(on_holiday, "opening_on_closed_day").severity == Severity.ERROR
    assert "文化の日" in finding(on_holiday, "opening_on_closed_day").text()
    assert finding(check(world, now, opening=saturday), "opening_on_weekend").severity == (
        Severity.WARNING
    )
    assert not {"opening_on_closed_day", "opening_on_weekend"} & codes(
        check(world, now, opening=weekday)
    )


def test_it_weighs_capacity_against_the_cohort_and_expected_demand(
    world: World, now: dt.datetime
) -> None:
    for _ in range(10):
        world.resident(D(1940, 5, 5))
    world.resident(D(1980, 1, 1))  # outside the band
    door = opening(world, jst(2026, 11, 9, 9))
    world.slot(D(2026, 11, 20), capacity=5)
    short = finding(check(world, now, opening=door), "seats_below_demand")
    # 10 ticket holders in the band × 77% expected uptake (SEASON_CHECK_UPTAKE_PERCENT).
    assert (short.params["cohort"], short.params["expected"], short.params["people"]) == (10, 8, 5)
    door.expected_bookings = 4
    door.save()
    summary = finding(check(world, now, opening=door), "capacity_summary")
    assert (summary.severity, summary.params["expected"]) == (Severity.INFO, 4)


def test_a_two_dose_seat_counts_half_a_person(world: World, now: dt.datetime) -> None:
    world.primary_series()
    for _ in range(5):  # 5 × 77% = 4 expected
        world.resident(D(1940, 5, 5))
    door = opening(world, jst(2026, 11, 9, 9), campaign=world.campaign)
    world.slot(D(2026, 11, 20), capacity=6)
    assert finding(check(world, now, opening=door), "seats_below_demand").params["people"] == 3


def test_it_finds_an_opening_with_nothing_to_book(world: World, now: dt.datetime) -> None:
    world.resident(D(1940, 5, 5))
    door = opening(world, jst(2026, 11, 9, 9))
    assert finding(check(world, now, opening=door), "no_seats").severity == Severity.ERROR
    # Seats exist, but the day's own window opens only 5 days before it: nothing to book at 9:00.
    world.slot(D(2026, 11, 30), opens=5)
    findings = check(world, now, opening=door)
    assert "no_seats" not in codes(findings)
    assert finding(findings, "nothing_bookable_at_opening").severity == Severity.ERROR


def test_it_warns_of_a_band_with_no_tickets(world: World, now: dt.datetime) -> None:
    """The ticket list was never imported for this band."""
    door = opening(world, jst(2026, 11, 9, 9))
    world.slot(D(2026, 11, 20))
    assert finding(check(world, now, opening=door), "cohort_empty").severity == Severity.WARNING


def test_a_check_that_fails_is_an_error(
    world: World, now: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reservations import season_check as module

    def broken(scope: object) -> list[Finding]:
        raise RuntimeError("boom")

    monkeypatch.setitem(module._checks, "test.broken", broken)
    failed = finding(check(world, now), "check_failed")
    assert (failed.severity, failed.params["check"]) == (Severity.ERROR, "test.broken")


def test_findings_are_shown_in_the_readers_language(world: World, now: dt.datetime) -> None:
    world.municipality.call_centre_phone = ""
    world.municipality.save()
    missing = finding(check(world, now), "call_centre_phone_missing")
    stored = Finding.from_json(missing.as_json())
    assert "コールセンターの電話番号" in stored.text()
    with translation.override("en"):
        assert "call centre" in stored.text().lower()
        assert stored.severity_label() == "Error"


# --- The block, the override, the beat -------------------------------------------------------


@pytest.fixture
def held_door(world: World, now: dt.datetime) -> CohortOpening:
    """An opening at 10:00 today whose set-up has an error (no call-centre number), checked at
    9:00: held shut."""
    world.slot(D(2026, 11, 10), reserved=2)
    world.municipality.call_centre_phone = ""
    world.municipality.save()
    door = opening(world, now + dt.timedelta(hours=1))
    run = opening_check_run(opening=door, now=now, trigger=OpeningCheck.Trigger.SCHEDULE)
    assert run.blocked and run.error_codes == ["call_centre_phone_missing"]
    door.refresh_from_db()
    assert door.check_blocked
    return door


def test_an_opening_with_errors_stays_shut_to_bookings(
    world: World, now: dt.datetime, held_door: CohortOpening
) -> None:
    later = now + dt.timedelta(hours=2)  # the door's time has come
    slot = world.slot(D(2026, 11, 10))
    ticket = world.resident(D(1940, 5, 5))
    with pytest.raises(OpeningBlocked) as refused:
        reservation_book(ticket=ticket, slot=slot, requester=world.web, now=later)
    assert refused.value.code == "opening_blocked"
    assert "コールセンター" in str(refused.value)
    with translation.override("en"):
        assert "call centre" in str(OpeningBlocked()).lower()
    # Nor does the resident see slots through the shut door.
    assert slot_list_available(resident=ticket.resident, now=later, **NOVEMBER) == []
    # Before its time it is an ordinary shut door, naming the time.
    with pytest.raises(Exception) as early:
        reservation_book(ticket=ticket, slot=slot, requester=world.web, now=now)
    assert early.value.code == "cohort_not_open_yet"  # type: ignore[attr-defined]


def test_staff_who_may_override_the_window_can_book_one_person_with_a_reason(
    world: World, now: dt.datetime, held_door: CohortOpening
) -> None:
    user = staff_with("supervisor", "book_on_behalf", "override_booking_window")
    staff = Requester(channel=world.phone().channel, actor=world.phone().actor, user=user)
    ticket = world.resident(D(1940, 5, 5))
    booked = reservation_book(
        ticket=ticket,
        slot=world.slot(D(2026, 11, 10)),
        requester=staff,
        override_reason="本人が来庁、窓口で予約",
        now=now + dt.timedelta(hours=2),
    )
    assert booked.status == Reservation.Status.CONFIRMED
    assert booked.events.get().data["cohort_override"] == "本人が来庁、窓口で予約"


def test_only_an_administrator_with_a_reason_can_override(
    world: World, now: dt.datetime, held_door: CohortOpening
) -> None:
    run = held_door.checks.get()
    with pytest.raises(PermissionDenied):
        opening_check_override(check=run, user=world.operator, reason="急ぐため", now=now)
    admin = administrator()
    with pytest.raises(ReasonRequired):
        opening_check_override(check=run, user=admin, reason="  ", now=now)
    overridden = opening_check_override(
        check=run, user=admin, reason="番号は本日中に設定、案内文は市HPで代替", now=now
    )
    assert (overridden.overridden_by, overridden.overridden_at) == (admin, now)
    held_door.refresh_from_db()
    assert not held_door.check_blocked
    # The door now lets the band in.
    later = now + dt.timedelta(hours=2)
    ticket = world.resident(D(1940, 5, 5))
    assert len(slot_list_available(resident=ticket.resident, now=later, **NOVEMBER)) == 1
    booked = reservation_book(
        ticket=ticket, slot=world.slot(D(2026, 11, 10)), requester=world.web, now=later
    )
    assert booked.status == Reservation.Status.CONFIRMED


def test_an_override_covers_the_errors_it_accepted_not_new_ones(
    world: World, now: dt.datetime, held_door: CohortOpening
) -> None:
    accepted = opening_check_override(
        check=held_door.checks.get(), user=administrator(), reason="承知の上で開始", now=now
    )
    again = opening_check_run(
        opening=held_door, now=now + dt.timedelta(minutes=15), trigger=OpeningCheck.Trigger.SCHEDULE
    )
    assert (again.blocked, again.covered_by) == (False, accepted)
    # A new kind of error appears: a slot on the city's own closed day.
    ClosedDay.objects.create(municipality=world.municipality, date=D(2026, 11, 10), name="選挙")
    worse = opening_check_run(
        opening=held_door, now=now + dt.timedelta(minutes=30), trigger=OpeningCheck.Trigger.SCHEDULE
    )
    assert worse.blocked and worse.covered_by is None
    held_door.refresh_from_db()
    assert held_door.check_blocked


def test_a_fixed_set_up_opens_at_the_next_run(
    world: World, now: dt.datetime, held_door: CohortOpening
) -> None:
    world.municipality.call_centre_phone = "0987-00-0000"
    world.municipality.save()
    run = opening_check_run(
        opening=held_door, now=now + dt.timedelta(minutes=15), trigger=OpeningCheck.Trigger.ADMIN
    )
    assert not run.blocked and run.error_codes == []
    held_door.refresh_from_db()
    assert not held_door.check_blocked


def test_an_override_of_an_older_run_is_refused(
    world: World, now: dt.datetime, held_door: CohortOpening
) -> None:
    first = held_door.checks.get()
    opening_check_run(
        opening=held_door, now=now + dt.timedelta(minutes=15), trigger=OpeningCheck.Trigger.ADMIN
    )
    with pytest.raises(InvalidStateTransition):
        opening_check_override(check=first, user=administrator(), reason="古い結果", now=now)


def test_an_override_names_who_when_and_why_or_is_refused_by_the_database(
    world: World, now: dt.datetime, held_door: CohortOpening
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        OpeningCheck.objects.filter(opening=held_door).update(overridden_at=now)


def test_the_beat_checks_the_openings_due_within_a_day(
    world: World, now: dt.datetime, season_clock: object
) -> None:
    world.slot(D(2026, 11, 10), reserved=2)
    soon = opening(world, now + dt.timedelta(hours=20))
    later = opening(world, now + dt.timedelta(days=3), born_from=D(1947, 1, 1), born_to=None)
    assert openings_due(now=now) == [soon]
    world.municipality.call_centre_phone = ""
    world.municipality.save()
    assert openings_check_due_task() == {"checked": 1, "blocked": 1}
    soon.refresh_from_db()
    later.refresh_from_db()
    assert soon.check_blocked and soon.checked_at is not None
    assert later.checked_at is None
    # A held opening is checked at every run (so a fix opens it) even once its time has passed.
    assert soon in openings_due(now=now + dt.timedelta(days=2))


def test_the_beat_runs_the_task_every_quarter_hour() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["season-check-openings"]
    assert entry["task"] == openings_check_due_task.name
    assert entry["schedule"] == 15 * 60


# --- The command --------------------------------------------------------------------------------


def test_the_command_prints_the_findings_and_fails_on_errors(
    world: World, season_clock: object
) -> None:
    world.slot(D(2026, 11, 10), reserved=2)
    world.municipality.call_centre_phone = ""
    world.municipality.save()
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("season_check", "--municipality", "452041", stdout=out)
    assert failed.value.returncode == 1
    assert "[エラー] call_centre_phone_missing: コールセンターの電話番号" in out.getvalue()
    assert "エラー 1件" in out.getvalue()
    assert "エラーが 1 件あります" in str(failed.value)


def test_the_command_passes_a_set_up_without_errors(world: World, season_clock: object) -> None:
    # 2 of 5 seats held for the phone: about the share expected to phone without a plan.
    world.slot(D(2026, 11, 10), reserved=2)
    out = io.StringIO()
    call_command("season_check", "--municipality", "452041", stdout=out)
    assert "エラー 0件" in out.getvalue()
    assert "[情報] capacity_summary" in out.getvalue()


def test_the_command_records_the_openings_due_when_asked(
    world: World, now: dt.datetime, season_clock: object
) -> None:
    world.slot(D(2026, 11, 10), reserved=2)
    door = opening(world, now + dt.timedelta(hours=5))
    out = io.StringIO()
    call_command("season_check", "--municipality", "452041", "--record", stdout=out)
    assert "記録:" in out.getvalue()
    assert door.checks.get().trigger == OpeningCheck.Trigger.COMMAND


def test_the_command_names_an_unknown_municipality(world: World) -> None:
    with pytest.raises(CommandError, match="自治体コード 999999"):
        call_command("season_check", "--municipality", "999999")


# --- The admin ----------------------------------------------------------------------------------


def test_the_admin_reports_a_municipalitys_findings(
    world: World, client: Client, season_clock: object
) -> None:
    world.municipality.call_centre_phone = ""
    world.municipality.save()
    client.force_login(administrator())
    response = client.post(
        reverse("admin:reservations_municipality_changelist"),
        {"action": "municipality_season_check_action", "_selected_action": [world.municipality.pk]},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "call_centre_phone_missing" in page and "コールセンターの電話番号" in page
    assert not OpeningCheck.objects.exists()  # a report only


def test_the_admin_records_a_check_and_an_administrator_overrides_it(
    world: World, client: Client, now: dt.datetime, season_clock: object
) -> None:
    world.slot(D(2026, 11, 10), reserved=2)
    world.municipality.call_centre_phone = ""
    world.municipality.save()
    door = opening(world, now + dt.timedelta(hours=3))
    changelist = reverse("admin:reservations_cohortopening_changelist")
    client.force_login(administrator())
    client.post(changelist, {"action": "opening_check_action", "_selected_action": [door.pk]})
    run = door.checks.get()
    assert run.trigger == OpeningCheck.Trigger.ADMIN and run.blocked

    # The intermediate page shows the errors and asks for a reason; an empty one is refused.
    override = {"action": "opening_override_action", "_selected_action": [door.pk]}
    page = client.post(changelist, override)
    assert "call_centre_phone_missing" in page.content.decode()
    client.post(changelist, {**override, "apply": "1", "reason": ""})
    run.refresh_from_db()
    assert run.overridden_at is None
    client.post(changelist, {**override, "apply": "1", "reason": "番号は午後に設定する"})
    run.refresh_from_db()
    assert run.override_reason == "番号は午後に設定する"
    assert run.overridden_by is not None and run.overridden_by.username == "admin"
    door.refresh_from_db()
    assert not door.check_blocked
    detail = client.get(reverse("admin:reservations_openingcheck_change", args=[run.pk]))
    assert "コールセンターの電話番号" in detail.content.decode()


def test_an_operator_is_not_offered_the_override(world: World, client: Client) -> None:
    user = staff_with("clerk", "view_cohortopening", "change_cohortopening")
    client.force_login(user)
    page = client.get(reverse("admin:reservations_cohortopening_changelist"))
    assert page.status_code == 200
    assert "opening_override_action" not in page.content.decode()


def test_an_openings_page_shows_its_last_check_and_links_its_history(
    world: World, client: Client, now: dt.datetime, held_door: CohortOpening
) -> None:
    client.force_login(administrator())
    page = client.get(reverse("admin:reservations_cohortopening_change", args=[held_door.pk]))
    assert "コールセンターの電話番号" in page.content.decode()
    history = client.get(
        reverse("admin:reservations_openingcheck_changelist") + f"?opening={held_door.pk}"
    )
    assert history.status_code == 200
    assert str(held_door) in history.content.decode()
