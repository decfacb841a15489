"""manage.py reconcile_vrs FILE [--apply --user STAFF --reason TEXT]: read a VRS ledger (or a
予防接種台帳 file) back against our records."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from reservations.management.staff_option import add_staff_argument, staff_from_option
from reservations.models import Municipality
from vrs_export.models import ExportBatch, ReconcileRun
from vrs_export.reconcile import ReconcileNotAllowed, reconcile_run


class Command(BaseCommand):
    help = (
        "Compare a VRS 予防接種台帳向け出力 file (or our 予防接種台帳 layout) with our records: "
        "import doses given elsewhere and find residents still holding a booking such a dose "
        "replaces. Matches by person, date and vaccine; the dose number is only checked. "
        "Reports only, unless --apply (then the bookings are cancelled and the residents "
        "notified via the outbox). Every run is audited with the file's SHA-256."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--apply", action="store_true", help="import and cancel for real")
        add_staff_argument(
            parser, help="staff username the run is attributed to (required with --apply)"
        )
        parser.add_argument(
            "--reason", default="", help="why it is applied (required with --apply)"
        )
        parser.add_argument(
            "--municipality",
            default=settings.HOME_MUNICIPALITY_CODE,
            help="code of the municipality whose file this is (default HOME_MUNICIPALITY_CODE)",
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
        # Whether the member may apply is the service's rule (ReconcileNotAllowed).
        user = staff_from_option(options["user"])
        if options["apply"] and user is None:
            raise CommandError(_("--apply には --user（実施する職員）が必要です。"))
        try:
            run, report = reconcile_run(
                data=path.read_bytes(),
                file_name=path.name,
                municipality=municipality,
                user=user,
                via=ReconcileRun.Via.COMMAND,
                apply=options["apply"],
                reason=options["reason"],
                encoding=options["encoding"],
            )
        except ReconcileNotAllowed as error:
            raise CommandError(str(error)) from None
        if report is None:
            raise CommandError(run.report["unreadable"])
        verb = _("取り込み") if options["apply"] else _("取り込み予定")
        self.stdout.write(
            _("行数 %(rows)s / 既知の接種 %(known)s / %(verb)s %(imported)s")
            % {
                "rows": report.rows,
                "known": report.known,
                "verb": verb,
                "imported": len(report.imported),
            }
        )
        heading = (
            _("他所接種済みでキャンセルした予約")
            if options["apply"]
            else _("他所接種済みの予約（--apply でキャンセル）")
        )
        for title, lines in (
            (_("読み取りの前提"), report.assumptions),
            (verb, report.imported),
            (heading, report.cancellations),
            (_("食い違い（手動で確認・訂正してください）"), report.conflicts),
            (_("確認事項（接種回数の違いなど）"), report.findings),
            (_("取り込めなかった行"), report.problems),
        ):
            self.stdout.write(f"{title}: {len(lines)}")
            for line in lines:
                self.stdout.write(f"  {line}")
        self.stdout.write(
            _("記録番号 %(run)s、SHA-256 %(sha)s") % {"run": run.pk, "sha": run.sha256}
        )
