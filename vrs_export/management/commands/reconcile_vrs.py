"""manage.py reconcile_vrs FILE [--apply]: read a VRS ledger back against our records."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from reservations.models import Municipality
from vrs_export.models import ExportBatch
from vrs_export.reconcile import LedgerUnreadable, vrs_reconcile


class Command(BaseCommand):
    help = (
        "Compare a VRS 予防接種台帳向け出力 file with our records: import doses given elsewhere "
        "and find residents still holding a booking for such a dose. Reports only, unless "
        "--apply (then the bookings are cancelled and the residents notified via the outbox)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--apply", action="store_true", help="import and cancel for real")
        parser.add_argument(
            "--user", help="staff username recorded on the changes (required with --apply)"
        )
        parser.add_argument(
            "--municipality",
            default=settings.HOME_MUNICIPALITY_CODE,
            help="code of the municipality whose ledger this is (default HOME_MUNICIPALITY_CODE)",
        )
        parser.add_argument(
            "--encoding", choices=ExportBatch.Encoding.values, help="default: detected"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(_("ファイルが見つかりません: %(path)s") % {"path": path})
        municipality = Municipality.objects.filter(code=options["municipality"]).first()
        if municipality is None:
            raise CommandError(
                _("自治体 %(code)s は登録されていません。") % {"code": options["municipality"]}
            )
        user = None
        if options["apply"]:
            if not options["user"]:
                raise CommandError(_("--apply には --user（実施する職員）が必要です。"))
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None or not (
                user.has_perm("reservations.reconcile_vrs")
                and user.has_perm("reservations.book_on_behalf")
            ):
                raise CommandError(
                    _("%(user)s には突合とキャンセルの権限がありません。")
                    % {"user": options["user"]}
                )
        try:
            report = vrs_reconcile(
                path=path,
                municipality=municipality,
                apply=options["apply"],
                user=user,
                encoding=options["encoding"],
            )
        except (LedgerUnreadable, UnicodeDecodeError) as error:
            raise CommandError(str(error)) from None
        verb = _("取り込み") if options["apply"] else _("取り込み予定")
        self.stdout.write(
            _("行数 %(rows)s / 既知の接種 %(known)s / %(verb)s %(imported)s")
            % {
                "rows": report.rows,
                "known": report.known,
                "verb": verb,
                "imported": report.imported,
            }
        )
        heading = (
            _("キャンセルした重複予約")
            if options["apply"]
            else _("重複予約（--apply でキャンセル）")
        )
        for title, lines in (
            (heading, report.double_bookings),
            (_("日付の食い違い（手動で確認・訂正してください）"), report.conflicts),
            (_("取り込めなかった行"), report.problems),
        ):
            self.stdout.write(f"{title}: {len(lines)}")
            for line in lines:
                self.stdout.write(f"  {line}")
