"""/exports/reconcile/: upload, preview (nothing changes), apply with a reason; audited."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from reservations import roles
from reservations.models import Reservation, Vaccination
from reservations.services.booking import reservation_book
from tests.vrs_export.cohort import venue_staff
from tests.vrs_export.test_reconcile import EMPTY, block, ledger_bytes
from tests.world import World, jst
from vrs_export.models import ReconcileRun

pytestmark = pytest.mark.django_db
NOW = jst(2026, 11, 2, 9)
URL = "/exports/reconcile/"


def upload(client: Client, data: bytes, name: str = "vrs.csv") -> str:
    response = client.post(URL, {"file": SimpleUploadedFile(name, data, "text/csv")})
    assert response.status_code in (200, 422)
    return response.content.decode()


def test_only_staff_allowed_to_reconcile_reach_the_page(client: Client, world: World) -> None:
    assert client.get(URL).status_code == 302
    client.force_login(venue_staff("venue-only", roles.VENUE_STAFF))
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"file": SimpleUploadedFile("x.csv", b"a")}).status_code == 403
    client.force_login(venue_staff("op-only", roles.OPERATORS))
    assert client.get(URL).status_code == 403
    assert not ReconcileRun.objects.exists()
    client.force_login(venue_staff("exporter", roles.EXPORTERS))
    page = client.get(URL).content.decode()
    assert "ファイルを選んで確認する" in page


def test_an_exporter_previews_then_applies_with_a_reason(client: Client, world: World) -> None:
    ticket = world.resident()
    booked = reservation_book(
        ticket=ticket, slot=world.slot(dt.date(2026, 11, 20)), requester=world.web, now=NOW
    )
    user = venue_staff("exporter", roles.EXPORTERS)
    client.force_login(user)
    data = ledger_bytes(
        [["", *block("20261025", ticket.number), *EMPTY]], header=None, encoding="cp932"
    )
    page = upload(client, data)
    assert "確認のみ：まだ何も変わっていません" in page and booked.code in page
    assert "Shift_JIS（CP932）" in page
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CONFIRMED and not Vaccination.objects.exists()
    preview = ReconcileRun.objects.get()
    assert preview.sha256 == hashlib.sha256(data).hexdigest() and preview.content is not None

    # No reason: refused, and the preview can still be applied.
    missing = client.post(URL, {"run": preview.pk, "reason": ""})
    assert missing.status_code == 422 and "errorlist" in missing.content.decode()
    assert booked.code in missing.content.decode()  # the preview is shown again
    done = client.post(URL, {"run": preview.pk, "reason": "11月分のVRS台帳"})
    assert done.status_code == 200 and "反映しました" in done.content.decode()
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CANCELLED
    applied = ReconcileRun.objects.get(mode="applied")
    assert (applied.preview, applied.reason, applied.requested_by) == (
        preview,
        "11月分のVRS台帳",
        user,
    )
    assert applied.sha256 == preview.sha256 and applied.cancelled == 1
    preview.refresh_from_db()
    assert preview.content is None  # the file is not kept once applied
    # A second click applies nothing.
    again = client.post(URL, {"run": preview.pk, "reason": "11月分のVRS台帳"})
    assert again.status_code == 409 and Vaccination.objects.count() == 1


def test_someone_elses_preview_cannot_be_applied(client: Client, world: World) -> None:
    ticket = world.resident()
    first = venue_staff("first", roles.EXPORTERS)
    client.force_login(first)
    upload(client, ledger_bytes([["", *block("20261025", ticket.number), *EMPTY]]))
    preview = ReconcileRun.objects.get()
    client.force_login(venue_staff("second", roles.EXPORTERS))
    response = client.post(URL, {"run": preview.pk, "reason": "横取り"})
    assert response.status_code == 409 and not Vaccination.objects.exists()


def test_an_unreadable_file_is_explained_and_audited(client: Client, world: World) -> None:
    client.force_login(venue_staff("exporter", roles.EXPORTERS))
    page = upload(client, "氏名,住所\r\n日南 花子,日南市\r\n".encode())
    assert "このファイルは読み取れませんでした" in page and "予防接種台帳" in page
    run = ReconcileRun.objects.get()
    assert run.mode == "refused" and run.content is None
    assert run.sha256 in page
