"""Tests for importing a municipality's ticket list: reservations.services.residents and the
import_residents command.

CSV files are built as bytes inside each test, so that what is being read (encoding, line
endings, quoting) is visible next to what is asserted.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from reservations.identifiers import SEX_FEMALE, SEX_MALE, SEX_UNKNOWN, add_check_digit
from reservations.models import Municipality, Resident, Ticket
from reservations.services.residents import (
    ResidentImportFileError,
    ResidentImportReport,
    RowError,
    resident_import,
)

pytestmark = pytest.mark.django_db

CHIYODA = add_check_digit("13101")  # 131016
NICHINAN = add_check_digit("45204")  # 452041
BAD_CHECK_DIGIT = CHIYODA[:5] + str((int(CHIYODA[5]) + 1) % 10)

HEADER = "自治体コード,宛名番号,接種券番号,氏名,氏名カナ,生年月日,性別,電話番号,郵便番号,住所"


def row(
    *,
    code: str = CHIYODA,
    atena: str = "",
    ticket: str = "0000000001",
    name: str = "山田　太郎",
    kana: str = "ヤマダ　タロウ",
    birth: str = "1947-04-01",
    sex: str = "1",
    phone: str = "090-1234-5678",
    postal: str = "100-0001",
    address: str = "東京都千代田区千代田1-1",
) -> str:
    return ",".join([code, atena, ticket, name, kana, birth, sex, phone, postal, address])


def csv_bytes(*lines: str, encoding: str = "utf-8", newline: str = "\r\n") -> bytes:
    return newline.join(lines).encode(encoding) + newline.encode(encoding)


def run(
    data: bytes,
    *,
    municipality: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    chunk_size: int = 1000,
) -> ResidentImportReport:
    return resident_import(
        stream=io.BytesIO(data),
        default_municipality_code=municipality,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        chunk_size=chunk_size,
    )


def run_command(tmp_path: Path, data: bytes, *args: str) -> tuple[str, str]:
    path = tmp_path / "list.csv"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_residents", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def only_resident() -> Resident:
    return Resident.objects.get()


def only_resident_names() -> list[str]:
    return list(Resident.objects.order_by("pk").values_list("name", flat=True))


# ---------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------


def test_it_imports_utf8() -> None:
    report = run(csv_bytes(HEADER, row()))

    assert report.errors == []
    assert report.encoding == "UTF-8"
    assert (report.created, report.residents_created, report.committed) == (1, 1, True)
    resident = only_resident()
    assert resident.name == "山田　太郎"
    assert resident.birth_date == date(1947, 4, 1)
    ticket = Ticket.objects.get()
    assert (ticket.municipality.code, ticket.number, ticket.resident) == (
        CHIYODA,
        "0000000001",
        resident,
    )


def test_it_imports_utf8_with_bom() -> None:
    report = run(csv_bytes(HEADER, row(), encoding="utf-8-sig"))

    assert report.errors == []
    assert report.encoding == "UTF-8 (BOM)"
    assert only_resident().name == "山田　太郎"


def test_it_imports_cp932() -> None:
    # 髙 and ① exist in CP932 (Windows' Shift_JIS) but not in strict Shift_JIS.
    data = csv_bytes(
        HEADER, row(name="髙橋　一郎", address="宮崎県日南市中央通①"), encoding="cp932"
    )

    report = run(data)

    assert report.errors == []
    assert report.encoding == "Shift_JIS (CP932)"
    resident = only_resident()
    assert resident.name == "髙橋　一郎"
    assert resident.address == "宮崎県日南市中央通①"


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_it_detects_encoding_when_a_character_straddles_the_sample_boundary(
    encoding: str,
) -> None:
    boundary = 64 * 1024
    char = "漢".encode(encoding)
    # Only the header is non-ASCII before the boundary, so the sample's verdict rests on it and
    # on the character cut in half at its end; the ignored 備考 column carries the padding.
    data = (HEADER + ",備考\r\n").encode(encoding)
    number = 0
    while True:
        number += 1
        line = (row(ticket=f"{number:010d}", name="Yamada", kana="", address="") + ",").encode()
        if len(data) + len(line) + 200 > boundary:
            break
        data += line + b"\r\n"
    pad = boundary - 1 - len(data) - len(line)
    data += line + b"x" * pad + char + b"\r\n"
    data += (row(ticket="9999999999", name="漢字") + ",").encode(encoding) + b"\r\n"
    assert data.index(char) == boundary - 1

    report = run(data)

    assert report.encoding.startswith("UTF-8" if encoding == "utf-8" else "Shift_JIS")
    assert report.errors == []
    assert report.created == number + 1
    assert Resident.objects.get(tickets__number="9999999999").name == "漢字"


def test_it_reports_an_undecodable_line_later_in_the_file_as_a_bad_row() -> None:
    data = csv_bytes(HEADER, row(ticket="0000000001"))
    data += row(ticket="0000000002", name="山田").encode()[:-5] + b"\xff\xfe\r\n"
    data += csv_bytes(row(ticket="0000000003"))

    report = run(data, skip_invalid=True)

    assert [error.line for error in report.errors] == [3]
    assert "文字を読み取れません" in report.errors[0].message
    assert sorted(Ticket.objects.values_list("number", flat=True)) == ["0000000001", "0000000003"]


# ---------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------


def test_it_accepts_columns_in_any_order() -> None:
    data = csv_bytes(
        "住所,生年月日,氏名カナ,接種券番号,性別,氏名,郵便番号,自治体コード,電話番号,宛名番号",
        f"東京都千代田区,1950-01-02,スズキ,0000000007,2,鈴木,1000001,{CHIYODA},0312345678,A1",
    )

    report = run(data)

    assert report.errors == []
    resident = only_resident()
    assert (resident.name, resident.name_kana, resident.sex) == ("鈴木", "スズキ", SEX_FEMALE)
    assert (resident.atena_number, resident.phone, resident.postal_code) == (
        "A1",
        "+81312345678",
        "100-0001",
    )
    assert Ticket.objects.get().number == "0000000007"


def test_it_accepts_absent_optional_columns() -> None:
    data = csv_bytes("接種券番号,氏名,生年月日,自治体コード", f"0000000001,山田,S22.4.1,{CHIYODA}")

    report = run(data)

    assert report.errors == []
    assert report.warnings == []
    resident = only_resident()
    assert (resident.atena_number, resident.phone, resident.postal_code, resident.address) == (
        "",
        "",
        "",
        "",
    )
    assert resident.sex == SEX_UNKNOWN
    assert resident.sms_consent is True


def test_it_refuses_a_file_missing_required_columns_and_names_them(tmp_path: Path) -> None:
    data = csv_bytes("自治体コード,氏名カナ,性別", f"{CHIYODA},ヤマダ,1")

    with pytest.raises(CommandError) as excinfo:
        run_command(tmp_path, data)

    message = str(excinfo.value)
    assert "接種券番号" in message
    assert "氏名、" in message
    assert "生年月日" in message
    assert not Resident.objects.exists()


def test_it_requires_the_municipality_column_only_without_the_option() -> None:
    data = csv_bytes("接種券番号,氏名,生年月日", "0000000001,山田,1947-04-01")

    with pytest.raises(ResidentImportFileError) as excinfo:
        run(data)
    assert "自治体コード" in excinfo.value.message

    report = run(data, municipality=CHIYODA)
    assert report.errors == []
    assert Ticket.objects.get().municipality.code == CHIYODA


def test_it_warns_about_unknown_columns(tmp_path: Path) -> None:
    data = csv_bytes(HEADER + ",備考,世帯番号", row() + ",要介助,123")

    out, err = run_command(tmp_path, data)

    assert "備考、世帯番号" in err
    assert Resident.objects.count() == 1


def test_it_refuses_an_empty_file() -> None:
    with pytest.raises(ResidentImportFileError) as excinfo:
        run(b"")
    assert excinfo.value.code == "header_missing"


def test_it_uses_the_municipality_option_for_blank_codes_and_rejects_other_codes() -> None:
    data = csv_bytes(
        HEADER,
        row(code="", ticket="0000000001"),
        row(code=CHIYODA, ticket="0000000002"),
        row(code=NICHINAN, ticket="0000000003"),
    )

    report = run(data, municipality=CHIYODA, skip_invalid=True)

    assert [error.line for error in report.errors] == [4]
    assert NICHINAN in report.errors[0].message
    assert sorted(Ticket.objects.values_list("number", flat=True)) == ["0000000001", "0000000002"]


# ---------------------------------------------------------------------------
# Normalisation of values
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1", True),
        ("0", False),
        ("可", True),
        ("否", False),
        ("", True),
        ("１", True),
        ("０", False),
    ],
)
def test_it_reads_sms_consent(cell: str, expected: bool) -> None:
    data = csv_bytes(HEADER + ",ＳＭＳ同意", row() + f",{cell}")

    report = run(data)

    assert report.errors == []
    assert only_resident().sms_consent is expected


def test_it_rejects_an_unreadable_sms_consent() -> None:
    report = run(csv_bytes(HEADER + ",SMS同意", row() + ",はい"))

    assert [error.line for error in report.errors] == [2]
    assert "SMS同意" in report.errors[0].message


def test_it_keeps_an_sms_opt_out_when_the_list_says_nothing() -> None:
    run(csv_bytes(HEADER + ",SMS同意", row() + ",0"))
    assert only_resident().sms_consent is False

    report = run(csv_bytes(HEADER + ",SMS同意", row() + ","))
    assert report.unchanged == 1
    report = run(csv_bytes(HEADER, row()))
    assert report.unchanged == 1
    assert only_resident().sms_consent is False


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("昭和22年5月3日", date(1947, 5, 3)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("大正15年12月24日", date(1926, 12, 24)),
        ("S22.5.3", date(1947, 5, 3)),
        ("Ｈ３．２．１", date(1991, 2, 1)),
        ("1947/5/3", date(1947, 5, 3)),
        ("１９４７年５月３日", date(1947, 5, 3)),
    ],
)
def test_it_reads_western_and_wareki_birth_dates(cell: str, expected: date) -> None:
    report = run(csv_bytes(HEADER, row(birth=cell)))

    assert report.errors == []
    assert only_resident().birth_date == expected


def test_it_rejects_a_date_outside_its_era() -> None:
    report = run(csv_bytes(HEADER, row(birth="平成31年5月1日")))

    assert [error.line for error in report.errors] == [2]
    assert "生年月日" in report.errors[0].message
    assert not Resident.objects.exists()


def test_it_normalises_full_width_digits_in_every_column() -> None:
    data = csv_bytes(
        HEADER + ",SMS同意",
        ",".join(
            [
                "１３１０１６",
                "ＡＢ１２３",
                "０１２３－４５６７８９",
                "山田　花子２世",
                "ヤマダ　ハナコ",
                "昭和２２年５月３日",
                "２",
                "０９０－１２３４－５６７８",
                "〒１００－０００１",
                "千代田区千代田１－１",
                "０",
            ]
        ),
    )

    report = run(data)

    assert report.errors == []
    resident = only_resident()
    assert resident.atena_number == "AB123"
    assert resident.name == "山田　花子2世"
    assert resident.birth_date == date(1947, 5, 3)
    assert resident.sex == SEX_FEMALE
    assert resident.phone == "+819012345678"
    assert resident.postal_code == "100-0001"
    assert resident.address == "千代田区千代田1－1"
    assert resident.sms_consent is False
    ticket = Ticket.objects.get()
    assert (ticket.municipality.code, ticket.number) == (CHIYODA, "0123456789")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("090-1234-5678", "+819012345678"),
        ("09012345678", "+819012345678"),
        ("03-1234-5678", "+81312345678"),
        ("0987-22-1234", "+81987221234"),
        ("+81 90 1234 5678", "+819012345678"),
    ],
)
def test_it_stores_phone_numbers_as_e164(cell: str, expected: str) -> None:
    report = run(csv_bytes(HEADER, row(phone=cell)))

    assert report.errors == []
    assert only_resident().phone == expected


def test_it_rejects_an_invalid_phone_number() -> None:
    report = run(csv_bytes(HEADER, row(phone="090-1234")))

    assert [error.line for error in report.errors] == [2]
    assert "電話番号" in report.errors[0].message


@pytest.mark.parametrize("cell", ["1000001", "100-0001", "〒100-0001", "〒１００ー０００１"])
def test_it_normalises_postal_codes(cell: str) -> None:
    report = run(csv_bytes(HEADER, row(postal=cell)))

    assert report.errors == []
    assert only_resident().postal_code == "100-0001"


@pytest.mark.parametrize(
    ("cell", "expected"), [("男", SEX_MALE), ("女", SEX_FEMALE), ("M", SEX_MALE)]
)
def test_it_reads_sex(cell: str, expected: str) -> None:
    run(csv_bytes(HEADER, row(sex=cell)))

    assert only_resident().sex == expected


def test_it_stores_kana_as_full_width_katakana_and_folds_spaces_in_names() -> None:
    data = csv_bytes(HEADER, row(name="　山田　　太郎 ", kana=" ﾔﾏﾀﾞ　　たろう"))

    run(data)

    resident = only_resident()
    assert resident.name == "山田　太郎"
    assert resident.name_kana == "ヤマダ　タロウ"


def test_it_reports_every_problem_of_a_row_at_once() -> None:
    report = run(csv_bytes(HEADER, row(ticket="123", birth="昨日", phone="abc")))

    assert len(report.errors) == 1
    message = report.errors[0].message
    assert "接種券番号" in message
    assert "生年月日" in message
    assert "電話番号" in message


def test_it_tolerates_empty_trailing_cells() -> None:
    report = run(csv_bytes(HEADER, row() + ",,"))

    assert report.errors == []
    assert Resident.objects.count() == 1


def test_it_rejects_a_row_with_the_wrong_number_of_cells() -> None:
    report = run(csv_bytes(HEADER, row() + ",余分"))

    assert [error.line for error in report.errors] == [2]
    assert "列の数" in report.errors[0].message


# ---------------------------------------------------------------------------
# Municipalities
# ---------------------------------------------------------------------------


def test_it_creates_an_unknown_valid_municipality_and_asks_for_its_name(tmp_path: Path) -> None:
    Municipality.objects.create(code=CHIYODA, name="千代田区")
    data = csv_bytes(HEADER, row(code=NICHINAN))

    out, _err = run_command(tmp_path, data)

    created = Municipality.objects.get(code=NICHINAN)
    assert created.name == ""
    assert NICHINAN in out
    assert "管理画面" in out
    assert Ticket.objects.get().municipality == created
    assert Municipality.objects.count() == 2


def test_it_rejects_a_bad_check_digit_with_its_line_number() -> None:
    data = csv_bytes(HEADER, row(ticket="0000000001"), row(code=BAD_CHECK_DIGIT))

    report = run(data)

    assert report.errors == [
        RowError(3, "市区町村コードの検査数字（6桁目）が正しくありません。番号をご確認ください。")
    ]
    assert report.committed is False
    assert not Municipality.objects.filter(code=BAD_CHECK_DIGIT).exists()
    assert not Resident.objects.exists()


# ---------------------------------------------------------------------------
# Physical line numbers
# ---------------------------------------------------------------------------


def test_it_counts_physical_lines_across_multi_line_quoted_fields() -> None:
    data = csv_bytes(
        HEADER,
        row(ticket="0000000001", address='"東京都千代田区\r\n千代田1-1\r\nマンション101"'),
        row(ticket="123"),
        "",
        row(ticket="0000000003", birth="存在しない"),
        row(ticket="0000000004"),
    )

    report = run(data, skip_invalid=True)

    # Line 2 spans lines 2-4, so the short ticket is on line 5; line 6 is blank.
    assert [error.line for error in report.errors] == [5, 7]
    # The address field holds one line: the line breaks inside the cell become spaces.
    assert Resident.objects.get(tickets__number="0000000001").address == (
        "東京都千代田区 千代田1-1 マンション101"
    )
    assert Ticket.objects.count() == 2


def test_it_reports_a_multi_line_row_by_the_line_it_starts_on() -> None:
    data = csv_bytes(HEADER, row(ticket="x", address='"1行目\n2行目"'), newline="\n")

    report = run(data)

    assert [error.line for error in report.errors] == [2]


# ---------------------------------------------------------------------------
# All or nothing, --skip-invalid, --dry-run
# ---------------------------------------------------------------------------


def test_it_imports_nothing_when_any_row_is_bad(tmp_path: Path) -> None:
    data = csv_bytes(
        HEADER,
        row(ticket="0000000001"),
        row(ticket="0000000002", code=NICHINAN),
        row(ticket="12345"),
    )

    with pytest.raises(CommandError) as excinfo:
        run_command(tmp_path, data)

    assert "1行" in str(excinfo.value)
    assert not Resident.objects.exists()
    assert not Ticket.objects.exists()
    assert not Municipality.objects.exists()


def test_it_prints_bad_rows_with_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(csv_bytes(HEADER, row(), row(ticket="12345")))
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_residents", str(path), stdout=io.StringIO(), stderr=err)

    assert "3行目: 接種券番号は10桁の数字で入力してください。" in err.getvalue()


def test_it_imports_good_rows_and_exits_zero_with_skip_invalid(tmp_path: Path) -> None:
    data = csv_bytes(
        HEADER, row(ticket="0000000001"), row(ticket="12345"), row(ticket="0000000003")
    )

    out, err = run_command(tmp_path, data, "--skip-invalid")

    assert "3行目" in err
    assert "エラー行: 1" in out
    assert "行/s" not in err  # no progress bar when stderr is not a terminal
    assert sorted(Ticket.objects.values_list("number", flat=True)) == ["0000000001", "0000000003"]


def test_it_writes_nothing_on_dry_run(tmp_path: Path) -> None:
    Municipality.objects.create(code=CHIYODA)
    run(csv_bytes(HEADER, row(ticket="0000000001")))
    data = csv_bytes(
        HEADER,
        row(ticket="0000000001", phone="03-1234-5678"),
        row(ticket="0000000002", atena="A2"),
        row(ticket="0000000003", code=NICHINAN),
    )

    out, _err = run_command(tmp_path, data, "--dry-run")

    assert "試行" in out
    assert "新しい接種券: 2（うち新しい住民: 2）" in out
    assert "更新: 1" in out
    assert NICHINAN in out
    assert Ticket.objects.count() == 1
    assert only_resident().phone == "+819012345678"
    assert not Municipality.objects.filter(code=NICHINAN).exists()


def test_it_counts_exactly_on_dry_run() -> None:
    data = csv_bytes(
        HEADER,
        row(ticket="0000000001", atena="A1"),
        row(ticket="0000000002", atena="A1"),
        row(ticket="0000000003"),
    )

    report = run(data, dry_run=True)

    assert (report.created, report.residents_created, report.updated, report.unchanged) == (
        3,
        2,
        0,
        0,
    )
    assert report.committed is False
    assert not Resident.objects.exists()


def test_it_fails_a_dry_run_with_bad_rows(tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        run_command(tmp_path, csv_bytes(HEADER, row(ticket="1")), "--dry-run")


# ---------------------------------------------------------------------------
# Identity: re-import, changes, 宛名番号, duplicates
# ---------------------------------------------------------------------------


def test_it_changes_nothing_on_reimport(tmp_path: Path) -> None:
    data = csv_bytes(HEADER, row(ticket="0000000001", atena="1"), row(ticket="0000000002"))
    run(data)
    before = list(Resident.objects.values().order_by("pk"))

    out, _err = run_command(tmp_path, data)

    assert "変更なし: 2" in out
    assert "更新: 0" in out
    assert list(Resident.objects.values().order_by("pk")) == before
    assert Ticket.objects.count() == 2


def test_it_updates_a_changed_row() -> None:
    run(csv_bytes(HEADER, row(ticket="0000000001", phone="090-1234-5678")))
    resident = only_resident()

    report = run(
        csv_bytes(HEADER, row(ticket="0000000001", phone="080-1111-2222", address="千代田2-2"))
    )

    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    resident.refresh_from_db()
    assert resident.phone == "+818011112222"
    assert resident.address == "千代田2-2"
    assert Resident.objects.count() == 1


def test_it_attaches_a_new_ticket_to_the_resident_with_the_same_atena_number() -> None:
    run(csv_bytes(HEADER, row(ticket="0000000001", atena="00123")))
    resident = only_resident()

    report = run(csv_bytes(HEADER, row(ticket="0000000009", atena="00123", phone="03-1234-5678")))

    assert (report.created, report.residents_created) == (1, 0)
    assert Resident.objects.count() == 1
    assert set(resident.tickets.values_list("number", flat=True)) == {"0000000001", "0000000009"}
    resident.refresh_from_db()
    assert resident.phone == "+81312345678"


def test_it_keeps_two_tickets_of_one_person_in_one_file_on_one_resident() -> None:
    report = run(
        csv_bytes(HEADER, row(ticket="0000000001", atena="7"), row(ticket="0000000002", atena="7"))
    )

    assert (report.created, report.residents_created) == (2, 1)
    assert only_resident().tickets.count() == 2


def test_it_does_not_match_atena_numbers_across_municipalities() -> None:
    run(csv_bytes(HEADER, row(ticket="0000000001", atena="7")))

    run(csv_bytes(HEADER, row(ticket="0000000001", atena="7", code=NICHINAN)))

    assert Resident.objects.count() == 2


def test_it_rejects_a_ticket_whose_atena_number_belongs_to_someone_else() -> None:
    run(
        csv_bytes(
            HEADER,
            row(ticket="0000000001", atena="A", name="甲"),
            row(ticket="0000000002", atena="B", name="乙"),
        )
    )

    report = run(csv_bytes(HEADER, row(ticket="0000000001", atena="B", name="甲")))

    assert [error.line for error in report.errors] == [2]
    assert "宛名番号" in report.errors[0].message
    assert Resident.objects.get(name="甲").atena_number == "A"


def test_it_moves_atena_numbers_between_residents_in_one_chunk() -> None:
    run(
        csv_bytes(
            HEADER,
            row(ticket="0000000001", atena="A", name="甲"),
            row(ticket="0000000002", atena="C", name="乙"),
        )
    )

    # 甲 is renumbered A→B, then 乙 C→A: the unique index must not see A twice mid-update.
    report = run(
        csv_bytes(
            HEADER,
            row(ticket="0000000001", atena="B", name="甲"),
            row(ticket="0000000002", atena="A", name="乙"),
        )
    )

    assert report.errors == []
    assert report.updated == 2
    assert dict(Resident.objects.values_list("name", "atena_number")) == {"甲": "B", "乙": "A"}


def test_it_reports_a_duplicate_ticket_naming_the_first_line() -> None:
    data = csv_bytes(
        HEADER,
        row(ticket="0000000001"),
        row(ticket="0000000002"),
        row(ticket="０００００００００１", name="別人"),
    )

    report = run(data, skip_invalid=True)

    assert report.errors == [RowError(4, "接種券番号が2行目と重複しています。")]
    assert only_resident_names() == ["山田　太郎", "山田　太郎"]


def test_it_allows_the_same_ticket_number_in_two_municipalities() -> None:
    report = run(
        csv_bytes(HEADER, row(ticket="0000000001"), row(ticket="0000000001", code=NICHINAN))
    )

    assert report.errors == []
    assert Ticket.objects.count() == 2


def test_it_imports_ticket_0000000000_only_when_the_list_has_it() -> None:
    run(csv_bytes(HEADER, row(ticket="0000000001")))
    assert not Ticket.objects.filter(number="0000000000").exists()

    report = run(csv_bytes(HEADER, row(ticket="0000000000", atena="Z")))

    assert report.errors == []
    assert Ticket.objects.filter(number="0000000000").exists()


def test_it_works_across_chunks() -> None:
    data = csv_bytes(
        HEADER,
        row(ticket="0000000001", atena="1"),
        row(ticket="0000000002"),
        row(ticket="0000000003", atena="1"),
        row(ticket="0000000004"),
        row(ticket="0000000001"),
    )
    calls: list[int] = []

    report = resident_import(
        stream=io.BytesIO(data),
        default_municipality_code=None,
        dry_run=False,
        skip_invalid=True,
        progress=calls.append,
        chunk_size=2,
    )

    assert report.errors == [RowError(6, "接種券番号が2行目と重複しています。")]
    assert (report.created, report.residents_created) == (4, 3)
    assert sum(calls) == report.rows == 5
    assert Resident.objects.get(atena_number="1").tickets.count() == 2


# ---------------------------------------------------------------------------
# Control characters (issue 17): refused with the line, never a database error
# ---------------------------------------------------------------------------


def test_a_nul_in_line_7_is_refused_by_its_line_and_nothing_is_written(tmp_path: Path) -> None:
    rows = [row(ticket=f"000000000{n}") for n in range(1, 8)]
    rows[5] = row(ticket="0000000006", name="山田\x00太郎")  # data row 6 is line 7
    err = io.StringIO()
    path = tmp_path / "list.csv"
    path.write_bytes(csv_bytes(HEADER, *rows))

    with pytest.raises(CommandError):
        call_command("import_residents", str(path), stdout=io.StringIO(), stderr=err)

    named = [line for line in err.getvalue().splitlines() if "行目:" in line]
    assert len(named) == 1 and named[0].startswith("7行目: 制御文字（U+0000）があります。")
    assert not Resident.objects.exists()
    assert not Ticket.objects.exists()
    assert not Municipality.objects.exists()


def test_skip_invalid_leaves_out_only_the_row_with_the_control_character() -> None:
    # On PostgreSQL a NUL that reached the database was a traceback; now it is one bad row.
    data = csv_bytes(
        HEADER,
        row(ticket="0000000001"),
        row(ticket="0000000002", address="千代田\x00"),
        row(ticket="0000000003"),
    )

    report = run(data, skip_invalid=True)

    assert report.errors == [RowError(3, report.errors[0].message)]
    assert "U+0000" in report.errors[0].message
    assert sorted(Ticket.objects.values_list("number", flat=True)) == ["0000000001", "0000000003"]


@pytest.mark.parametrize(
    ("character", "shown"),
    [("\x01", "U+0001"), ("\x1b", "U+001B"), ("\x7f", "U+007F"), ("\u202e", "U+202E")],
)
def test_it_refuses_other_control_characters(character: str, shown: str) -> None:
    report = run(csv_bytes(HEADER, row(kana=f"ヤマダ{character}")))

    assert [error.line for error in report.errors] == [2]
    assert shown in report.errors[0].message
    assert not Ticket.objects.exists()


def test_it_names_the_physical_line_of_a_control_character_in_a_multi_line_cell() -> None:
    data = csv_bytes(HEADER, row(address='"東京都千代田区\r\n千代田1-1\x00\r\nマンション101"'))

    report = run(data)

    assert [error.line for error in report.errors] == [3]


def test_tabs_and_line_breaks_inside_cells_are_still_text() -> None:
    data = csv_bytes(HEADER, row(name="山田\t太郎", address='"千代田\n1-1"'))

    report = run(data)

    assert report.errors == [] and report.created == 1
    assert Resident.objects.get().name == "山田 太郎"


def test_a_header_with_a_control_character_refuses_the_file() -> None:
    with pytest.raises(ResidentImportFileError) as refused:
        run(csv_bytes(HEADER.replace("氏名,", "氏名\x00,", 1), row()))

    assert refused.value.code == "control_character"
    assert "1行目" in refused.value.message and "U+0000" in refused.value.message
