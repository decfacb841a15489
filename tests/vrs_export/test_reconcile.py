"""reconcile_vrs: round trip, doses given elsewhere, the double bookings they leave behind."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from reservations import roles
from reservations.models import Reservation, ReservationEvent, Slot, Vaccination
from reservations.services.booking import reservation_book
from tests.vrs_export.cohort import build_cohort, venue_staff
from tests.world import World, jst
from vrs_export.formats import ledger_header

pytestmark = pytest.mark.django_db
NOW = jst(2026, 11, 2, 9)


def reconcile(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("reconcile_vrs", str(path), *args, stdout=out)
    return out.getvalue()


def ledger_file(tmp_path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path = tmp_path / "vrs.csv"
    lines = [ledger_header(2), *rows]
    path.write_bytes("".join(",".join(r) + "\r\n" for r in lines).encode(encoding))
    return path


def block(on: str, ticket: str, where: str = "131016", lot: str = "EY0779") -> list[str]:
    return [
        on + "170203",
        on,
        ticket,
        where,
        "大規模接種センター",
        "東京 次郎",
        "武田/モデルナ",
        lot,
    ]


@pytest.fixture
def reconciler(db: None) -> str:
    venue_staff("reconciler", roles.OPERATORS, roles.EXPORTERS)
    return "reconciler"


def test_a_ledger_we_exported_reconciles_back_without_change(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    build_cohort(world)
    path = tmp_path / "ours.csv"
    for encoding in ("utf-8", "utf-8-sig", "cp932"):
        call_command(
            "export_vrs",
            "--format",
            "ledger",
            "--from",
            "2021-01-01",
            "--to",
            "2026-11-30",
            "--encoding",
            encoding,
            "--output",
            str(path),
        )
        before = list(Vaccination.objects.values_list("pk", "status", "version"))
        out = reconcile(path, "--apply", "--user", reconciler)
        assert list(Vaccination.objects.values_list("pk", "status", "version")) == before
        assert "既知の接種 6 / 取り込み 0" in out
        assert "キャンセルした重複予約: 0" in out and "取り込めなかった行: 0" in out
        assert "日付の食い違い（手動で確認・訂正してください）: 0" in out


def test_it_reports_then_cancels_a_booking_for_a_dose_given_elsewhere(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    slot = world.slot(dt.date(2026, 11, 20))
    ticket = world.resident()
    booked = reservation_book(ticket=ticket, slot=slot, requester=world.web, now=NOW)
    path = ledger_file(tmp_path, [["", *block("20261025", ticket.number), *[""] * 8]])

    dry = reconcile(path)
    assert "取り込み予定 1" in dry and booked.code in dry
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CONFIRMED
    assert not Vaccination.objects.exists()

    done = reconcile(path, "--apply", "--user", reconciler)
    assert "取り込み 1" in done and booked.code in done
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CANCELLED
    assert booked.cancel_reason == Reservation.CancelReason.VACCINATED_ELSEWHERE
    event = booked.events.get(kind=ReservationEvent.Kind.CANCELLED)
    assert event.data["reason"] == "vaccinated_elsewhere" and event.actor_user is not None
    assert Slot.objects.get(pk=slot.pk).booked == 0  # the seat is free again
    imported = Vaccination.objects.get()
    assert imported.source == Vaccination.Source.VRS_IMPORT
    assert (imported.given_in_municipality_code, imported.vaccine.code) == ("131016", "moderna")
    # Running it again changes nothing.
    again = reconcile(path, "--apply", "--user", reconciler)
    assert "既知の接種 1 / 取り込み 0" in again and Vaccination.objects.count() == 1


def test_it_never_overwrites_a_record_that_differs(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    cohort = build_cohort(world)
    number = cohort.tickets["b"].number
    path = ledger_file(tmp_path, [["", *block("20261019", number), *[""] * 8]])
    out = reconcile(path, "--apply", "--user", reconciler)
    assert "VRSは2026-10-19、本システムは2026-10-21" in out
    assert Vaccination.objects.filter(resident=cohort.tickets["b"].resident).count() == 2


def test_it_lists_rows_it_cannot_place(world: World, tmp_path: Path, reconciler: str) -> None:
    ticket = world.resident()
    path = ledger_file(
        tmp_path,
        [
            ["", *block("20261025", "0999999999"), *[""] * 8],
            ["", *block("20261025", ticket.number, lot="ロット"), *[""] * 8],
            ["", *block("20261025", ticket.number, where="131017"), *[""] * 8],
            ["", *block("20210230", ticket.number), *[""] * 8],
        ],
        encoding="cp932",
    )
    out = reconcile(path, "--apply", "--user", reconciler)
    assert "取り込めなかった行: 4" in out and not Vaccination.objects.exists()


def test_it_refuses_a_file_that_is_not_a_vrs_ledger(world: World, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\r\n1,2,3\r\n")
    with pytest.raises(CommandError):
        reconcile(path)


def test_apply_needs_a_permitted_user(world: World, tmp_path: Path) -> None:
    path = ledger_file(tmp_path, [])
    with pytest.raises(CommandError):
        reconcile(path, "--apply")
    venue_staff("plain", roles.VENUE_STAFF)
    with pytest.raises(CommandError):
        reconcile(path, "--apply", "--user", "plain")


def test_a_nul_in_line_7_is_refused_by_its_line_and_nothing_is_imported(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    tickets = [world.resident() for _ in range(6)]
    rows = [["", *block("20261025", t.number), *[""] * 8] for t in tickets]
    rows[5][6] = "東京\x00次郎"  # data row 6 is line 7 (the header is line 1)
    path = ledger_file(tmp_path, rows)
    with pytest.raises(CommandError) as refused:
        reconcile(path, "--apply", "--user", reconciler)
    assert "7行目" in str(refused.value) and "U+0000" in str(refused.value)
    # The five good people before it were not applied either: the file is checked first.
    assert not Vaccination.objects.exists()


def test_a_formula_in_a_vrs_ledger_is_not_imported(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    ticket = world.resident()
    row = ["", *block("20261025", ticket.number), *[""] * 8]
    row[6] = "=cmd|'/C calc'!A0"
    out = reconcile(ledger_file(tmp_path, [row]), "--apply", "--user", reconciler)
    assert "取り込めなかった行: 1" in out and "2行目" in out
    assert not Vaccination.objects.exists()
