"""`python manage.py forecast --municipality CODE --from DATE --to DATE`: the season plan's call
forecast as CSV (UTF-8), one row per half hour the call centre is open:
日時, 予測入電 (calls to staff for: the plan blended with the call log), 必要オペレーター
(operators on the phones at once, Erlang C), 回線 (lines, Erlang B)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.phone.models import SeasonPlan
from channels.phone.planning import plan_forecast
from reservations.csv_safety import SafeWriter
from reservations.models import Municipality

# A season is about six months; a longer span is more likely a typing mistake than a plan.
MAX_DAYS = 190
HEADER = ["日時", "予測入電", "必要オペレーター", "回線"]


class Command(BaseCommand):
    help = "シーズン計画から、30分ごとの入電予測と必要なオペレーター数・回線数をCSVで出力します。"

    def add_arguments(self, parser: CommandParser) -> None:
        # Not `required=True`: argparse would refuse in English; the checks below say it in
        # the operator's language.
        parser.add_argument("--municipality", help="地方公共団体コード（6桁）")
        parser.add_argument("--from", dest="date_from", help="開始日 YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", help="終了日 YYYY-MM-DD（この日を含む）")

    def handle(self, *args: Any, **options: Any) -> None:
        code, raw_from, raw_to = options["municipality"], options["date_from"], options["date_to"]
        if not (code and raw_from and raw_to):
            raise CommandError(_("--municipality、--from、--to をすべて指定してください。"))
        municipality = Municipality.objects.filter(code=code).first()
        if municipality is None:
            raise CommandError(_("自治体コード「%(code)s」の自治体がありません。") % {"code": code})
        date_from, date_to = self._date(raw_from), self._date(raw_to)
        if date_to < date_from:
            raise CommandError(_("--to は --from 以降の日付にしてください。"))
        if (date_to - date_from).days + 1 > MAX_DAYS:
            raise CommandError(_("期間は%(days)s日以内にしてください。") % {"days": MAX_DAYS})
        if not SeasonPlan.objects.filter(
            municipality=municipality, starts_on__lte=date_to, ends_on__gte=date_from
        ).exists():
            raise CommandError(
                _(
                    "%(from)s〜%(to)s を含むシーズン計画がありません。"
                    "管理画面の「シーズン計画（コールセンター）」で作成してください。"
                )
                % {"from": date_from.isoformat(), "to": date_to.isoformat()}
            )
        rows = plan_forecast(municipality=municipality, date_from=date_from, date_to=date_to)
        # The file is UTF-8 whatever the terminal's locale says (a redirect on a C locale).
        reconfigure = getattr(self.stdout, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8")
        writer = SafeWriter(self.stdout, lineterminator="\n")
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow(
                [
                    f"{timezone.localtime(row.starts_at):%Y-%m-%d %H:%M}",
                    f"{row.blended_calls:.1f}",
                    row.operators_needed,
                    row.lines_needed,
                ]
            )

    def _date(self, value: str) -> dt.date:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise CommandError(
                _("日付「%(value)s」が読めません。2026-12-07 のように指定してください。")
                % {"value": value}
            ) from None
