"""manage.py followup_export --from DATE --to DATE [--municipality CODE] [--output FILE]
[--user STAFF]: the health follow-up answers of the observation days in the range as CSV, one
row per answer (channels/followup/exporting.py: UTF-8 with a BOM, CRLF).

Run with --user, the export is written to the audit trail as a read of every person in it
(channel コマンド), as vrs_export's files are; without it, nobody can be named there, and the
run (who ran it, the range, the row count) is written to the log.
"""

from __future__ import annotations

import getpass
import logging
from argparse import ArgumentParser
from pathlib import Path
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
from reservations.management.period_options import add_period_arguments, day_from_option
from reservations.management.staff_option import add_staff_argument, staff_from_option
from reservations.models import Municipality

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
        municipality = None
        if options["municipality"]:
            code = options["municipality"].strip()
            municipality = Municipality.objects.filter(code=code).first()
            if municipality is None:
                raise CommandError(_("自治体 %(code)s は登録されていません。") % {"code": code})
        output: Path | None = options["output"]
        if output is not None and output.is_dir():
            raise CommandError(_("--output にはファイルのパスを指定してください。"))

        answers = export_answers(date_from=date_from, date_to=date_to, municipality=municipality)
        if output is None:
            count = export_write(_Unended(self.stdout), answers)
        else:
            try:
                # newline="": the writer's CRLF reaches the file as it is.
                with output.open("w", encoding="utf-8", newline="") as stream:
                    count = export_write(stream, answers)
            except OSError as error:
                raise CommandError(
                    _("出力先に書き込めません: %(path)s（%(reason)s）")
                    % {"path": output, "reason": error.strerror or error}
                ) from None
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
        logger.info(
            "followup_export by %s: %s..%s, municipality %s, %d rows, to %s",
            # The staff member by id: names never go into the logs.
            f"user {user.pk}" if user is not None else f"os:{getpass.getuser()}",
            date_from.isoformat(),
            date_to.isoformat(),
            municipality.code if municipality is not None else "all",
            count,
            output or "stdout",
        )
        if output is not None:
            self.stderr.write(
                _("%(count)s行を出力しました: %(path)s") % {"count": count, "path": output}
            )


class _Unended:
    """The command's stdout without the line end it adds to each write: the CSV writer ends
    its own lines (CRLF)."""

    def __init__(self, out: Any) -> None:
        self._out = out

    def write(self, text: str) -> None:
        self._out.write(text, ending="")
