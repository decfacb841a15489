"""`manage.py followup_import FILE --questionnaire CODE --municipality CODE`: start health
follow-ups for a list of people (CSV). Parsing arguments and printing are all this does; the
work is channels/followup/importing.py. Who ran it (`--user`, else the operating-system
account) goes to the log with the counts.
"""

from __future__ import annotations

import getpass
import logging
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.followup.importing import (
    FollowUpImportFileError,
    FollowUpImportReport,
    followup_import,
)
from reservations.management.import_output import import_file_open, import_problems_write
from reservations.management.staff_option import add_staff_argument, staff_from_option

logger = logging.getLogger("channels.followup.import")


class Command(BaseCommand):
    help = (
        "健康観察の対象者の一覧（CSV: UTF-8 または Shift_JIS、見出し 氏名,電話番号,生年月日,"
        "開始日,日数）から健康観察を始めます。エラー行が1行でもあれば何も取り込みません。"
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="取り込むCSVファイル")
        parser.add_argument(
            "--questionnaire", metavar="CODE", required=True, help="質問票のコード（例：home-care）"
        )
        parser.add_argument(
            "--municipality", metavar="CODE", required=True, help="自治体コード（6桁）"
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="検査と件数の確認だけをし、データベースは変更しない",
        )
        add_staff_argument(
            parser, help="取り込みを行う職員のユーザー名（健康観察の追加の権限が必要）"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: str = options["file"]
        user = staff_from_option(
            options["user"],
            permission="followup.add_followup",
            refusal=_("%(user)s には健康観察の取り込みの権限がありません。"),
        )
        stream = import_file_open(path)
        with stream:
            try:
                report = followup_import(
                    stream=stream,
                    questionnaire_code=options["questionnaire"],
                    municipality_code=options["municipality"],
                    dry_run=options["dry_run"],
                    created_by=user,
                    now=timezone.now(),
                )
            except FollowUpImportFileError as exc:
                raise CommandError(exc.message) from None

        logger.info(
            "followup_import by %s: file %s, rows %d, created %d, errors %d, committed %s, "
            "dry run %s",
            # The staff member by id: names never go into the logs.
            f"user {user.pk}" if user is not None else f"os:{getpass.getuser()}",
            path,
            report.rows,
            report.created,
            len(report.errors),
            report.committed,
            report.dry_run,
        )
        self._print_report(report)
        if report.errors:
            raise CommandError(
                _("エラー行が%(count)d行あるため、何も取り込みませんでした。")
                % {"count": len(report.errors)}
            )

    def _print_report(self, report: FollowUpImportReport) -> None:
        import_problems_write(self, warnings=report.warnings, errors=report.errors)
        if report.dry_run:
            self.stdout.write(
                self.style.WARNING(_("試行（--dry-run）: データベースは変更していません。"))
            )
        lines = [
            _("文字コード: %(encoding)s") % {"encoding": report.encoding},
            _("データ行: %(count)d") % {"count": report.rows},
            _("新しい健康観察: %(count)d（うち新しい対象者: %(people)d、住民と照合: %(linked)d）")
            % {
                "count": report.created,
                "people": report.people_created,
                "linked": report.linked_to_residents,
            },
            _("すでに健康観察中のため飛ばした行: %(count)d") % {"count": report.already_followed},
            _("エラー行: %(count)d") % {"count": len(report.errors)},
        ]
        self.stdout.write("\n".join(lines))
        if report.committed:
            self.stdout.write(self.style.SUCCESS(_("取り込みが完了しました。")))
