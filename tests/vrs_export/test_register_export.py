"""export_register and /exports/ for the municipal 予防接種台帳 (docs/register_export.md).

The golden files were typed by hand from the layout in docs/register_export.md and the people
below; they are never regenerated from the code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from reservations import roles
from reservations.exceptions import VaccinationInvalid
from reservations.models import (
    Actor,
    Campaign,
    Channel,
    Municipality,
    Resident,
    Ticket,
    Vaccination,
    Vaccine,
)
from reservations.services.booking import Requester
from reservations.services.vaccinations import (
    vaccination_cancel,
    vaccination_correct,
    vaccination_record,
)
from tests.vrs_export.cohort import venue_staff
from tests.world import World, jst
from vrs_export.formats import REGISTER_HEADER
from vrs_export.models import ExportBatch

# The export reads the clock for "today" (no future 接種日): it stands at NOW.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]

GOLDEN = Path(__file__).parent / "golden"
NOW = jst(2026, 11, 20, 9, 0)
SEASON = ["--from", "2026-10-01", "--to", "2027-03-31"]
FLU = ["--program", "influenza-routine", *SEASON]


@pytest.fixture
def now() -> dt.datetime:
    return NOW


@dataclass
class Flu:
    world: World
    staff: User
    vaccine: Vaccine
    campaign: Campaign
    records: dict[str, Vaccination]

    def requester(self) -> Requester:
        return Requester(channel=Channel.COUNTER, actor=Actor.OPERATOR, user=self.staff)


def _person(world: World, atena: str, kana: str, born: dt.date) -> Ticket:
    ticket = world.resident(birth_date=born)
    Resident.objects.filter(pk=ticket.resident_id).update(atena_number=atena, name_kana=kana)
    return Ticket.objects.select_related("resident").get(pk=ticket.pk)


def _give(flu: Flu, ticket: Ticket, on: dt.date, **options: Any) -> Vaccination:
    values: dict[str, Any] = {
        "vaccine": flu.vaccine,
        "campaign": flu.campaign,
        "site": flu.world.site,
        "lot_number": "HA123A",
        "doctor_name": "宮崎 一郎",
        "copay_category": "1",
        **options,
    }
    return vaccination_record(
        resident=ticket.resident,
        ticket=ticket,
        vaccinated_on=on,
        requester=flu.requester(),
        now=NOW,
        **values,
    )


@pytest.fixture
def flu(world: World) -> Flu:
    """Three doses in the file (a, b corrected, c without a campaign) and five that are not."""
    flu = Flu(
        world=world,
        staff=venue_staff("register-staff", roles.VENUE_STAFF, roles.EXPORTERS),
        vaccine=Vaccine.objects.get(code="influenza-ha"),
        campaign=Campaign.objects.get(code="influenza-routine-2026"),
        records={},
    )
    a = _person(world, "1001", "ニチナン ハナコ", dt.date(1950, 4, 1))
    b = _person(world, "1002", "あぶら つよし", dt.date(1945, 8, 15))
    c = _person(world, "1003", "ｵｵﾀﾞ ｼﾞﾛｳ", dt.date(1940, 1, 31))
    flu.records["a"] = _give(flu, a, dt.date(2026, 10, 15))
    wrong = _give(flu, b, dt.date(2026, 10, 20), doctor_name="日南 三郎", copay_category="2")
    flu.records["b"] = vaccination_correct(
        record=wrong, requester=flu.requester(), reason="ロットの読み違い", lot_number="HA124B"
    )
    # Recorded without a campaign (as an import or a self-report is): placed by its date.
    flu.records["c"] = _give(
        flu, c, dt.date(2026, 11, 5), campaign=None, doctor_name='Smith, "Jr"', copay_category="3"
    )
    # Not in the influenza file: a dose before any influenza campaign, a COVID-19 dose, a
    # resident of another municipality, a visit without a dose, a cancelled dose.
    before = _person(world, "1004", "マエ ハヤイ", dt.date(1944, 5, 5))
    flu.records["before"] = _give(flu, before, dt.date(2026, 9, 20), campaign=None)
    covid = _person(world, "1005", "コロナ ノミ", dt.date(1946, 6, 6))
    flu.records["covid"] = _give(
        flu, covid, dt.date(2026, 10, 21), vaccine=world.vaccine, campaign=world.campaign
    )
    elsewhere = Municipality.objects.create(code="131016", name="千代田区")
    visitor = Resident.objects.create(
        municipality=elsewhere,
        atena_number="9001",
        name="千代田 太郎",
        name_kana="チヨダ タロウ",
        birth_date=dt.date(1948, 3, 3),
    )
    flu.records["visitor"] = vaccination_record(
        resident=visitor,
        vaccine=flu.vaccine,
        vaccinated_on=dt.date(2026, 10, 16),
        requester=flu.requester(),
        campaign=flu.campaign,
        site=world.site,
        lot_number="HA123A",
        doctor_name="宮崎 一郎",
        copay_category="4",
        now=NOW,
    )
    examined = _person(world, "1006", "ヨシン ノミ", dt.date(1947, 7, 7))
    _give(flu, examined, dt.date(2026, 10, 15), outcome=Vaccination.Outcome.PRESCREEN_ONLY)
    mistaken = _person(world, "1007", "トリケシ サレタ", dt.date(1949, 9, 9))
    vaccination_cancel(
        record=_give(flu, mistaken, dt.date(2026, 10, 22)),
        requester=flu.requester(),
        reason="別人の記録",
    )
    # Fixed record ids, so the golden file is byte-exact.
    for index, key in enumerate(["a", "b", "c", "before", "covid", "visitor"], start=1):
        Vaccination.objects.filter(record_id=flu.records[key].record_id).update(
            record_id=uuid.UUID(int=index)
        )
        flu.records[key].refresh_from_db()
    return flu


def export(tmp_path: Path, *args: str) -> Path:
    target = tmp_path / "out.csv"
    call_command("export_register", *args, "--output", str(target))
    return target


def rows_of(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_it_matches_the_hand_written_golden_file_byte_for_byte(
    flu: Flu, tmp_path: Path, encoding: str
) -> None:
    written = export(tmp_path, *FLU, "--encoding", encoding).read_bytes()
    assert written == (GOLDEN / f"register_influenza.{encoding}.csv").read_bytes()


def test_the_golden_file_is_the_documented_layout() -> None:
    data = (GOLDEN / "register_influenza.utf-8.csv").read_bytes()
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    header = data.decode().split("\r\n")[0]
    assert header == (
        "宛名番号,氏名カナ,生年月日,接種日,ワクチン,ロット,医療機関,医師,自己負担区分,"
        "接種回数,接種事業,記録ID,版数"
    )
    assert tuple(header.split(",")) == REGISTER_HEADER
    docs = (Path(__file__).parents[2] / "docs" / "register_export.md").read_text()
    assert all(f"| {name} |" in docs for name in REGISTER_HEADER)


def test_the_batch_records_programme_rows_and_checksum(flu: Flu, tmp_path: Path) -> None:
    path = export(tmp_path, *FLU, "--encoding", "cp932")
    batch = ExportBatch.objects.get()
    assert (batch.format, batch.program_code, batch.status) == (
        "register",
        "influenza-routine",
        ExportBatch.Status.WRITTEN,
    )
    assert (batch.row_count, batch.invalid_count) == (3, 0)
    assert batch.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert batch.file_name.startswith("register_influenza-routine_452041_20261120")
    assert batch.requested_by is None and batch.requested_by_name


def test_a_corrected_dose_exports_its_current_version(flu: Flu, tmp_path: Path) -> None:
    vaccination_correct(
        record=flu.records["b"],
        requester=flu.requester(),
        reason="医師名の誤り",
        doctor_name="日南 四郎",
    )
    rows = [r for r in rows_of(export(tmp_path, *FLU))[1:] if r[0] == "1002"]
    # One row per dose: the third version, the copay category carried over.
    assert [(r[7], r[8], r[11][-1], r[12]) for r in rows] == [("日南 四郎", "2", "2", "3")]


def test_a_correction_records_a_missing_copay_category(flu: Flu, tmp_path: Path) -> None:
    Vaccination.objects.filter(pk=flu.records["a"].pk).update(copay_category="")
    flu.records["a"].refresh_from_db()
    with pytest.raises(CommandError):
        export(tmp_path, *FLU)
    vaccination_correct(
        record=flu.records["a"],
        requester=flu.requester(),
        reason="自己負担区分の記録漏れ",
        copay_category="5",
    )
    rows = [r for r in rows_of(export(tmp_path, *FLU))[1:] if r[0] == "1001"]
    assert [(r[8], r[12]) for r in rows] == [("5", "2")]


def test_a_dose_given_elsewhere_goes_out_with_a_blank_copay_category(
    flu: Flu, tmp_path: Path
) -> None:
    # Imported from VRS or a 台帳 file: what the resident paid there was never ours to know.
    Vaccination.objects.filter(pk=flu.records["a"].pk).update(
        copay_category="", source=Vaccination.Source.VRS_IMPORT
    )
    rows = [r for r in rows_of(export(tmp_path, *FLU))[1:] if r[0] == "1001"]
    assert [r[8] for r in rows] == [""]


def test_a_dose_without_a_campaign_belongs_to_the_programme_running_on_its_date(
    flu: Flu, tmp_path: Path
) -> None:
    atena = [r[0] for r in rows_of(export(tmp_path, *FLU, "--from", "2026-09-01"))[1:]]
    assert "1003" in atena  # 2026-11-05, inside the 2026 influenza campaign
    assert "1004" not in atena  # 2026-09-20, before any influenza campaign
    # A COVID-19 programme's file never takes an influenza dose, with or without campaign.
    covid = rows_of(export(tmp_path, "--program", "covid-routine", *SEASON))[1:]
    assert [(r[0], r[4], r[10]) for r in covid] == [
        ("1005", "コミナティ筋注（12歳以上用）", "covid-routine")
    ]


def test_only_the_municipalitys_residents_are_in_its_file(flu: Flu, tmp_path: Path) -> None:
    ours = rows_of(export(tmp_path, *FLU))[1:]
    assert "9001" not in [r[0] for r in ours]
    theirs = rows_of(export(tmp_path, *FLU, "--municipality", "131016"))[1:]
    assert [(r[0], r[1], r[8]) for r in theirs] == [("9001", "チヨダ　タロウ", "4")]
    assert (
        ExportBatch.objects.order_by("id")
        .last()
        .file_name.startswith(  # type: ignore[union-attr]
            "register_influenza-routine_131016_"
        )
    )


def _set_resident(**values: Any) -> Any:
    return lambda flu: Resident.objects.filter(pk=flu.records["a"].resident_id).update(**values)


def _set_dose(**values: Any) -> Any:
    return lambda flu: Vaccination.objects.filter(pk=flu.records["a"].pk).update(**values)


# Each record written past the services (an old record, a bulk update): refused at export.
REFUSALS = {
    "atena_empty": (_set_resident(atena_number=""), "宛名番号が空です"),
    "atena_long": (_set_resident(atena_number="1" * 16), "宛名番号が15文字を超えています"),
    "kana_empty": (_set_resident(name_kana=""), "氏名カナが空です"),
    "kana_kanji": (_set_resident(name_kana="日南 花子"), "カタカナ以外"),
    "kana_latin": (_set_resident(name_kana="HANAKO"), "カタカナ以外"),
    "born_after": (_set_resident(birth_date=dt.date(2026, 10, 16)), "生年月日が接種日より後"),
    "future": (_set_dose(vaccinated_on=dt.date(2026, 11, 21)), "接種日が未来の日付"),
    "lot_empty": (_set_dose(lot_number=""), "ロット番号が英数字で始まる"),
    "lot_hyphen": (_set_dose(lot_number="-A12"), "ロット番号が英数字で始まる"),
    "site_empty": (_set_dose(site_name=""), "医療機関が空です"),
    "site_long": (_set_dose(site_name="長" * 31), "医療機関が30文字を超えています"),
    "doctor_empty": (_set_dose(doctor_name=""), "医師が空です"),
    "doctor_long": (_set_dose(doctor_name="医" * 21), "医師が20文字を超えています"),
    "doctor_formula": (_set_dose(doctor_name="=cmd|'/C calc'!A0"), "医師が数式として読まれる"),
    "copay_blank": (_set_dose(copay_category=""), "自己負担区分が未記録です"),
    "copay_unknown": (_set_dose(copay_category="9"), "自己負担区分「9」は定められた区分"),
    "vaccine_formula": (
        lambda flu: Vaccine.objects.filter(pk=flu.vaccine.pk).update(name="@SUM(A1)"),
        "ワクチンが数式として読まれる",
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_each_refusal_leaves_no_file_and_writes_a_refused_batch(
    flu: Flu, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    spoil, reason = REFUSALS[case]
    spoil(flu)
    with pytest.raises(CommandError, match="--skip-invalid"):
        export(tmp_path, *FLU)
    assert list(tmp_path.iterdir()) == []
    batch = ExportBatch.objects.get()
    assert batch.status == ExportBatch.Status.REFUSED
    assert (batch.sha256, batch.file_name, batch.row_count) == ("", "", 0)
    problem = batch.problems[0]
    # The record is named: its id, version, 宛名番号 (or 空欄) and date.
    assert problem.startswith("00000000-0000-0000-0000-000000000001 第1版（宛名番号 ")
    assert reason in problem
    if case != "vaccine_formula":  # the shared vaccine name refuses all three
        assert batch.invalid_count == 1
    assert reason in capsys.readouterr().err


def test_a_clean_kana_name_is_folded_not_refused(flu: Flu, tmp_path: Path) -> None:
    Resident.objects.filter(pk=flu.records["a"].resident_id).update(
        name_kana="  にちなん　　ﾊﾅｺ・ヴィー "
    )
    rows = rows_of(export(tmp_path, *FLU))
    assert rows[1][1] == "ニチナン　ハナコ・ヴィー"


def test_skip_invalid_writes_the_valid_records(flu: Flu, tmp_path: Path) -> None:
    _set_dose(copay_category="")(flu)
    rows = rows_of(export(tmp_path, *FLU, "--skip-invalid"))
    assert [r[0] for r in rows[1:]] == ["1002", "1003"]
    batch = ExportBatch.objects.get()
    assert (batch.status, batch.row_count, batch.invalid_count) == ("written", 2, 1)
    assert "自己負担区分が未記録です" in batch.problems[0]


def test_cp932_refuses_a_character_it_lacks_and_utf8_holds_it(
    flu: Flu, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_dose(doctor_name="𠮷田 花子")(flu)
    with pytest.raises(CommandError):
        export(tmp_path, *FLU, "--encoding", "cp932")
    assert list(tmp_path.iterdir()) == []
    assert "𠮷" in capsys.readouterr().err
    assert "CP932で表せない文字があります" in ExportBatch.objects.get().problems[0]
    rows = rows_of(export(tmp_path, *FLU))
    assert rows[1][7] == "𠮷田 花子"


def test_it_writes_to_standard_output_without_an_output_path(
    flu: Flu, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    call_command("export_register", *FLU)
    assert capfdbinary.readouterr().out == (GOLDEN / "register_influenza.utf-8.csv").read_bytes()


def test_the_batch_names_the_staff_member_given(flu: Flu, tmp_path: Path) -> None:
    export(tmp_path, *FLU, "--user", "register-staff")
    batch = ExportBatch.objects.get()
    assert (batch.requested_by, batch.requested_by_name) == (flu.staff, "register-staff")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--program", "no-such-programme", *SEASON], "接種事業「no-such-programme」"),
        ([*FLU, "--municipality", "999999"], "自治体 999999 は登録されていません"),
        (
            ["--program", "influenza-routine", "--from", "2027-01-01", "--to", "2026-10-01"],
            "開始日",
        ),
        ([*FLU, "--user", "nobody"], "職員 nobody がいません"),
        ([*FLU, "--user", "operator"], "operator には出力の権限がありません"),
    ],
)
def test_it_refuses_bad_options_clearly(
    world: World, tmp_path: Path, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("export_register", *args, "--output", str(tmp_path / "x.csv"))
    assert list(tmp_path.iterdir()) == []
    assert not ExportBatch.objects.exists()


def test_recording_refuses_an_unknown_copay_category(flu: Flu) -> None:
    ticket = _person(flu.world, "1010", "シン キ", dt.date(1950, 1, 1))
    with pytest.raises(VaccinationInvalid):
        _give(flu, ticket, dt.date(2026, 11, 1), copay_category="9")
    assert not Vaccination.objects.filter(resident=ticket.resident).exists()


# --- The download page ---------------------------------------------------------------------

FORM = {
    "format": "register",
    "program": "influenza-routine",
    "date_from": "2026-10-01",
    "date_to": "2027-03-31",
    "encoding": "cp932",
}


def test_the_page_downloads_the_register_for_an_exporter(flu: Flu, client: Client) -> None:
    user = venue_staff("exporter", roles.EXPORTERS)
    client.force_login(user)
    response = client.post("/exports/", FORM)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert body == (GOLDEN / "register_influenza.cp932.csv").read_bytes()
    batch = ExportBatch.objects.get()
    assert response["Content-Disposition"].endswith(f'filename="{batch.file_name}"')
    assert batch.file_name.startswith("register_influenza-routine_452041_")
    assert (batch.via, batch.requested_by, batch.program_code) == (
        "web",
        user,
        "influenza-routine",
    )
    assert "influenza-routine" in client.get("/exports/").content.decode()


def test_the_page_is_closed_without_the_export_permission(flu: Flu, client: Client) -> None:
    assert client.post("/exports/", FORM).status_code == 302  # to the staff sign-in
    client.force_login(venue_staff("venue-only", roles.VENUE_STAFF))
    assert client.post("/exports/", FORM).status_code == 403
    assert not ExportBatch.objects.exists()


@pytest.mark.parametrize(
    "change", [{"program": ""}, {"program": "no-such-programme"}, {"since_last": "on"}]
)
def test_the_page_asks_for_a_programme_for_the_register(
    flu: Flu, client: Client, change: dict[str, str]
) -> None:
    client.force_login(venue_staff("exporter", roles.EXPORTERS))
    response = client.post("/exports/", {**FORM, **change})
    assert response.status_code == 200 and 'class="errorlist' in response.content.decode()
    assert not ExportBatch.objects.exists()


def test_the_page_lists_the_refused_records(flu: Flu, client: Client) -> None:
    _set_dose(copay_category="")(flu)
    client.force_login(venue_staff("exporter", roles.EXPORTERS))
    response = client.post("/exports/", FORM)
    assert response.status_code == 422
    assert "自己負担区分が未記録です" in response.content.decode()
    assert ExportBatch.objects.get().status == ExportBatch.Status.REFUSED


def test_a_programme_chosen_for_a_vrs_layout_is_ignored(flu: Flu, client: Client) -> None:
    client.force_login(venue_staff("exporter", roles.EXPORTERS))
    response = client.post("/exports/", {**FORM, "format": "events", "date_from": "2021-01-01"})
    assert response.status_code == 200
    assert ExportBatch.objects.get().program_code == ""
