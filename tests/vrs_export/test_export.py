"""export_vrs end to end: layouts, encodings, validation, batches, golden files."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from reservations.csv_safety import starts_like_formula
from reservations.exceptions import VaccinationInvalid
from reservations.models import Vaccination
from tests.vrs_export.cohort import Cohort, build_cohort, give
from tests.world import World
from vrs_export.formats import EVENTS_HEADER, ledger_header
from vrs_export.models import ExportBatch

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).parent / "golden"
ENCODINGS = ["utf-8", "utf-8-sig", "cp932"]


@pytest.fixture
def cohort(world: World) -> Cohort:
    return build_cohort(world)


def export(tmp_path: Path, *args: str) -> Path:
    target = tmp_path / "out.csv"
    call_command(
        "export_vrs", "--from", "2021-01-01", "--to", "2026-11-30", "--output", str(target), *args
    )
    return target


def rows_of(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("fmt", ["ledger", "events"])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_it_matches_the_golden_files_byte_for_byte(
    cohort: Cohort, tmp_path: Path, fmt: str, encoding: str
) -> None:
    written = export(tmp_path, "--format", fmt, "--encoding", encoding).read_bytes()
    golden = GOLDEN / f"{fmt}.{encoding}.csv"
    if os.environ.get("REGENERATE_GOLDEN") == "1":
        golden.write_bytes(written)
    assert written == golden.read_bytes()


def test_the_golden_files_follow_the_conventions() -> None:
    for path in GOLDEN.glob("*.csv"):
        data = path.read_bytes()
        assert data.endswith(b"\r\n") and not data.endswith(b"\r\n\r\n")
        assert b"\n" not in data.replace(b"\r\n", b"")
        assert data.startswith(b"\xef\xbb\xbf") == (".utf-8-sig." in path.name)
    utf8 = (GOLDEN / "ledger.utf-8.csv").read_bytes()
    assert (GOLDEN / "ledger.cp932.csv").read_bytes() == utf8.decode("utf-8").encode("cp932")


def test_the_ledger_has_one_row_per_person_in_the_vrs_layout(
    cohort: Cohort, tmp_path: Path
) -> None:
    rows = rows_of(export(tmp_path, "--format", "ledger"))
    assert rows[0] == ledger_header(3)
    assert rows[0][:17] == [
        "個別宛名番号(空欄)",
        "1回目接種履歴登録日時",
        "1回目接種日",
        "1回目券番号",
        "1回目接種自治体コード",
        "1回目接種会場名",
        "1回目接種医師名",
        "1回目ワクチンメーカー",
        "1回目ワクチンロット番号",
        "2回目接種履歴登録日時",
        "2回目接種日",
        "2回目券番号",
        "2回目接種自治体コード",
        "2回目接種会場名",
        "2回目接種医師名",
        "2回目ワクチンメーカー",
        "2回目ワクチンロット番号",
    ]
    body = rows[1:]
    assert len(body) == 3  # a, b, c; d's only dose was cancelled
    a, b, c = body
    assert a[1:9] == [
        "20261101183005",
        "20210601",
        "0000000001",
        "452041",
        "文化センター",
        "宮崎 一郎",
        "ファイザー",
        "FF3620",
    ]
    assert a[18] == "20261020" and a[24] == "GH-0001"
    assert b[0] == "12345" and b[8] == "FF3620" and b[9:] == [""] * 16
    assert c[1:5] == ["20210701170203", "20210701", "0000000300", "131016"]
    assert c[10] == "20261022" and c[12] == "452041"


def test_events_carry_record_id_version_and_processing_kind(cohort: Cohort, tmp_path: Path) -> None:
    rows = rows_of(export(tmp_path, "--format", "events"))
    assert rows[0] == list(EVENTS_HEADER)
    kinds = {(r[5], r[6]): (r[1], r[2]) for r in rows[1:]}
    assert kinds[("0000012345", "1")] == ("2", "2")  # corrected: version 2, 訂正
    assert kinds[("0100000004", "1")] == ("2", "3")  # cancelled: 取消
    assert kinds[("0000000001", "3")] == ("1", "1")
    assert ("0000000300", "1") not in kinds  # given elsewhere: VRS already has it
    assert all(r[3] == "452041" and r[19] == "0" for r in rows[1:])


def test_since_last_gives_only_what_changed(cohort: Cohort, tmp_path: Path) -> None:
    export(tmp_path, "--format", "events")
    assert rows_of(export(tmp_path, "--format", "events", "--since-last")) == [list(EVENTS_HEADER)]
    latest = Vaccination.objects.get(resident=cohort.tickets["a"].resident, dose_number=3)
    from reservations.services.vaccinations import vaccination_correct

    vaccination_correct(
        record=latest, requester=cohort.requester(), reason="医師名の誤り", doctor_name="宮崎 二郎"
    )
    changed = rows_of(export(tmp_path, "--format", "events", "--since-last"))[1:]
    assert [(r[1], r[2], r[12]) for r in changed] == [("2", "2", "宮崎 二郎")]


def test_it_refuses_cp932_for_an_unencodable_name_and_leaves_no_file(
    cohort: Cohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    give(cohort, cohort.tickets["b"], dt.date(2026, 10, 30), doctor="𠮷田 花子")
    with pytest.raises(CommandError):
        export(tmp_path, "--format", "events", "--encoding", "cp932")
    assert not (tmp_path / "out.csv").exists()
    assert list(tmp_path.iterdir()) == []
    assert "𠮷" in capsys.readouterr().err
    batch = ExportBatch.objects.get()
    assert batch.status == ExportBatch.Status.REFUSED and batch.invalid_count == 1
    assert "0000012345" in batch.problems[0] and "第1版" in batch.problems[0]
    # UTF-8 holds it.
    rows = rows_of(export(tmp_path, "--format", "events"))
    assert any(r[12] == "𠮷田 花子" for r in rows)


def test_skip_invalid_writes_the_valid_records(cohort: Cohort, tmp_path: Path) -> None:
    give(cohort, cohort.tickets["b"], dt.date(2026, 10, 30), doctor="𠮷田 花子")
    rows = rows_of(
        export(tmp_path, "--format", "events", "--encoding", "cp932", "--skip-invalid"), "cp932"
    )
    assert len(rows) == 1 + 6
    batch = ExportBatch.objects.get()
    assert (batch.row_count, batch.invalid_count) == (6, 1)


def test_it_rejects_rather_than_truncates_long_fields(cohort: Cohort, tmp_path: Path) -> None:
    Vaccination.objects.filter(resident=cohort.tickets["a"].resident, dose_number=1).update(
        site_name="長" * 31
    )
    with pytest.raises(CommandError):
        export(tmp_path, "--format", "ledger")
    assert "30文字" in ExportBatch.objects.get().problems[0]


def test_the_batch_records_who_when_range_rows_and_checksum(cohort: Cohort, tmp_path: Path) -> None:
    path = export(tmp_path, "--format", "ledger", "--encoding", "cp932")
    batch = ExportBatch.objects.get()
    assert batch.status == ExportBatch.Status.WRITTEN and batch.row_count == 3
    assert batch.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (batch.date_from, batch.date_to) == (dt.date(2021, 1, 1), dt.date(2026, 11, 30))
    assert batch.requested_by_name and batch.via == ExportBatch.Via.COMMAND
    assert batch.file_name.startswith("vrs_ledger_452041_")


def test_it_writes_to_standard_output_without_an_output_path(
    cohort: Cohort, capfdbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    call_command("export_vrs", "--format", "ledger", "--from", "2021-01-01", "--to", "2026-11-30")
    out = capfdbinary.readouterr().out
    assert out == (GOLDEN / "ledger.utf-8.csv").read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ["--from", "2026/11/01", "--to", "2026-11-30"],
        ["--from", "2026-12-01", "--to", "2026-11-30"],
        ["--from", "2026-11-01", "--to", "2026-11-30", "--format", "ledger", "--since-last"],
    ],
)
def test_it_refuses_bad_options(world: World, tmp_path: Path, args: list[str]) -> None:
    if "--format" not in args:
        args = [*args, "--format", "events"]
    with pytest.raises(CommandError):
        call_command("export_vrs", *args, "--output", str(tmp_path / "x.csv"))
    assert not (tmp_path / "x.csv").exists()


def test_a_ledger_with_a_gap_in_the_doses_is_refused(
    cohort: Cohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Vaccination.objects.filter(resident=cohort.tickets["a"].resident, dose_number=2).update(
        status=Vaccination.Status.CANCELLED
    )
    with pytest.raises(CommandError):
        export(tmp_path, "--format", "ledger")
    assert any("連続" in p or "前の回" in p for p in ExportBatch.objects.get().problems)
    # The events file may carry it (earlier doses can be elsewhere): flagged, not failed.
    rows = rows_of(export(tmp_path, "--format", "events"))
    assert any(r[5] == "0000000001" and r[6] == "3" for r in rows)
    assert "注意（出力します）" in capsys.readouterr().err


def test_csv_quoting_follows_rfc_4180(cohort: Cohort, tmp_path: Path) -> None:
    data = export(tmp_path, "--format", "events").read_bytes().decode()
    assert ',"Smith, ""Jr""",' in data
    assert io.StringIO(data).read().count("\r\n") == 1 + 6


def test_it_reports_progress_up_to_the_total(cohort: Cohort, tmp_path: Path) -> None:
    from vrs_export.services import ExportRequest, vrs_export_write

    seen: list[tuple[int, int]] = []
    vrs_export_write(
        request=ExportRequest(
            format="events", date_from=dt.date(2021, 1, 1), date_to=dt.date(2026, 11, 30)
        ),
        target=tmp_path / "p.csv",
        on_progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (6, 6)


def test_an_output_folder_that_cannot_be_made_is_a_clear_error(
    cohort: Cohort, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    with pytest.raises(CommandError, match="出力先に書き込めません"):
        call_command(
            "export_vrs",
            "--format",
            "events",
            "--from",
            "2021-01-01",
            "--to",
            "2026-11-30",
            "--output",
            str(not_a_folder / "x.csv"),
        )
    assert not ExportBatch.objects.exists()


# --- Spreadsheet injection (issue 17): the layout is fixed, so formulas are refused ----------


@pytest.mark.parametrize(
    "doctor", ["=cmd|'/C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
)
def test_a_doctor_name_that_starts_like_a_formula_is_refused_when_recorded(
    cohort: Cohort, doctor: str
) -> None:
    with pytest.raises(VaccinationInvalid) as refused:
        give(cohort, cohort.tickets["b"], dt.date(2026, 10, 30), doctor=doctor)
    assert "医師名" in str(refused.value.message)
    with translation.override("en"), pytest.raises(VaccinationInvalid) as english:
        give(cohort, cohort.tickets["b"], dt.date(2026, 10, 30), doctor=doctor)
    assert "formula" in str(english.value.message)
    assert not Vaccination.objects.filter(resident=cohort.tickets["b"].resident, doctor_name=doctor)


@pytest.mark.parametrize("lot", ["-A12", "－A12"])
def test_a_lot_number_that_starts_with_a_hyphen_is_refused(cohort: Cohort, lot: str) -> None:
    with pytest.raises(VaccinationInvalid):
        give(cohort, cohort.tickets["b"], dt.date(2026, 10, 30), lot=lot)


def test_an_export_refuses_a_formula_stored_before_the_entry_check(
    cohort: Cohort, tmp_path: Path
) -> None:
    # A record from before the check (or written past the services): the file is refused,
    # never written with the formula and never with a corrupting leading quote.
    Vaccination.objects.filter(resident=cohort.tickets["a"].resident, dose_number=1).update(
        doctor_name="=cmd|'/C calc'!A0"
    )
    for fmt in ("ledger", "events"):
        with pytest.raises(CommandError):
            export(tmp_path, "--format", fmt)
        assert not (tmp_path / "out.csv").exists()
    problems = [p for batch in ExportBatch.objects.all() for p in batch.problems]
    assert problems and all("接種医師名が数式として読まれる文字" in p for p in problems)


def test_no_cell_of_an_export_starts_like_a_formula(cohort: Cohort, tmp_path: Path) -> None:
    for fmt in ("ledger", "events"):
        rows = rows_of(export(tmp_path, "--format", fmt))
        assert not [c for row in rows for c in row if starts_like_formula(c)]
