"""The pre-opening check from the command line: print every finding of a municipality's set-up
(reservations.season_check) and exit non-zero when there are errors, so a script or CI stops."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from reservations.models import Campaign, Municipality, OpeningCheck
from reservations.season_check import Severity, season_check
from reservations.services.openings import openings_check_due

# Exit status when the check found errors (CommandError's default, 1, means the same to a
# shell; named so scripts and tests read what it stands for).
EXIT_ERRORS = 1


class Command(BaseCommand):
    help = (
        "Check a municipality's set-up before booking opens (dose-2 seats, capacity, phone "
        "reserve, closed days, lots, SMS/LINE/call centre, booking windows). Exits 1 when "
        "there are errors. With --record, also records the verdict on its openings due soon, "
        "as the beat task does."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--municipality", required=True, help="全国地方公共団体コード (6 digits)"
        )
        parser.add_argument("--campaign", default="", help="campaign code (default: all)")
        parser.add_argument(
            "--record",
            action="store_true",
            help="record the verdict on the openings due (this can hold one shut)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        code = str(options["municipality"]).strip()
        municipality = Municipality.objects.filter(code=code).first()
        if municipality is None:
            raise CommandError(_("自治体コード %(code)s の自治体はありません。") % {"code": code})
        campaign = None
        if options["campaign"]:
            campaign = Campaign.objects.filter(code=options["campaign"]).first()
            if campaign is None:
                raise CommandError(
                    _("キャンペーン %(code)s はありません。") % {"code": options["campaign"]}
                )
        now = timezone.now()
        findings = season_check(municipality=municipality, campaign=campaign, now=now)
        self.stdout.write(
            _("%(municipality)s の開始前チェック（%(at)s）")
            % {
                "municipality": municipality,
                "at": timezone.localtime(now).strftime("%Y-%m-%d %H:%M"),
            }
        )
        for finding in findings:
            line = f"[{finding.severity_label()}] {finding.code}: {finding.text()}"
            style = {
                Severity.ERROR: self.style.ERROR,
                Severity.WARNING: self.style.WARNING,
            }.get(finding.severity, str)
            self.stdout.write(style(line))
        counts = {
            severity: sum(f.severity == severity for f in findings)
            for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO)
        }
        self.stdout.write(
            _("エラー %(errors)s件、警告 %(warnings)s件、情報 %(infos)s件")
            % {
                "errors": counts[Severity.ERROR],
                "warnings": counts[Severity.WARNING],
                "infos": counts[Severity.INFO],
            }
        )
        if options["record"]:
            for check in openings_check_due(
                now=now, trigger=OpeningCheck.Trigger.COMMAND, municipality=municipality
            ):
                verdict = _("受付を止めています") if check.blocked else _("受付を開始できます")
                self.stdout.write(
                    _("記録: %(opening)s — %(verdict)s")
                    % {"opening": check.opening, "verdict": verdict}
                )
        if counts[Severity.ERROR]:
            raise CommandError(
                _("エラーが %(count)s 件あります。直すか、管理者が理由を記録して承認してください。")
                % {"count": counts[Severity.ERROR]},
                returncode=EXIT_ERRORS,
            )
