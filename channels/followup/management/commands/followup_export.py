"""manage.py followup_export --from DATE --to DATE [--municipality CODE] [--output FILE]
[--user STAFF]: the health follow-up answers of the observation days in the range as CSV, one
row per answer (channels/followup/exporting.py: UTF-8 with a BOM, CRLF).

Run with --user, the export is written to the audit trail as a read of every person in it
(channel コマンド), as vrs_export's files are; without it, nobody can be named there, and the
run (who ran it, the range, the row count) is written to the log.
"""

from __future__ import annotations

import logging
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.followup.exporting import (
    export_answers,
    export_file_name,
    export_people,
    export_write,
    range_problem,
)
from channels.followup.staff import people_shown
from reservations import audit
from reservations.management.period_options import (
    add_period_arguments,
    day_from_option,
    export_finished,
    municipality_from_option,
    output_from_option,
    write_to_file,
)
from reservations.management.staff_option import add_staff_argument, staff_from_option

logger = logging.getLogger("channels.followup.export")


class Command(BaseCommand):
    help = (
        "健康観察の回答を CSV（UTF-8 BOM 付き、CRLF）で出力します。1行が1日分の回答です。"
        "期間は観察日で、両端の日を含みます。"
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_period_arguments(parser)
        add_staff_argument(
            parser, help="出力する職員のユーザー名（監査記録に残ります。回答を見る権限が必要）"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        date_from = day_from_option(options["date_from"], "--from")
        date_to = day_from_option(options["date_to"], "--to")
        problem = range_problem(date_from, date_to)
        if problem:
            raise CommandError(problem)
        user = staff_from_option(
            options["user"],
            permission="followup.view_followupanswer",
            refusal=_("%(user)s には健康観察の回答を見る権限がありません。"),
        )
        municipality = municipality_from_option(options["municipality"])
        output = output_from_option(options["output"])

        answers = export_answers(date_from=date_from, date_to=date_to, municipality=municipality)
        if output is None:
            count = export_write(_Unended(self.stdout), answers)
        else:
            count = write_to_file(output, lambda stream: export_write(stream, answers))
        if user is not None:
            people_shown(
                user=user,
                people=export_people(answers),
                page="followup_export",
                detail={
                    "export": "followup_csv",
                    "file": output.name
                    if output is not None
                    else export_file_name(
                        date_from=date_from, date_to=date_to, municipality=municipality
                    ),
                },
                now=timezone.now(),
                channel=audit.COMMAND,
                client_address="",
            )
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


class _Unended:
    """The command's stdout without the line end it adds to each write: the CSV writer ends
    its own lines (CRLF)."""

    def __init__(self, out: Any) -> None:
        self._out = out

    def write(self, text: str) -> None:
        self._out.write(text, ending="")
