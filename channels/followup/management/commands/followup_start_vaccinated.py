"""`manage.py followup_start_vaccinated --date DATE --municipality CODE --questionnaire CODE
(--days N | --day-offsets 1,2,7) [--vaccine CODE] [--user STAFF]`: follow every resident of the
municipality vaccinated on DATE (from the core's records), e.g. the post-vaccination check on
days 1, 2 and 7 after the dose. Parsing arguments and printing are all this does; the work is
services.followups_start_for_vaccinated. Run it again for the same date and nobody is followed
twice."""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.followup.selectors import questionnaire_active
from channels.followup.services import FollowUpError, followups_start_for_vaccinated
from reservations.management.staff_option import add_staff_argument, staff_from_option
from reservations.models import Municipality
from reservations.staff_scope import staff_scope


def _offsets(raw: str) -> list[int]:
    try:
        return [int(part) for part in raw.replace("、", ",").split(",") if part.strip()]
    except ValueError:
        raise CommandError(
            _("--day-offsets は 1,2,7 のように接種日からの日数をカンマ区切りで指定してください。")
        ) from None


class Command(BaseCommand):
    help = "指定日に接種した住民の健康観察（接種後の体調確認など）を始めます。"

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--date", required=True, help="接種日（YYYY-MM-DD）")
        parser.add_argument("--municipality", metavar="CODE", required=True, help="自治体コード")
        parser.add_argument(
            "--questionnaire",
            metavar="CODE",
            default="post-vaccination",
            help="質問票のコード（既定：post-vaccination）",
        )
        parser.add_argument("--vaccine", metavar="CODE", help="このワクチンの接種者だけ")
        schedule = parser.add_mutually_exclusive_group(required=True)
        schedule.add_argument("--days", type=int, help="接種日から N 日間、毎日")
        schedule.add_argument("--day-offsets", help="接種日からの日数（例：1,2,7）")
        add_staff_argument(parser, help="始める職員のユーザー名（健康観察の追加の権限が必要）")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            vaccinated_on = dt.date.fromisoformat(options["date"])
        except ValueError:
            raise CommandError(
                _("接種日は YYYY-MM-DD で指定してください（%(value)s）。")
                % {"value": options["date"]}
            ) from None
        municipality = Municipality.objects.filter(code=options["municipality"]).first()
        if municipality is None:
            raise CommandError(
                _("自治体コード %(code)s の自治体がありません。")
                % {"code": options["municipality"]}
            )
        user = staff_from_option(
            options["user"],
            permission="followup.add_followup",
            refusal=_("%(user)s には健康観察を始める権限がありません。"),
        )
        if user is not None and not staff_scope(user).covers_municipality(municipality.pk):
            raise CommandError(
                _("%(user)s は %(name)s の担当ではありません。")
                % {"user": options["user"], "name": municipality.name}
            )
        questionnaire = questionnaire_active(options["questionnaire"])
        if questionnaire is None:
            raise CommandError(
                _("使用中の質問票 %(code)s がありません。") % {"code": options["questionnaire"]}
            )
        offsets = _offsets(options["day_offsets"]) if options["day_offsets"] else None
        try:
            report = followups_start_for_vaccinated(
                municipality=municipality,
                vaccinated_on=vaccinated_on,
                questionnaire=questionnaire,
                vaccine_code=options["vaccine"],
                days=options["days"],
                day_offsets=offsets,
                created_by=user,
                now=timezone.now(),
            )
        except FollowUpError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            _(
                "健康観察を %(created)d 人始めました"
                "（開始済み %(already)d 人、電話番号なし %(no_phone)d 人）。"
            )
            % {
                "created": len(report.created),
                "already": report.already_followed,
                "no_phone": report.without_phone,
            }
        )
