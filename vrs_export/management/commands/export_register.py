"""manage.py export_register: one programme's doses for the municipal 予防接種台帳 (one row per
dose; layout in docs/register_export.md). Options and messages as export_vrs."""

from __future__ import annotations

import getpass
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from reservations.management.staff_option import add_staff_argument, staff_from_option
from vrs_export.management.commands.export_vrs import Command as ExportVrsCommand
from vrs_export.management.commands.export_vrs import iso_date
from vrs_export.models import ExportBatch
from vrs_export.services import ExportRequest


class Command(ExportVrsCommand):
    help = (
        "Export one programme's doses (e.g. influenza-routine) for the municipal immunisation "
        "register, one row per dose. Every record is validated first; if any is invalid nothing "
        "is written unless --skip-invalid."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--program", required=True, help="programme code (Program.code)")
        parser.add_argument("--from", dest="date_from", required=True, type=iso_date)
        parser.add_argument("--to", dest="date_to", required=True, type=iso_date)
        parser.add_argument(
            "--municipality",
            default="",
            help="whose residents; required when the deployment has several municipalities",
        )
        parser.add_argument(
            "--encoding", default=ExportBatch.Encoding.UTF8, choices=ExportBatch.Encoding.values
        )
        parser.add_argument("--output", type=Path, help="file path (standard output if omitted)")
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
            format=ExportBatch.Format.REGISTER,
            date_from=options["date_from"],
            date_to=options["date_to"],
            encoding=options["encoding"],
            skip_invalid=options["skip_invalid"],
            via=ExportBatch.Via.COMMAND,
            user=user,
            user_name=user.get_username() if user is not None else getpass.getuser(),
            program_code=options["program"],
            municipality_code=options["municipality"],
        )
        self.export(request, options["output"])
