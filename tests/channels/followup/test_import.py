"""manage.py followup_import: encodings, 和暦 dates, full-width digits, all or nothing, --dry-run,
--user. Files are built as bytes in each test, next to what is asserted."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from channels.followup.models import FollowedPerson, FollowUp
from reservations.models import StaffAssignment
from tests.world import World, staff_with

pytestmark = pytest.mark.django_db

HEADER = "氏名,電話番号,生年月日,開始日,日数,宛名番号,代理人電話番号"
GOOD = [
    "日南　花子,090-1234-5678,昭和35年5月1日,令和8年11月2日,１４,,",
    "油津 太郎,０９０１１１１２２２２,S22.4.1,2026/11/3,7,A123,0987-11-2222",
]


def write(tmp_path: Path, lines: list[str], *, encoding: str = "utf-8-sig") -> Path:
    path = tmp_path / "list.csv"
    path.write_bytes("\r\n".join(lines).encode(encoding) + b"\r\n")
    return path


def run(path: Path, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "followup_import",
        str(path),
        "--questionnaire",
        "home-care",
        "--municipality",
        "452041",
        *args,
        stdout=out,
        stderr=err,
    )
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932", "utf-8"])
def test_a_good_list_starts_a_follow_up_per_row(
    world: World, tmp_path: Path, encoding: str
) -> None:
    resident = world.resident(name="油津 太郎").resident
    resident.atena_number = "A123"
    resident.save(update_fields=["atena_number"])
    out, err = run(write(tmp_path, [HEADER, *GOOD], encoding=encoding))
    assert err == ""
    assert "新しい健康観察: 2（うち新しい対象者: 2、住民と照合: 1）" in out
    assert {"utf-8-sig": "UTF-8 (BOM)", "cp932": "Shift_JIS (CP932)", "utf-8": "UTF-8"}[
        encoding
    ] in out
    hanako = FollowedPerson.objects.get(name="日南　花子")
    assert (hanako.phone, hanako.birth_date, hanako.resident) == (
        "+819012345678",
        dt.date(1960, 5, 1),
        None,
    )
    taro = FollowedPerson.objects.get(name="油津 太郎")
    assert (taro.birth_date, taro.proxy_phone, taro.resident) == (
        dt.date(1947, 4, 1),
        "+81987112222",
        resident,
    )
    followup = FollowUp.objects.get(person=hanako)
    assert (followup.start_date, followup.last_date) == (
        dt.date(2026, 11, 2),
        dt.date(2026, 11, 15),
    )
    assert followup.questionnaire.code == "home-care"
    assert FollowUp.objects.get(person=taro).day_offsets == list(range(7))

    # The same list again: everyone is already followed from those dates.
    out, _err = run(write(tmp_path, [HEADER, *GOOD], encoding=encoding))
    assert "すでに健康観察中のため飛ばした行: 2" in out
    assert FollowUp.objects.count() == 2


def test_one_bad_row_and_nothing_is_imported(world: World, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            HEADER,
            *GOOD,
            "空白 三郎,,昭和40年1月1日,2026-11-02,0,,",
            "未来 四郎,090-3333-4444,令和99年1月1日,2026-11-02,3,,",
            "日南　花子,090-1234-5678,昭和35年5月1日,2026-11-02,3,,",
        ],
    )
    with pytest.raises(CommandError, match="エラー行が3行あるため、何も取り込みませんでした"):
        run(path)
    assert not FollowUp.objects.exists() and not FollowedPerson.objects.exists()


def test_bad_rows_are_reported_with_their_line_and_reason(world: World, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            HEADER,
            GOOD[0],
            "空白 三郎,,昭和40年1月1日,2026-11-02,0,,",
            "日南　花子,090-1234-5678,昭和35年5月1日,2026-11-02,3,,",
        ],
    )
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "followup_import",
            str(path),
            "--questionnaire=home-care",
            "--municipality=452041",
            stdout=io.StringIO(),
            stderr=err,
        )
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("3行目: 電話番号が空です。 日数は1〜60の整数で入力してください。")
    assert lines[1] == "4行目: 2行目と同じ人・同じ開始日の行です。"


def test_a_dry_run_writes_nothing(world: World, tmp_path: Path) -> None:
    out, _err = run(write(tmp_path, [HEADER, *GOOD]), "--dry-run")
    assert "試行（--dry-run）" in out
    assert "新しい健康観察: 2" in out
    assert not FollowUp.objects.exists() and not FollowedPerson.objects.exists()


def test_missing_columns_unknown_questionnaire_or_municipality(
    world: World, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="必須の列がありません: 日数"):
        run(
            write(tmp_path, ["氏名,電話番号,生年月日,開始日", "a,090-1234-5678,S22.4.1,2026-11-02"])
        )
    good = write(tmp_path, [HEADER, *GOOD])
    with pytest.raises(CommandError, match="質問票「none」は使用中の版がありません"):
        call_command("followup_import", str(good), "--questionnaire=none", "--municipality=452041")
    with pytest.raises(CommandError, match="自治体コード 452025 の自治体は登録されていません"):
        call_command(
            "followup_import", str(good), "--questionnaire=home-care", "--municipality=452025"
        )


def test_user_needs_the_permission_and_the_municipality(world: World, tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, *GOOD])
    staff_with("viewer", "view_followup")
    with pytest.raises(CommandError, match="健康観察の取り込みの権限がありません"):
        run(path, "--user", "viewer")
    elsewhere = world.neighbour()
    outsider = staff_with("outsider", "add_followup")
    StaffAssignment.objects.filter(user=outsider).update(municipality=elsewhere.municipality)
    with pytest.raises(CommandError, match="自治体コード 452041 の自治体は登録されていません"):
        run(path, "--user", "outsider")
    staff_with("importer", "add_followup")
    run(path, "--user", "importer")
    assert set(FollowUp.objects.values_list("created_by__username", flat=True)) == {"importer"}
