"""The audit trail's context (role, municipality, channel, client address), its export as CSV
(manage.py audit_export), its append-only rule on PostgreSQL, and --user on the command-line
exports."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.test import Client, override_settings
from django.urls import reverse

from channels.phone.audit import EXPORT_HEADER
from channels.phone.models import Call, RecordAccess
from channels.phone.services import audit_record
from reservations import roles
from reservations.models import Ticket
from reservations.services.booking import reservation_book
from tests.channels.phone.conftest import staff_user
from tests.reservations.test_import_residents import HEADER as LIST_HEADER
from tests.reservations.test_import_residents import csv_bytes, row, run_command
from tests.vrs_export.cohort import venue_staff
from tests.world import World, jst
from vrs_export.models import ExportBatch

pytestmark = pytest.mark.django_db

HEADER = "日時,職員,役割,自治体コード,操作,対象,住民ID,接種券番号,経路,接続元"


def export(tmp_path: Path, *args: str) -> list[list[str]]:
    """Run the export to a file; its rows split on CRLF and commas (no quoted cells here)."""
    target = tmp_path / "audit.csv"
    call_command("audit_export", *args, "--output", str(target))
    data = target.read_bytes()
    assert data.startswith("\ufeff".encode())
    text = data.decode("utf-8-sig")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return [line.split(",") for line in text.split("\r\n")[:-1]]


def row_at(phone_world: World, ticket: Ticket, at: dt.datetime, **fields: Any) -> RecordAccess:
    return RecordAccess.objects.create(
        user=phone_world.operator,
        resident=ticket.resident,
        municipality=ticket.resident.municipality,
        action=fields.pop("action", RecordAccess.Action.VIEWED),
        at=at,
        **fields,
    )


# --- The context every row carries ----------------------------------------------------------


def test_a_console_read_records_role_city_channel_and_address(
    phone_world: World, operator_client: Client
) -> None:
    ticket = phone_world.resident()
    operator_client.get(f"/phone/r/{ticket.resident_id}/", REMOTE_ADDR="203.0.113.7")
    row = RecordAccess.objects.get(resident_id=ticket.resident_id)
    assert row.role == roles.OPERATORS
    assert row.municipality == phone_world.municipality
    assert row.channel == RecordAccess.Channel.PHONE
    assert row.client_address == "203.0.113.7"


@override_settings(TRUSTED_PROXIES=1)
def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(
    phone_world: World, operator_client: Client
) -> None:
    ticket = phone_world.resident()
    operator_client.get(
        f"/phone/r/{ticket.resident_id}/",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.1, 192.0.2.44",  # the first entry is the client's claim
    )
    assert RecordAccess.objects.get().client_address == "192.0.2.44"


def test_a_venue_list_read_records_the_venue_channel(phone_world: World, client: Client) -> None:
    ticket = phone_world.resident()
    today = jst(2026, 11, 2).date()  # the season clock's day
    booked = reservation_book(
        ticket=ticket,
        slot=phone_world.slot(today, 10),
        requester=phone_world.web,
        now=jst(2026, 11, 1),
    )
    client.force_login(venue_staff("desk"))
    client.get(
        reverse("venue:day_list", args=[booked.slot.operating_day_id]), REMOTE_ADDR="2001:db8::5"
    )
    row = RecordAccess.objects.get(resident_id=ticket.resident_id)
    assert (row.channel, row.role, row.client_address) == (
        RecordAccess.Channel.VENUE,
        roles.VENUE_STAFF,
        "2001:db8::5",
    )
    assert row.municipality_id == ticket.resident.municipality_id


def test_a_service_call_without_a_request_has_no_address_and_a_superuser_says_so(
    phone_world: World,
) -> None:
    admin = User.objects.create_superuser("root-admin", password="x")
    ticket = phone_world.resident()
    row = audit_record(
        user=admin,
        resident=ticket.resident,
        action=RecordAccess.Action.VIEWED,
        call=None,
        now=jst(2026, 11, 2, 9),
        channel=RecordAccess.Channel.COMMAND,
    )
    assert (row.role, row.client_address, row.channel) == ("superuser", "", "command")


def test_a_call_with_audit_rows_cannot_be_deleted(phone_world: World) -> None:
    """SET NULL on the trail would be an UPDATE; the link protects the call instead."""
    ticket = phone_world.resident()
    call = Call.objects.create(
        operator=phone_world.operator,
        municipality=phone_world.municipality,
        started_at=jst(2026, 11, 2, 9),
    )
    row_at(phone_world, ticket, jst(2026, 11, 2, 9), call=call)
    with pytest.raises(ProtectedError):
        call.delete()


@pytest.mark.postgres
def test_postgresql_refuses_to_update_or_delete_the_trail(phone_world: World) -> None:
    ticket = phone_world.resident()
    row = row_at(phone_world, ticket, jst(2026, 11, 2, 9))
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        RecordAccess.objects.filter(pk=row.pk).update(client_address="192.0.2.1")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        RecordAccess.objects.filter(pk=row.pk).delete()
    assert RecordAccess.objects.get(pk=row.pk).client_address == ""
    # Adding to the trail still works.
    row_at(phone_world, ticket, jst(2026, 11, 2, 10))
    assert RecordAccess.objects.count() == 2


# --- manage.py audit_export -----------------------------------------------------------------


def test_the_file_has_the_header_a_bom_and_crlf(phone_world: World, tmp_path: Path) -> None:
    rows = export(tmp_path, "--from", "2026-10-01", "--to", "2026-10-31")
    assert ",".join(rows[0]) == HEADER == ",".join(EXPORT_HEADER)
    assert rows[1:] == []


def test_each_row_reads_in_japanese(phone_world: World, tmp_path: Path) -> None:
    ticket = phone_world.resident()
    row_at(
        phone_world,
        ticket,
        jst(2026, 10, 20, 9, 30) + dt.timedelta(seconds=15),
        role=roles.OPERATORS,
        client_address="203.0.113.7",
    )
    rows = export(tmp_path, "--from", "2026-10-20", "--to", "2026-10-20")
    assert rows[1] == [
        "2026-10-20 09:30:15",
        phone_world.operator.get_username(),
        roles.OPERATORS,
        phone_world.municipality.code,
        "閲覧",
        "住民の画面（氏名・接種券・予約・連絡先）",
        str(ticket.resident_id),
        ticket.number,
        "電話",
        "203.0.113.7",
    ]


def test_rows_are_taken_by_tokyo_day_both_ends_included(phone_world: World, tmp_path: Path) -> None:
    ticket = phone_world.resident()
    for at in (
        jst(2026, 10, 19, 23, 59),  # before
        jst(2026, 10, 20, 0, 5),  # 10/19 in UTC, 10/20 in Tokyo
        jst(2026, 10, 21, 23, 59),
        jst(2026, 10, 22, 0, 0),  # after
    ):
        row_at(phone_world, ticket, at)
    rows = export(tmp_path, "--from", "2026-10-20", "--to", "2026-10-21")
    assert [r[0] for r in rows[1:]] == ["2026-10-20 00:05:00", "2026-10-21 23:59:00"]


def test_the_municipality_option_keeps_that_citys_residents(
    phone_world: World, tmp_path: Path
) -> None:
    ours = phone_world.resident()
    theirs = phone_world.neighbour().resident(name="都城 花子")
    row_at(phone_world, ours, jst(2026, 10, 20, 9))
    row_at(phone_world, theirs, jst(2026, 10, 20, 10))
    # A row from before the municipality was recorded is found through its resident.
    RecordAccess.objects.create(
        user=phone_world.operator, resident=theirs.resident, action="viewed", at=jst(2026, 10, 20)
    )
    every = export(tmp_path, "--from", "2026-10-20", "--to", "2026-10-20")
    assert len(every) == 4
    rows = export(
        tmp_path, "--from", "2026-10-20", "--to", "2026-10-20", "--municipality", "452025"
    )
    assert [(r[3], r[6]) for r in rows[1:]] == [("452025", str(theirs.resident_id))] * 2


def test_text_cells_cannot_run_as_formulas(phone_world: World, tmp_path: Path) -> None:
    ticket = phone_world.resident()
    sneaky = staff_user("-2+3", roles.OPERATORS)
    RecordAccess.objects.create(
        user=sneaky, resident=ticket.resident, action="viewed", at=jst(2026, 10, 20, 9)
    )
    rows = export(tmp_path, "--from", "2026-10-20", "--to", "2026-10-20")
    assert rows[1][1] == "'-2+3"
    assert rows[1][2] == "（記録なし）"  # no role was recorded on this row


def test_without_output_it_writes_to_standard_output(phone_world: World) -> None:
    row_at(phone_world, phone_world.resident(), jst(2026, 10, 20, 9))
    out = io.StringIO()
    call_command("audit_export", "--from", "2026-10-20", "--to", "2026-10-20", stdout=out)
    text = out.getvalue()
    assert text.startswith("\ufeff" + HEADER + "\r\n")
    assert text.count("\r\n") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-13-45", "--to", "2026-10-20"], "--from の日付は YYYY-MM-DD"),
        (["--from", "2026-10-20", "--to", "R8.10.21"], "--to の日付は YYYY-MM-DD"),
        (["--from", "2026-10-21", "--to", "2026-10-20"], "--from 以降の日付"),
        (["--from", "2026-10-20", "--to", "2026-10-20", "--municipality", "999999"], "999999"),
        (["--from", "2026-10-20", "--to", "2026-10-20", "--user", "nobody"], "職員 nobody"),
    ],
)
def test_bad_options_are_refused_in_japanese(
    phone_world: World, tmp_path: Path, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("audit_export", *args, "--output", str(tmp_path / "x.csv"))
    assert not (tmp_path / "x.csv").exists()


def test_only_staff_who_may_read_the_audit_may_export_it(
    phone_world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = staff_user("supervisor", roles.CALL_SUPERVISORS)
    with pytest.raises(CommandError, match="監査記録を見る権限がありません"):
        export(tmp_path, "--from", "2026-10-20", "--to", "2026-10-20", "--user", "operator")
    with caplog.at_level("INFO", logger="channels.phone.audit_export"):
        export(tmp_path, "--from", "2026-10-20", "--to", "2026-10-20", "--user", "supervisor")
    # (The log's filter hides the dates, as it hides anything that could be a birth date.)
    # By user id: names never go into the logs.
    assert f"audit_export by user {supervisor.pk}:" in caplog.text and "0 rows" in caplog.text


# --- --user on the command-line exports -----------------------------------------------------


def test_export_vrs_records_the_staff_member_given(world: World, tmp_path: Path) -> None:
    exporter = venue_staff("exporter", roles.EXPORTERS)
    args = ["--format", "events", "--from", "2026-11-01", "--to", "2026-11-30"]
    call_command("export_vrs", *args, "--user", "exporter", "--output", str(tmp_path / "a.csv"))
    batch = ExportBatch.objects.get()
    assert (batch.requested_by, batch.requested_by_name) == (exporter, "exporter")


@pytest.mark.parametrize(
    ("username", "message"),
    [("nobody", "職員 nobody がいません"), ("desk", "desk には出力の権限がありません")],
)
def test_export_vrs_refuses_an_unknown_or_unentitled_user(
    world: World, tmp_path: Path, username: str, message: str
) -> None:
    venue_staff("desk")
    args = ["--format", "events", "--from", "2026-11-01", "--to", "2026-11-30"]
    with pytest.raises(CommandError, match=message):
        call_command("export_vrs", *args, "--user", username, "--output", str(tmp_path / "a.csv"))
    assert not ExportBatch.objects.exists()


def test_an_inactive_account_is_refused(world: World, tmp_path: Path) -> None:
    exporter = venue_staff("exporter", roles.EXPORTERS)
    User.objects.filter(pk=exporter.pk).update(is_active=False)
    with pytest.raises(CommandError, match="有効な職員アカウントではありません"):
        call_command(
            "export_vrs",
            *["--format", "events", "--from", "2026-11-01", "--to", "2026-11-30"],
            *["--user", "exporter", "--output", str(tmp_path / "a.csv")],
        )


def test_import_residents_is_attributed_to_the_staff_member_given(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clerk = venue_staff("clerk", roles.ADMINISTRATORS)
    data = csv_bytes(LIST_HEADER, row())
    with pytest.raises(CommandError, match="職員 nobody がいません"):
        run_command(tmp_path, data, "--user", "nobody")
    venue_staff("desk")
    with pytest.raises(CommandError, match="desk には住民の取り込みの権限がありません"):
        run_command(tmp_path, data, "--user", "desk")
    with caplog.at_level("INFO", logger="reservations.import_residents"):
        run_command(tmp_path, data, "--user", "clerk")
    assert f"import_residents by user {clerk.pk}:" in caplog.text and "created 1" in caplog.text


def test_the_audit_page_shows_role_channel_and_address(
    phone_world: World, operator_client: Client, supervisor: User
) -> None:
    ticket = phone_world.resident()
    operator_client.get(f"/phone/r/{ticket.resident_id}/", REMOTE_ADDR="203.0.113.7")
    client = Client()
    client.force_login(supervisor)
    text = client.get("/phone/audit/").content.decode()
    cells = text.split('<td class="detail">')[0].rsplit("<tr>", 1)[1]
    assert f"<td>{roles.OPERATORS}</td>" in cells
    assert '<td>電話</td><td class="address">203.0.113.7</td>' in text
    assert "住民の画面（氏名・接種券・予約・連絡先）" in text
