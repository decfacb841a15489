"""`python manage.py rehearse_opening --municipality CODE --date DATE [--operators N --lines N]
[--compare OPERATORS:LINES]`: simulate opening day (channels/phone/simulation.py) with two
staffing choices and print them side by side.

Without --operators/--lines the first choice is the season plan's (its surge ceiling of
operators on its planned lines); without --compare the second is the rota's suggestion for the
day's busiest half hour (Erlang A operators, Erlang B lines). Both face the same residents (one
seed)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from channels.phone.rehearsal import NoPlan, comparison, opening_day
from channels.phone.simulation import WEB_BOOKINGS_PER_SECOND, CentreSetup, rehearse
from reservations.models import Municipality

CHOICE = re.compile(r"^\s*(\d{1,4})\s*:\s*(\d{1,4})\s*$")


class Command(BaseCommand):
    help = "予約受付開始日を模擬し、2つの人員配置（オペレーター数:回線数）を並べて比べます。"

    def add_arguments(self, parser: CommandParser) -> None:
        # Nothing `required=True` or typed: argparse would refuse in English; the checks below
        # say it in the operator's language.
        parser.add_argument("--municipality", help="地方公共団体コード（6桁）")
        parser.add_argument("--date", help="受付開始日 YYYY-MM-DD")
        parser.add_argument("--operators", help="オペレーター数（省略時は計画の増員時の上限）")
        parser.add_argument("--lines", help="回線数（省略時は計画の回線数）")
        parser.add_argument("--compare", help="比べる配置 オペレーター数:回線数（例 10:20）")
        parser.add_argument("--seats", help="枠数（省略時はその日に予約できる空き枠）")
        parser.add_argument(
            "--bookings-per-second",
            help=f"予約システムの処理能力（件/秒、省略時 {WEB_BOOKINGS_PER_SECOND}）",
        )
        parser.add_argument("--seed", default="0", help="乱数の種（同じ種なら同じ結果）")

    def handle(self, *args: Any, **options: Any) -> None:
        code, raw_date = options["municipality"], options["date"]
        if not (code and raw_date):
            raise CommandError(_("--municipality と --date を指定してください。"))
        municipality = Municipality.objects.filter(code=code).first()
        if municipality is None:
            raise CommandError(_("自治体コード「%(code)s」の自治体がありません。") % {"code": code})
        try:
            date = dt.date.fromisoformat(raw_date)
        except ValueError:
            raise CommandError(
                _("日付「%(value)s」が読めません。2026-12-07 のように指定してください。")
                % {"value": raw_date}
            ) from None
        try:
            day = opening_day(municipality=municipality, date=date)
        except NoPlan:
            raise CommandError(
                _(
                    "%(date)s を含むシーズン計画がありません。"
                    "管理画面の「シーズン計画（コールセンター）」で作成してください。"
                )
                % {"date": date.isoformat()}
            ) from None
        if not day.demand.intervals:
            raise CommandError(
                _("%(date)s はシーズン計画でコールセンターの休業日です。")
                % {"date": date.isoformat()}
            )
        planned = day.planned_setup()
        first = CentreSetup(
            operators=self._count(options["operators"], "--operators", planned.operators),
            lines=self._count(options["lines"], "--lines", planned.lines),
        )
        second = self._choice(options["compare"]) if options["compare"] else day.suggested_setup()
        seats = self._count(options["seats"], "--seats", day.seats.seats, minimum=0)
        capacity = self._number(options["bookings_per_second"], WEB_BOOKINGS_PER_SECOND)
        seed = self._count(options["seed"], "--seed", 0, minimum=0)
        parameters = day.parameters(seats=seats, bookings_per_second=capacity, seed=seed)
        results = [
            rehearse(demand=day.demand, setup=setup, parameters=parameters)
            for setup in (first, second)
        ]
        self.stdout.write(
            _(
                "%(municipality)s %(date)s の予約受付開始の模擬（発信者 %(callers).0f 人、"
                "Web %(web).0f 人、枠 %(seats)s、予約システム %(capacity)s 件/秒、"
                "平均処理時間 %(aht)s 秒、待てる時間 %(patience)s 秒、掛け直す確率 %(redial).0f%%、"
                "乱数の種 %(seed)s）"
            )
            % {
                "municipality": municipality,
                "date": date.isoformat(),
                "callers": sum(day.demand.phone_callers),
                "web": sum(day.demand.web_residents),
                "seats": seats,
                "capacity": capacity,
                "aht": day.plan.aht_seconds,
                "patience": day.plan.patience_seconds,
                "redial": float(day.plan.redial_probability) * 100,
                "seed": seed,
            }
        )
        rows = comparison(results)
        label_width = max(_width(label) for label, _values in rows)
        value_width = max(12, *(_width(v) for _label, values in rows for v in values))
        heading = [_("配置A"), _("配置B")]
        self.stdout.write(
            _pad("", label_width) + "".join(_pad(h, value_width, right=True) for h in heading)
        )
        for label, values in rows:
            self.stdout.write(
                _pad(label, label_width) + "".join(_pad(v, value_width, right=True) for v in values)
            )

    def _count(self, raw: str | None, flag: str, default: int, *, minimum: int = 1) -> int:
        if raw is None or raw == "":
            return default
        if not (str(raw).strip().isascii() and str(raw).strip().isdigit()) or int(raw) < minimum:
            raise CommandError(
                _("%(flag)s には%(minimum)s以上の整数を指定してください。")
                % {"flag": flag, "minimum": minimum}
            )
        return int(raw)

    def _number(self, raw: str | None, default: float) -> float:
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            value = 0.0
        if not value > 0:
            raise CommandError(_("--bookings-per-second には正の数を指定してください。"))
        return value

    def _choice(self, raw: str) -> CentreSetup:
        match = CHOICE.match(raw)
        if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            raise CommandError(
                _("--compare は「オペレーター数:回線数」（例 10:20）で指定してください。")
            )
        return CentreSetup(operators=int(match.group(1)), lines=int(match.group(2)))


def _width(text: str) -> int:
    """Columns on a terminal: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    space = " " * max(0, width - _width(text) + 2)
    return space + text if right else text + space
