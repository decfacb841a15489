"""reconcile_vrs: matched by person, date and vaccine; the dose number is a check; every header
variant read; the bookings doses given elsewhere replace; every run audited."""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from reservations import roles
from reservations.models import Reservation, ReservationEvent, Slot, Ticket, Vaccination
from reservations.services.booking import reservation_book
from tests.vrs_export.cohort import build_cohort, give, venue_staff
from tests.world import World, jst
from vrs_export.formats import ledger_header
from vrs_export.models import ReconcileRun
from vrs_export.reconcile import previews_purge, read_file

pytestmark = pytest.mark.django_db
NOW = jst(2026, 11, 2, 9)
REASON = ("--reason", "11月分のVRS台帳")


def reconcile(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("reconcile_vrs", str(path), *args, stdout=out)
    return out.getvalue()


def ledger_bytes(
    rows: list[list[str]],
    *,
    blocks: int = 2,
    header: list[str] | None = None,
    encoding: str = "utf-8",
    newline: str = "\r\n",
    with_header: bool = True,
) -> bytes:
    lines = ([header or ledger_header(blocks)] if with_header else []) + rows
    return "".join(",".join(r) + newline for r in lines).encode(encoding)


def ledger_file(tmp_path: Path, rows: list[list[str]], **options: object) -> Path:
    path = tmp_path / "vrs.csv"
    path.write_bytes(ledger_bytes(rows, **options))  # type: ignore[arg-type]
    return path


def block(
    on: str, ticket: str, where: str = "131016", lot: str = "EY0779", maker: str = "武田/モデルナ"
) -> list[str]:
    return [
        on + "170203",
        on,
        ticket,
        where,
        "大規模接種センター",
        "東京 次郎",
        maker,
        lot,
    ]


EMPTY = [""] * 8


@pytest.fixture
def reconciler(db: None) -> str:
    """An exporter and nothing else: the role the issue says must be able to apply."""
    venue_staff("reconciler", roles.EXPORTERS)
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
        out = reconcile(path, "--apply", "--user", reconciler, *REASON)
        assert list(Vaccination.objects.values_list("pk", "status", "version")) == before
        assert "既知の接種 6 / 取り込み 0" in out
        assert "他所接種済みでキャンセルした予約: 0" in out and "取り込めなかった行: 0" in out
        assert "食い違い（手動で確認・訂正してください）: 0" in out


def test_an_exporter_previews_then_cancels_a_booking_for_a_dose_given_elsewhere(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    slot = world.slot(dt.date(2026, 11, 20))
    ticket = world.resident()
    booked = reservation_book(ticket=ticket, slot=slot, requester=world.web, now=NOW)
    path = ledger_file(tmp_path, [["", *block("20261025", ticket.number), *EMPTY]])

    dry = reconcile(path)
    assert "取り込み予定 1" in dry and booked.code in dry
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CONFIRMED
    assert not Vaccination.objects.exists()

    done = reconcile(path, "--apply", "--user", reconciler, *REASON)
    assert "取り込み 1" in done and booked.code in done
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CANCELLED
    assert booked.cancel_reason == Reservation.CancelReason.VACCINATED_ELSEWHERE
    event = booked.events.get(kind=ReservationEvent.Kind.CANCELLED)
    assert event.data["reason"] == "vaccinated_elsewhere" and event.actor_user is not None
    assert event.actor_user.username == reconciler
    assert Slot.objects.get(pk=slot.pk).booked == 0  # the seat is free again
    imported = Vaccination.objects.get()
    assert imported.source == Vaccination.Source.VRS_IMPORT
    assert (imported.given_in_municipality_code, imported.vaccine.code) == ("131016", "moderna")
    # Running it again changes nothing.
    again = reconcile(path, "--apply", "--user", reconciler, *REASON)
    assert "既知の接種 1 / 取り込み 0" in again and Vaccination.objects.count() == 1
    # Every run is audited with the file's checksum; the command keeps no copy of the file.
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    runs = list(ReconcileRun.objects.order_by("pk").values_list("mode", "sha256", "cancelled"))
    assert runs == [("preview", digest, 1), ("applied", digest, 1), ("applied", digest, 0)]
    assert not ReconcileRun.objects.filter(content__isnull=False).exists()


def test_a_seventh_dose_in_vrs_against_our_seasons_first_booking_is_a_finding_not_a_refusal(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    """Routine seasons count from the season, VRS from 2021: VRS's 7th is our 1st."""
    slot = world.slot(dt.date(2026, 11, 20))
    ticket = world.resident()
    booked = reservation_book(ticket=ticket, slot=slot, requester=world.web, now=NOW)
    assert booked.dose_number == 1
    history = ["20210601", "20210622", "20220115", "20221101", "20231020", "20241025", "20261025"]
    row = [""]
    for on in history:
        row += block(on, ticket.number)
    path = ledger_file(tmp_path, [row], blocks=7)

    out = reconcile(path, "--apply", "--user", reconciler, *REASON)
    assert "取り込み 7" in out and "取り込めなかった行: 0" in out
    assert "予約は1回目、ファイルでは7回目" in out
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CANCELLED
    numbers = list(
        Vaccination.objects.order_by("vaccinated_on").values_list("dose_number", flat=True)
    )
    assert numbers == [1, 2, 3, 4, 5, 6, 7]
    # Only the season's dose replaced the season's booking: the 2021–2024 doses did not.
    assert Reservation.objects.filter(status=Reservation.Status.CANCELLED).count() == 1


def test_our_seasons_first_dose_matches_vrss_seventh_by_date(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    cohort = build_cohort(world)
    ticket = world.resident()
    give(cohort, ticket, dt.date(2026, 10, 25))
    row = [""]
    for on in ["20210601", "20210622", "20220115", "20221101", "20231020", "20241025", "20261025"]:
        row += block(on, ticket.number)
    row[-2] = "ファイザー"  # our dose was pfizer-12: the same dose, by date and maker
    out = reconcile(
        ledger_file(tmp_path, [row], blocks=7), "--apply", "--user", reconciler, *REASON
    )
    assert "既知の接種 1 / 取り込み 0" in out
    assert "ファイルでは7回目、本システムでは1回目" in out
    # The six earlier doses would renumber ours: reported for staff, not imported.
    assert "本システムの記録より前の接種 6回" in out
    assert Vaccination.objects.filter(resident=ticket.resident).count() == 1


def test_a_count_ahead_of_ours_is_taken_and_one_behind_ours_is_reported(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    ticket = world.resident()
    # Only the 5th block filled: VRS counts doses we never saw.
    row = ["", *EMPTY * 4, *block("20261025", ticket.number)]
    reconcile(ledger_file(tmp_path, [row], blocks=5), "--apply", "--user", reconciler, *REASON)
    assert Vaccination.objects.get().dose_number == 5  # the next booking counts on from 6
    cohort = build_cohort(world)
    a = cohort.tickets["a"]  # three doses here, the last on 2026-10-20
    row = ["", *block("20261106", a.number), *EMPTY]  # VRS calls it the 1st
    out = reconcile(ledger_file(tmp_path, [row]), "--apply", "--user", reconciler, *REASON)
    assert "取り込み 1" in out and "ファイルでは1回目、本システムでは4回目" in out
    assert (
        Vaccination.objects.get(resident=a.resident, vaccinated_on=dt.date(2026, 11, 6)).dose_number
        == 4
    )


def test_it_never_overwrites_a_record_that_differs(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    cohort = build_cohort(world)
    number = cohort.tickets["b"].number
    path = ledger_file(tmp_path, [["", *block("20261019", number), *EMPTY]])
    out = reconcile(path, "--apply", "--user", reconciler, *REASON)
    assert "ファイルは2026-10-19、本システムは2026-10-21" in out
    assert Vaccination.objects.filter(resident=cohort.tickets["b"].resident).count() == 2


FULL_WIDTH = [c.replace("(空欄)", "（空欄）") for c in ledger_header(2)]
NO_BLANK_MARK = [c.replace("(空欄)", "") for c in ledger_header(2)]
SPACED = [f" {c} " for c in ledger_header(2)]


@pytest.mark.parametrize(
    ("options", "assumed"),
    [
        ({}, "文字コード: UTF-8（BOMなし）"),
        ({"header": FULL_WIDTH}, "表記ゆれ"),
        ({"header": NO_BLANK_MARK}, "表記ゆれ"),
        ({"header": SPACED}, "表記ゆれ"),
        ({"with_header": False}, "見出し行がないため"),
        ({"newline": "\n"}, "改行: LF"),
        ({"newline": "\r\n"}, "改行: CRLF"),
        ({"encoding": "utf-8-sig"}, "UTF-8（BOMつき）"),
        ({"encoding": "cp932"}, "Shift_JIS（CP932）"),
        ({"encoding": "cp932", "with_header": False, "newline": "\n"}, "見出し行がないため"),
    ],
)
def test_every_header_variant_seen_in_the_wild_is_read_and_the_assumption_reported(
    world: World, tmp_path: Path, reconciler: str, options: dict[str, object], assumed: str
) -> None:
    ticket = world.resident()
    path = ledger_file(tmp_path, [["", *block("20261025", ticket.number), *EMPTY]], **options)
    out = reconcile(path, "--apply", "--user", reconciler, *REASON)
    assert "取り込み 1" in out and "取り込めなかった行: 0" in out, out
    assert assumed in out
    assert Vaccination.objects.get().vaccinated_on == dt.date(2026, 10, 25)


def test_a_file_mixing_matched_new_conflicting_and_unplaceable_rows(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    cohort = build_cohort(world)
    a = cohort.tickets["a"].number
    newcomer = world.resident()
    booked = reservation_book(
        ticket=newcomer, slot=world.slot(dt.date(2026, 11, 24)), requester=world.web, now=NOW
    )
    rows = [
        # Ours (pfizer-12), matched by date and maker.
        ["", *block("20210601", a, maker="ファイザー"), *block("20210622", a, maker="ファイザー")],
        ["", *block("20261028", newcomer.number), *EMPTY],  # new: import, cancel the booking
        ["", *block("20261019", cohort.tickets["b"].number), *EMPTY],  # ours is 10-21
        ["", *block("20261025", "0999999999"), *EMPTY],  # nobody
        ["", *block("20261025", world.resident().number, lot="ロット"), *EMPTY],  # bad lot
        ["", "x"],  # wrong width
    ]
    path = ledger_file(tmp_path, rows)
    preview = reconcile(path)
    assert "既知の接種 2 / 取り込み予定 1" in preview
    assert "食い違い（手動で確認・訂正してください）: 1" in preview
    assert "取り込めなかった行: 3" in preview
    assert Vaccination.objects.filter(resident=newcomer.resident).count() == 0
    out = reconcile(path, "--apply", "--user", reconciler, *REASON)
    assert "既知の接種 2 / 取り込み 1" in out and booked.code in out
    assert "7行目: 列数が2列です" in out and "5行目" in out and "6行目" in out
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CANCELLED
    run = ReconcileRun.objects.get(mode="applied")
    assert (run.known, run.imported, run.cancelled, run.conflicts, run.problems) == (2, 1, 1, 1, 3)


def test_a_register_file_we_wrote_reads_back_and_a_flu_dose_elsewhere_is_imported(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    from reservations.models import Campaign, Vaccine

    cohort = build_cohort(world)
    b = cohort.tickets["b"]  # the one with a 宛名番号
    flu = Vaccine.objects.get(code="influenza-ha")
    season = Campaign.objects.get(code="influenza-routine-2026")
    flu_slot = world.slot(dt.date(2026, 11, 26), vaccine=flu, campaign=season)
    booked = reservation_book(ticket=b, slot=flu_slot, requester=world.web, now=NOW)
    birth = b.resident.birth_date.strftime("%Y%m%d")
    header = (
        "宛名番号,氏名カナ,生年月日,接種日,ワクチン,ロット,医療機関,医師,自己負担区分,"
        "接種回数,接種事業,記録ID,版数"
    )
    row = (
        f"12345,ニチナン ハナコ,{birth},20261030,{flu.name},HA-123,宮崎クリニック,宮崎 医師,"
        "1,1,influenza-routine,,"
    )
    path = tmp_path / "register.csv"
    path.write_bytes(f"{header}\r\n{row}\r\n".encode("cp932"))
    out = reconcile(path, "--apply", "--user", reconciler, *REASON)
    assert "予防接種台帳（1回1行）" in out and "取り込み 1" in out, out
    dose = Vaccination.objects.get(vaccine=flu)
    assert (dose.campaign, dose.dose_number, dose.given_in_municipality_code) == (
        season,
        1,
        world.municipality.code,
    )
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CANCELLED
    # A wrong birth date for the 宛名番号 is that row's problem, not a guess.
    path.write_bytes(f"{header}\r\n{row.replace(birth, '19000101')}\r\n".encode())
    assert "生年月日が宛名番号の住民と一致しません" in reconcile(path)


def test_it_refuses_a_file_that_is_not_a_vrs_ledger_and_audits_the_refusal(
    world: World, tmp_path: Path
) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\r\n1,2,3\r\n")
    with pytest.raises(CommandError, match="予防接種台帳"):
        reconcile(path)
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(CommandError, match="文字コード"):
        reconcile(path)
    assert list(ReconcileRun.objects.values_list("mode", flat=True)) == ["refused", "refused"]


def test_apply_needs_a_permitted_user_and_a_reason(world: World, tmp_path: Path) -> None:
    path = ledger_file(tmp_path, [])
    with pytest.raises(CommandError):
        reconcile(path, "--apply", *REASON)
    venue_staff("plain", roles.VENUE_STAFF)
    with pytest.raises(CommandError, match="権限"):
        reconcile(path, "--apply", "--user", "plain", *REASON)
    venue_staff("exporter", roles.EXPORTERS)
    with pytest.raises(CommandError, match="理由"):
        reconcile(path, "--apply", "--user", "exporter")


def test_a_nul_in_line_7_is_refused_by_its_line_and_nothing_is_imported(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    tickets = [world.resident() for _ in range(6)]
    rows = [["", *block("20261025", t.number), *EMPTY] for t in tickets]
    rows[5][6] = "東京\x00次郎"  # data row 6 is line 7 (the header is line 1)
    path = ledger_file(tmp_path, rows)
    with pytest.raises(CommandError) as refused:
        reconcile(path, "--apply", "--user", reconciler, *REASON)
    assert "7行目" in str(refused.value) and "U+0000" in str(refused.value)
    # The five good people before it were not applied either: the file is checked first.
    assert not Vaccination.objects.exists()


def test_a_formula_in_a_vrs_ledger_is_not_imported(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    ticket = world.resident()
    row = ["", *block("20261025", ticket.number), *EMPTY]
    row[6] = "=cmd|'/C calc'!A0"
    out = reconcile(ledger_file(tmp_path, [row]), "--apply", "--user", reconciler, *REASON)
    assert "取り込めなかった行: 1" in out and "2行目" in out
    assert not Vaccination.objects.exists()


def test_an_unlisted_municipality_code_is_that_rows_problem(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    ticket = world.resident()
    # 019992 has a valid check digit but is no municipality.
    path = ledger_file(tmp_path, [["", *block("20261025", ticket.number, where="019992"), *EMPTY]])
    out = reconcile(path, "--apply", "--user", reconciler, *REASON)
    assert "取り込めなかった行: 1" in out and "019992" in out
    assert not Vaccination.objects.exists()


def test_the_reader_pads_trailing_blocks_a_spreadsheet_dropped() -> None:
    data = ledger_bytes([["", *block("20261025", "0000000001")]], blocks=3)
    read = read_file(data)
    assert len(read.rows) == 1 and len(read.rows[0].doses) == 1 and not read.problems
    assert any("末尾の空の回" in line for line in read.assumptions)
    bom = read_file(codecs.BOM_UTF8 + data)
    assert "UTF-8（BOMつき）" in bom.assumptions[0]


def test_unapplied_previews_lose_their_file_after_two_hours(world: World) -> None:
    run = ReconcileRun.objects.create(
        mode="preview",
        via="web",
        municipality_code=world.municipality.code,
        sha256="0" * 64,
        content=b"x",
        started_at=NOW,
    )
    assert previews_purge(now=NOW + dt.timedelta(hours=1), dry_run=False) == 0
    assert previews_purge(now=NOW + dt.timedelta(hours=3), dry_run=True) == 1
    assert previews_purge(now=NOW + dt.timedelta(hours=3), dry_run=False) == 1
    run.refresh_from_db()
    assert run.content is None


def test_tickets_of_another_municipality_are_not_matched(
    world: World, tmp_path: Path, reconciler: str
) -> None:
    from reservations.models import Municipality

    other = Municipality.objects.create(code="452025", name="都城市")
    ticket = world.resident()
    Ticket.objects.filter(pk=ticket.pk).update(municipality=other)
    path = ledger_file(tmp_path, [["", *block("20261025", ticket.number), *EMPTY]])
    out = reconcile(path, "--apply", "--user", reconciler, *REASON)
    assert "住民が見つかりません" in out and not Vaccination.objects.exists()
