"""manage.py export_vrs: write the VRS ledger or the dose-events file for a date range."""

from __future__ import annotations

import datetime as dt
import getpass
import shutil
import sys
import tempfile
from argparse import ArgumentParser, ArgumentTypeError
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from reservations.management.staff_option import add_staff_argument, staff_from_option
from vrs_export.models import ExportBatch
from vrs_export.services import (
    ExportOptionsInvalid,
    ExportRefused,
    ExportRequest,
    vrs_export_write,
)


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = (
        "Export vaccination records in the VRS ledger layout or as dose events. Every record "
        "is validated first; if any is invalid nothing is written unless --skip-invalid."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--format", required=True, choices=ExportBatch.Format.values)
        parser.add_argument("--from", dest="date_from", required=True, type=iso_date)
        parser.add_argument("--to", dest="date_to", required=True, type=iso_date)
        parser.add_argument(
            "--municipality",
            default="",
            help="whose residents (one municipality per file); required when the deployment "
            "has several municipalities",
        )
        parser.add_argument(
            "--encoding", default=ExportBatch.Encoding.UTF8, choices=ExportBatch.Encoding.values
        )
        parser.add_argument("--output", type=Path, help="file path (standard output if omitted)")
        parser.add_argument(
            "--since-last", action="store_true", help="only what changed since the last batch"
        )
        parser.add_argument(
            "--skip-invalid", action="store_true", help="write the valid records anyway"
        )
        add_staff_argument(
            parser, help="staff username recorded on the batch (needs the export permission)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = staff_from_option(
            options["user"],
            permission="reservations.export_vrs",
            refusal=_("%(user)s には出力の権限がありません。"),
        )
        request = ExportRequest(
            format=options["format"],
            date_from=options["date_from"],
            date_to=options["date_to"],
            encoding=options["encoding"],
            since_last=options["since_last"],
            skip_invalid=options["skip_invalid"],
            municipality_code=options["municipality"],
            via=ExportBatch.Via.COMMAND,
            user=user,
            # Without --user the batch names the operating-system account that ran it.
            user_name=user.get_username() if user is not None else getpass.getuser(),
        )
        self.export(request, options["output"])

    def export(self, request: ExportRequest, output: Path | None) -> None:
        """Write the file (or standard output), report problems and the batch; shared with
        export_register, whose request differs and whose output is the same."""
        if output is not None and output.is_dir():
            raise CommandError(_("--output にはファイルのパスを指定してください。"))
        show_progress = self.stderr.isatty()
        try:
            if output is not None:
                batch = self._write(request, output, show_progress)
            else:
                with tempfile.TemporaryDirectory() as directory:
                    staged = Path(directory) / "export.csv"
                    batch = self._write(request, staged, show_progress)
                    with staged.open("rb") as source:
                        self.stdout.flush()
                        shutil.copyfileobj(source, sys.stdout.buffer)
                        sys.stdout.buffer.flush()
        except ExportOptionsInvalid as error:
            raise CommandError(str(error)) from None
        except OSError as error:
            # A folder that does not exist or cannot be written: nothing was written.
            raise CommandError(
                _("出力先に書き込めません: %(path)s（%(reason)s）")
                % {"path": output, "reason": error.strerror or error}
            ) from None
        except ExportRefused as refused:
            raise CommandError(
                _(
                    "不備のある記録が%(count)s件あるため、出力しませんでした（上の一覧を参照）。"
                    "訂正するか、--skip-invalid を指定してください。"
                )
                % {"count": refused.batch.invalid_count}
            ) from None
        summary = _(
            "出力 %(rows)s行（不備で除外 %(invalid)s件） SHA-256 %(sha)s バッチ #%(batch)s"
        ) % {
            "rows": batch.row_count,
            "invalid": batch.invalid_count,
            "sha": batch.sha256,
            "batch": batch.pk,
        }
        self.stderr.write(summary)

    def _write(self, request: ExportRequest, target: Path, show_progress: bool) -> ExportBatch:
        def report(line: str) -> None:
            self.stderr.write(_("不備: %(line)s") % {"line": line})

        def progress(done: int, total: int) -> None:
            width = 30
            filled = width * done // total if total else width
            bar = "#" * filled + "-" * (width - filled)
            self.stderr.write(f"\r[{bar}] {done}/{total}", ending="")
            if done == total:
                self.stderr.write("")

        return vrs_export_write(
            request=request,
            target=target,
            on_problem=report,
            on_progress=progress if show_progress else None,
        )
