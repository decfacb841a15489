"""manage.py audit_export --from DATE --to DATE [--municipality CODE] [--output PATH]
[--user STAFF]: the audit trail of staff reads and changes (RecordAccess) as CSV for the
municipality's own audit.

UTF-8 with a BOM and CRLF line ends, so Excel on Japanese Windows opens it as it is; text cells
are neutralised against formula injection (reservations/csv_safety.py).

The export itself reads many residents' ticket numbers. It is not written to the trail as
RecordAccess rows (one per resident would make every export grow the next one, and a row needs
a member of staff, which a run without --user lacks): it is written to the log, with who ran
it, the range, the municipality and the row count.
"""

from __future__ import annotations

import logging
from argparse import ArgumentParser
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext as _

from channels.phone.audit import (
    EXPORT_HEADER,
    EXPORT_NUMERIC_COLUMNS,
    audit_export_cells,
    audit_export_rows,
)
from channels.phone.models import RecordAccess
from reservations.csv_safety import SafeWriter
from reservations.management.period_options import (
    add_period_arguments,
    day_from_option,
    export_finished,
    municipality_from_option,
    output_from_option,
    write_to_file,
)
from reservations.management.staff_option import add_staff_argument, staff_from_option

logger = logging.getLogger("channels.phone.audit_export")


class Command(BaseCommand):
    help = (
        "住民記録の閲覧・変更の監査記録を CSV（UTF-8 BOM 付き、CRLF）で出力します。"
        "期間は日本時間の日付で、両端の日を含みます。"
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_period_arguments(parser)
        add_staff_argument(parser, help="出力する職員のユーザー名（監査記録を見る権限が必要）")

    def handle(self, *args: Any, **options: Any) -> None:
        date_from = day_from_option(options["date_from"], "--from")
        date_to = day_from_option(options["date_to"], "--to")
        if date_to < date_from:
            raise CommandError(_("--to には --from 以降の日付を指定してください。"))
        user = staff_from_option(
            options["user"],
            permission="phone.view_audit",
            refusal=_("%(user)s には監査記録を見る権限がありません。"),
        )
        municipality = municipality_from_option(options["municipality"])
        output = output_from_option(options["output"])

        rows = audit_export_rows(date_from=date_from, date_to=date_to, municipality=municipality)
        if output is None:
            # A BOM with no line end (the command's stdout would add one otherwise).
            self.stdout.write("\ufeff", ending="")
            count = self._write_rows(self.stdout, rows)
        else:
            count = write_to_file(output, lambda stream: self._write_file(stream, rows))
        export_finished(
            self,
            logger,
            user=user,
            date_from=date_from,
            date_to=date_to,
            municipality=municipality,
            count=count,
            output=output,
        )

    def _write_file(self, stream: IO[str], rows: QuerySet[RecordAccess]) -> int:
        stream.write("\ufeff")
        return self._write_rows(stream, rows)

    def _write_rows(self, stream: IO[str] | OutputWrapper, rows: QuerySet[RecordAccess]) -> int:
        """The header and every row after the BOM; returns the number of rows."""
        writer = SafeWriter(stream, lineterminator="\r\n", numeric_columns=EXPORT_NUMERIC_COLUMNS)
        writer.writerow(EXPORT_HEADER)
        count = 0
        # The file's words are Japanese whatever the shell's locale: the audit reads them so.
        with translation.override("ja"):
            for cells in audit_export_cells(rows):
                writer.writerow(cells)
                count += 1
        return count
