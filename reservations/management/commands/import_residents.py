"""`manage.py import_residents FILE`: load a municipality's ticket list (接種券発行リスト).

Parsing arguments and printing are all this does; the work is `resident_import`. An import
has no record of its own in the database, so who ran it (`--user`, else the operating-system
account) is written to the log with the counts.
"""

from __future__ import annotations

import getpass
import logging
import sys
from argparse import ArgumentParser
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from reservations.management.import_output import import_file_open, import_problems_write
from reservations.management.staff_option import add_staff_argument, staff_from_option
from reservations.services.residents import (
    ResidentImportFileError,
    ResidentImportReport,
    resident_import,
)

logger = logging.getLogger("reservations.import_residents")


class Command(BaseCommand):
    help = (
        "自治体の接種券発行リスト（CSV: UTF-8 または Shift_JIS、1行目は見出し）から"
        "住民と接種券を取り込みます。エラー行が1行でもあれば何も取り込みません。"
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="取り込むCSVファイル")
        parser.add_argument(
            "--municipality",
            metavar="CODE",
            default=None,
            help="自治体コード（6桁）。自治体コード列がない行・空欄の行に使い、違う行はエラー",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="検査と件数の確認だけをし、データベースは変更しない",
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="エラー行を飛ばして正しい行だけを取り込む",
        )
        add_staff_argument(parser, help="取り込みを行う職員のユーザー名（住民の追加の権限が必要）")

    def handle(self, *args: Any, **options: Any) -> None:
        path: str = options["file"]
        skip_invalid: bool = options["skip_invalid"]
        user = staff_from_option(
            options["user"],
            permission="reservations.add_resident",
            refusal=_("%(user)s には住民の取り込みの権限がありません。"),
        )
        stream = import_file_open(path)

        # The command's own stderr may be a wrapper that adds a newline to every write, which
        # would break tqdm's carriage-return redraws; draw on the stream underneath.
        err: IO[str] = getattr(self.stderr, "_out", sys.stderr)
        with (
            stream,
            tqdm(unit="行", file=err, disable=not err.isatty(), leave=False) as bar,
        ):
            try:
                report = resident_import(
                    stream=stream,
                    default_municipality_code=options["municipality"],
                    dry_run=options["dry_run"],
                    skip_invalid=skip_invalid,
                    progress=bar.update,
                )
            except ResidentImportFileError as exc:
                raise CommandError(exc.message) from None

        logger.info(
            "import_residents by %s: file %s, rows %d, created %d, updated %d, errors %d, "
            "committed %s, dry run %s",
            # The staff member by id: names never go into the logs.
            f"user {user.pk}" if user is not None else f"os:{getpass.getuser()}",
            path,
            report.rows,
            report.created,
            report.updated,
            len(report.errors),
            report.committed,
            report.dry_run,
        )
        self._print_report(report)
        if report.errors and not skip_invalid:
            raise CommandError(
                _(
                    "エラー行が%(count)d行あるため、何も取り込みませんでした。"
                    "ファイルを直してやり直すか、"
                    "--skip-invalid で正しい行だけを取り込んでください。"
                )
                % {"count": len(report.errors)}
            )

    def _print_report(self, report: ResidentImportReport) -> None:
        import_problems_write(self, warnings=report.warnings, errors=report.errors)

        if report.dry_run:
            self.stdout.write(
                self.style.WARNING(_("試行（--dry-run）: データベースは変更していません。"))
            )
        elif not report.committed:
            self.stdout.write(self.style.WARNING(_("取り込みを取り消しました。")))
        for code in report.municipalities_created:
            message = (
                _(
                    "自治体コード %(code)s の自治体を新しく登録しました。"
                    "名称が空のため、管理画面で名称を設定してください。"
                )
                if report.committed
                else _(
                    "自治体コード %(code)s の自治体は未登録のため、取り込むと新しく登録されます。"
                )
            )
            self.stdout.write(self.style.NOTICE(message % {"code": code}))

        lines = [
            _("文字コード: %(encoding)s") % {"encoding": report.encoding},
            _("データ行: %(count)d") % {"count": report.rows},
            _("新しい接種券: %(count)d（うち新しい住民: %(residents)d）")
            % {"count": report.created, "residents": report.residents_created},
            _("更新: %(count)d") % {"count": report.updated},
            _("変更なし: %(count)d") % {"count": report.unchanged},
            _("エラー行: %(count)d") % {"count": len(report.errors)},
        ]
        if report.committed and report.errors:
            lines.append(_("エラー行は飛ばして、ほかの行を取り込みました。"))
        self.stdout.write("\n".join(lines))
        if report.committed:
            self.stdout.write(self.style.SUCCESS(_("取り込みが完了しました。")))
