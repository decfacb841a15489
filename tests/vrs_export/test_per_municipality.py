"""One municipality per file: a deployment serving two cities never mixes their residents in
one VRS file, names the city in the file name and the batch, and keeps each city's
--since-last mark apart."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from channels.phone.models import RecordAccess
from reservations import roles
from reservations.models import Site, StaffAssignment
from tests.vrs_export.cohort import Cohort, build_cohort, give, venue_staff
from tests.vrs_export.test_export import rows_of
from tests.world import World
from vrs_export.models import ExportBatch

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 10, 20)


@pytest.fixture
def two_cities(world: World) -> tuple[Cohort, Cohort]:
    """日南市's fixed cohort, and one dose of a 都城市 resident at 都城市's own site."""
    nichinan = build_cohort(world)
    neighbour = world.neighbour()
    site = Site.objects.get(municipality=neighbour.municipality)
    miyakonojo = Cohort(world=neighbour, site=site, staff=nichinan.staff, tickets={})
    ticket = neighbour.resident()
    miyakonojo.tickets["m"] = ticket
    give(miyakonojo, ticket, DAY)
    return nichinan, miyakonojo


def export(tmp_path: Path, name: str, *args: str) -> Path:
    target = tmp_path / name
    call_command(
        "export_vrs", "--from", "2021-01-01", "--to", "2026-11-30", "--output", str(target), *args
    )
    return target


def test_with_two_cities_the_municipality_must_be_named(
    two_cities: tuple[Cohort, Cohort], tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="複数の自治体"):
        export(tmp_path, "mixed.csv", "--format", "ledger")
    assert not (tmp_path / "mixed.csv").exists()
    with pytest.raises(CommandError, match="999999|登録されていません"):
        export(tmp_path, "x.csv", "--format", "ledger", "--municipality", "999999")


@pytest.mark.parametrize("fmt", ["ledger", "events"])
def test_each_file_holds_one_citys_residents(
    two_cities: tuple[Cohort, Cohort], tmp_path: Path, fmt: str
) -> None:
    nichinan, miyakonojo = two_cities
    outsider = miyakonojo.tickets["m"].resident
    ours = rows_of(export(tmp_path, "a.csv", "--format", fmt, "--municipality", "452041"))
    theirs = rows_of(export(tmp_path, "b.csv", "--format", fmt, "--municipality", "452025"))
    assert len(ours) > 2 and len(theirs) == 2  # header and 都城市's one person or dose
    assert not any(outsider.name_kana in cell for row in ours for cell in row)
    assert any("452025" in cell for cell in theirs[1])
    assert not any("452025" in cell for row in ours[1:] for cell in row)
    batches = ExportBatch.objects.order_by("pk")
    assert [b.municipality_code for b in batches] == ["452041", "452025"]
    assert "_452025_" in batches.last().file_name  # type: ignore[union-attr]


def test_each_city_keeps_its_own_since_last_mark(
    two_cities: tuple[Cohort, Cohort], tmp_path: Path
) -> None:
    nichinan, _miyakonojo = two_cities
    export(tmp_path, "a.csv", "--format", "events", "--municipality", "452041")
    # 日南市's export set no mark for 都城市: its first delta still holds its dose.
    theirs = export(
        tmp_path, "b.csv", "--format", "events", "--since-last", "--municipality", "452025"
    )
    assert len(rows_of(theirs)) == 2
    again = export(
        tmp_path, "c.csv", "--format", "events", "--since-last", "--municipality", "452041"
    )
    assert len(rows_of(again)) == 1  # nothing new for 日南市


def test_the_download_page_exports_the_city_the_exporter_acts_for(
    two_cities: tuple[Cohort, Cohort], client: Client
) -> None:
    nichinan, miyakonojo = two_cities
    exporter = venue_staff("exporter", roles.EXPORTERS)
    for city in (nichinan, miyakonojo):
        StaffAssignment.objects.create(user=exporter, municipality=city.world.municipality)
    client.force_login(exporter)
    form = {"format": "ledger", "date_from": "2021-01-01", "date_to": "2026-11-30"}
    form |= {"encoding": "utf-8"}
    page = client.get("/exports/").content.decode()
    assert "出力する自治体: 日南市" in page  # the home city first
    first = client.post("/exports/", form)
    assert first.status_code == 200
    assert b"".join(first.streaming_content)
    client.post("/staff/municipality/", {"municipality": "452025", "next": "/exports/"})
    second = client.post("/exports/", form)
    assert b"".join(second.streaming_content)
    assert list(ExportBatch.objects.order_by("pk").values_list("municipality_code", flat=True)) == [
        "452041",
        "452025",
    ]
    # Each file is a read of its own city's residents, and only theirs.
    read = RecordAccess.objects.filter(channel="exports").values_list(
        "municipality__code", flat=True
    )
    assert set(read) == {"452041", "452025"}
    assert read.filter(resident=miyakonojo.tickets["m"].resident).count() == 1


def test_an_exporter_of_one_city_never_exports_the_other(
    two_cities: tuple[Cohort, Cohort], client: Client, tmp_path: Path
) -> None:
    nichinan, _miyakonojo = two_cities
    exporter = venue_staff("exporter", roles.EXPORTERS)
    StaffAssignment.objects.create(user=exporter, municipality=nichinan.world.municipality)
    client.force_login(exporter)
    switched = client.post("/staff/municipality/", {"municipality": "452025"}, follow=True)
    assert "担当していない自治体です。" in switched.content.decode()
    with pytest.raises(CommandError, match="担当ではない"):
        export(
            tmp_path,
            "x.csv",
            "--format",
            "ledger",
            "--municipality",
            "452025",
            "--user",
            "exporter",
        )
    # Nobody assigned, in a deployment serving two cities: no city at all, said in words.
    client.force_login(venue_staff("unassigned", roles.EXPORTERS))
    refused = client.get("/exports/")
    assert refused.status_code == 403
    assert "担当の自治体が設定されていません" in refused.content.decode()


def test_a_single_city_deployment_needs_no_option(world: World, tmp_path: Path) -> None:
    build_cohort(world)
    rows = rows_of(export(tmp_path, "a.csv", "--format", "ledger"))
    assert len(rows) > 1
    assert ExportBatch.objects.get().municipality_code == "452041"
