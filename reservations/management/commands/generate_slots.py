"""Set up a season of operating days and slots for one site from a weekly pattern.

    python manage.py generate_slots --site 日南市文化センター --vaccine pfizer-12 \
        --campaign covid-routine-2026 --from 2026-12-01 --to 2027-01-31 \
        --weekdays mon,wed,sat --hours 09:00-12:00,13:00-16:00 \
        --slot-minutes 15 --capacity 6 --phone-reserve 2 [--dry-run]

Two ranges in --hours are the opening hours with a break between them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from reservations.models import Campaign, Site, Vaccine
from reservations.services.slots import (
    SeasonPlan,
    SeasonReport,
    operating_days_generate,
    season_plan,
)

_WEEKDAY_NAMES = {
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{name: i for i, name in enumerate("月火水木金土日")},
}


def parse_weekdays(value: str) -> list[int]:
    """`mon,wed,sat` (or `月,水,土`, or `0,2,5`) → [0, 2, 5]."""
    days: list[int] = []
    for raw in value.split(","):
        token = raw.strip().lower()[:3]
        if token.isascii() and token.isdigit() and 0 <= int(token) <= 6:
            days.append(int(token))
        elif token in _WEEKDAY_NAMES:
            days.append(_WEEKDAY_NAMES[token])
        elif token[:1] in _WEEKDAY_NAMES:
            days.append(_WEEKDAY_NAMES[token[:1]])
        else:
            raise CommandError(
                _(
                    "曜日「%(value)s」が読めません。"
                    "mon,tue,…,sun または 月,火,…,日 で指定してください。"
                )
                % {"value": raw.strip()}
            )
    return sorted(set(days))


def _parse_time(value: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(
            _("時刻「%(value)s」が読めません。09:00 のように指定してください。") % {"value": value}
        ) from None


def parse_hours(value: str) -> tuple[dt.time, dt.time, dt.time | None, dt.time | None]:
    """`09:00-12:00,13:00-16:00` → (opens, closes, break start, break end)."""
    ranges: list[tuple[dt.time, dt.time]] = []
    for part in value.split(","):
        start, sep, end = part.partition("-")
        if not sep:
            raise CommandError(
                _("時間帯「%(value)s」が読めません。09:00-12:00 のように指定してください。")
                % {"value": part}
            )
        ranges.append((_parse_time(start), _parse_time(end)))
    if len(ranges) == 1:
        return ranges[0][0], ranges[0][1], None, None
    if len(ranges) == 2:
        (opens, break_start), (break_end, closes) = ranges
        return opens, closes, break_start, break_end
    raise CommandError(_("--hours に指定できる時間帯は1つか2つ（休憩をはさむ場合）です。"))


def _parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            _("日付「%(value)s」が読めません。2026-12-01 のように指定してください。")
            % {"value": value}
        ) from None


def find_site(value: str) -> Site:
    """By id, or by name when that name is unique across municipalities."""
    if value.isascii() and value.isdigit():
        site = Site.objects.filter(pk=int(value)).first()
        if site is not None:
            return site
    matches = list(Site.objects.filter(name=value).select_related("municipality")[:2])
    if not matches:
        raise CommandError(_("会場「%(value)s」が見つかりません。") % {"value": value})
    if len(matches) > 1:
        raise CommandError(
            _("会場名「%(value)s」は複数の自治体にあります。会場のIDで指定してください。")
            % {"value": value}
        )
    return matches[0]


def format_report(report: SeasonReport) -> list[str]:
    lines = [
        _("稼働日: %(days)s日、予約枠: %(slots)s件を作成しました。")
        % {"days": len(report.created_days), "slots": report.created_slots}
    ]
    return (
        lines
        + _period_lines(report.created_days)
        + _skipped_lines(report.skipped_closed_days, report.skipped_existing)
    )


def format_plan(plan: SeasonPlan) -> list[str]:
    """A dry run's output: what a real run would create, what it would leave out, and the
    days the site already runs another vaccine (as the admin's preview shows them)."""
    lines = [
        _(
            "作成する予定: 稼働日: %(days)s日、予約枠: %(slots)s件"
            "（1日%(per_day)s枠、1枠の定員%(capacity)s人、定員の合計%(seats)s人）"
        )
        % {
            "days": len(plan.days),
            "slots": plan.slot_count,
            "per_day": plan.slots_per_day,
            "capacity": plan.capacity,
            "seats": plan.seat_count,
        }
    ]
    others = [
        _("  同じ日に他のワクチンの稼働日あり: %(date)s（%(vaccines)s）")
        % {"date": day.isoformat(), "vaccines": "、".join(names)}
        for day, names in sorted(plan.other_vaccines.items())
    ]
    return (
        lines
        + _period_lines(plan.days)
        + _skipped_lines(plan.skipped_closed_days, plan.skipped_existing)
        + others
    )


def _period_lines(days: list[dt.date]) -> list[str]:
    if not days:
        return []
    return [
        _("  期間: %(first)s 〜 %(last)s")
        % {"first": days[0].isoformat(), "last": days[-1].isoformat()}
    ]


def _skipped_lines(closed: list[tuple[dt.date, str]], existing: list[dt.date]) -> list[str]:
    lines = [
        _("  休業日のため作成せず: %(date)s（%(name)s）") % {"date": day.isoformat(), "name": name}
        for day, name in closed
    ]
    if existing:
        lines.append(
            _("  作成済みのため変更せず: %(count)s日（%(dates)s）")
            % {
                "count": len(existing),
                "dates": "、".join(d.isoformat() for d in existing),
            }
        )
    return lines


class Command(BaseCommand):
    help = _("会場の稼働日と予約枠を、曜日と時間帯のパターンからまとめて作成します。")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", required=True, help=_("会場名または会場ID"))
        parser.add_argument("--vaccine", required=True, help=_("ワクチンのコード（例: pfizer-12）"))
        parser.add_argument(
            "--campaign", required=True, help=_("キャンペーンのコード（例: covid-routine-2026）")
        )
        parser.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD")
        parser.add_argument("--weekdays", required=True, help=_("例: mon,wed,sat"))
        parser.add_argument(
            "--hours", required=True, help=_("例: 09:00-12:00,13:00-16:00（2つなら間が休憩）")
        )
        parser.add_argument("--slot-minutes", type=int, required=True)
        parser.add_argument("--capacity", type=int, required=True)
        parser.add_argument("--phone-reserve", type=int, default=0)
        parser.add_argument("--opens-days-before", type=int, default=30)
        parser.add_argument("--closes-days-before", type=int, default=1)
        parser.add_argument("--change-closes-days-before", type=int, default=2)
        parser.add_argument("--reserve-release-hours", type=int, default=None)
        parser.add_argument(
            "--include-closed-days",
            action="store_true",
            help=_("休業日（祝日・年末年始・自治体の休業日）にも稼働日を作成する"),
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=_("作成される内容を表示するだけで保存しない")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        site = find_site(options["site"])
        vaccine = Vaccine.objects.filter(code=options["vaccine"]).first()
        if vaccine is None:
            raise CommandError(
                _("ワクチン「%(code)s」が見つかりません。") % {"code": options["vaccine"]}
            )
        campaign = Campaign.objects.filter(code=options["campaign"]).first()
        if campaign is None:
            raise CommandError(
                _("キャンペーン「%(code)s」が見つかりません。") % {"code": options["campaign"]}
            )
        opens_at, closes_at, break_start, break_end = parse_hours(options["hours"])
        pattern: dict[str, Any] = {
            "site": site,
            "vaccine": vaccine,
            "campaign": campaign,
            "date_from": _parse_date(options["date_from"]),
            "date_to": _parse_date(options["date_to"]),
            "weekdays": parse_weekdays(options["weekdays"]),
            "opens_at": opens_at,
            "closes_at": closes_at,
            "break_start": break_start,
            "break_end": break_end,
            "slot_minutes": options["slot_minutes"],
            "capacity": options["capacity"],
            "phone_reserved": options["phone_reserve"],
            "booking_opens_days_before": options["opens_days_before"],
            "booking_closes_days_before": options["closes_days_before"],
            "change_closes_days_before": options["change_closes_days_before"],
            "phone_reserve_release_hours": options["reserve_release_hours"],
            "skip_closed_days": not options["include_closed_days"],
        }
        heading = _("%(site)s / %(vaccine)s / %(campaign)s") % {
            "site": site.name,
            "vaccine": vaccine.name,
            "campaign": campaign.name,
        }
        try:
            if options["dry_run"]:
                # The same plan the admin previews, read without writing anything.
                lines = format_plan(season_plan(**pattern))
            else:
                lines = format_report(operating_days_generate(**pattern))
        except ValidationError as exc:
            raise CommandError("\n".join(str(m) for m in exc.messages)) from None

        self.stdout.write(heading)
        for line in lines:
            self.stdout.write(line)
        if options["dry_run"]:
            self.stdout.write(self.style.WARNING(_("ドライランのため、何も保存していません。")))
        else:
            self.stdout.write(self.style.SUCCESS(_("完了しました。")))
