"""The --since-last mark never passes a dose that is still being written."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from reservations.models import Vaccination
from vrs_export.selectors import latest_vaccination_id

TABLE = Vaccination._meta.db_table


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_mark_waits_for_a_transaction_still_writing_doses() -> None:
    writing = threading.Event()
    finish = threading.Event()

    def open_writer() -> None:
        # What a venue tablet's vaccination_record holds between its INSERT and its COMMIT.
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f'LOCK TABLE "{TABLE}" IN ROW EXCLUSIVE MODE')
                writing.set()
                finish.wait(10)
        finally:
            connection.close()

    marks: list[int] = []

    def export_starts() -> None:
        try:
            marks.append(latest_vaccination_id())
        finally:
            connection.close()

    writer = threading.Thread(target=open_writer)
    writer.start()
    assert writing.wait(10)
    exporter = threading.Thread(target=export_starts)
    exporter.start()
    exporter.join(0.5)
    assert exporter.is_alive() and marks == []  # waiting for the writer to end
    finish.set()
    exporter.join(10)
    writer.join(10)
    assert marks == [0]
