"""/exports/: permission, the same file as the command, refusals shown, every download audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from reservations import roles
from tests.vrs_export.cohort import build_cohort, give, venue_staff
from tests.world import World
from vrs_export.models import ExportBatch

pytestmark = pytest.mark.django_db
GOLDEN = Path(__file__).parent / "golden"
FORM = {"format": "ledger", "date_from": "2021-01-01", "date_to": "2026-11-30", "encoding": "cp932"}


def test_only_exporters_may_download(client: Client, world: World) -> None:
    assert client.get("/exports/").status_code == 302
    client.force_login(venue_staff("venue-only", roles.VENUE_STAFF))
    assert client.get("/exports/").status_code == 403  # the staff 403 page, not a sign-in loop
    assert client.post("/exports/", FORM).status_code == 403
    assert not ExportBatch.objects.exists()


def test_it_downloads_the_same_bytes_as_the_command_and_audits(
    client: Client, world: World
) -> None:
    build_cohort(world)
    user = venue_staff("exporter", roles.EXPORTERS)
    client.force_login(user)
    response = client.post("/exports/", FORM)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert body == (GOLDEN / "ledger.cp932.csv").read_bytes()
    batch = ExportBatch.objects.get()
    assert response["Content-Disposition"].endswith(f'filename="{batch.file_name}"')
    assert (batch.via, batch.requested_by, batch.row_count) == ("web", user, 3)
    page = client.get("/exports/").content.decode()
    assert batch.sha256 in page and "exporter" in page


def test_a_refused_export_shows_the_records(client: Client, world: World) -> None:
    cohort = build_cohort(world)
    import datetime as dt

    give(cohort, cohort.tickets["b"], dt.date(2026, 10, 30), doctor="𠮷田 花子")
    client.force_login(venue_staff("exporter", roles.EXPORTERS))
    response = client.post("/exports/", {**FORM, "format": "events"})
    assert response.status_code == 422
    assert "0000012345" in response.content.decode()
    assert ExportBatch.objects.get().status == ExportBatch.Status.REFUSED


def test_it_checks_the_options(client: Client, world: World) -> None:
    client.force_login(venue_staff("exporter", roles.EXPORTERS))
    response = client.post("/exports/", {**FORM, "date_from": "2026-12-01", "since_last": "on"})
    assert response.status_code == 200 and 'class="errorlist' in response.content.decode()
    assert not ExportBatch.objects.exists()
