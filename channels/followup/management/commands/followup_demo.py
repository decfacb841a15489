"""`manage.py followup_demo [--municipality CODE]`: demo people on health follow-up for the
embedded default (bin/start), so the staff screens have something to show: a week of home-care
follow-up from yesterday, with a green day, a red answer (on the call list), two feverish days
(yellow), someone silent, and a household of two at one phone. Made through the services, as
an imported list would be; run again, it adds nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.followup.models import FollowedPerson, FollowUp
from channels.followup.selectors import questionnaire_active
from channels.followup.services import followup_answer_record, followup_start
from reservations.models import Municipality

# A marker in 宛名番号: demo people are recognised (and not made twice) by it.
DEMO_MARK = "DEMO-FU-"

# name, phone, birth date, yesterday's and today's (temperature, SpO2, symptoms); None: silent.
PEOPLE: tuple[tuple[str, str, dt.date, Any, Any], ...] = (
    ("黒木 花子", "+819011110001", dt.date(1948, 4, 1), ("36.6", "97", []), ("36.5", "98", [])),
    (
        "甲斐 太郎",
        "+819011110002",
        dt.date(1952, 7, 7),
        ("37.4", "95", []),
        ("37.8", "92", ["breathless"]),
    ),
    (
        "河野 幸子",
        "+819011110003",
        dt.date(1960, 1, 20),
        ("38.7", "96", ["cough"]),
        ("38.9", "96", ["cough"]),
    ),
    ("日高 一郎", "+819011110004", dt.date(1941, 11, 3), ("36.9", "96", []), None),
    ("長友 美咲", "+819011110005", dt.date(1985, 3, 3), ("37.0", "98", []), ("36.8", "98", [])),
    ("長友 健", "+819011110005", dt.date(2015, 5, 5), ("37.6", "97", ["cough"]), None),
)


def _values(answer: tuple[str, str, list[str]]) -> dict[str, Any]:
    temperature, spo2, symptoms = answer
    return {
        "temperature": temperature,
        "spo2": spo2,
        "pulse": "76",
        "symptoms": symptoms or ["none"],
    }


class Command(BaseCommand):
    help = "デモ用の健康観察（自宅療養の対象者6人）を作ります。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--municipality",
            metavar="CODE",
            default=settings.HOME_MUNICIPALITY_CODE,
            help="自治体コード（既定：HOME_MUNICIPALITY_CODE）",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        municipality = Municipality.objects.filter(code=options["municipality"]).first()
        if municipality is None:
            raise CommandError(
                _("自治体コード %(code)s の自治体がありません。先に seed_demo を実行してください。")
                % {"code": options["municipality"]}
            )
        questionnaire = questionnaire_active("home-care")
        if questionnaire is None:
            raise CommandError(_("使用中の質問票 home-care がありません。"))
        demo = FollowedPerson.objects.filter(
            municipality=municipality, address_number__startswith=DEMO_MARK
        )
        if demo.exists():
            self.stdout.write(_("デモ用の健康観察はすでにあります。"))
            return
        now = timezone.now()
        today = timezone.localdate(now)
        yesterday = today - dt.timedelta(days=1)
        morning = timezone.make_aware(dt.datetime.combine(yesterday, dt.time(9, 0)))
        for number, (name, phone, birth, first, second) in enumerate(PEOPLE, start=1):
            person = FollowedPerson.objects.create(
                municipality=municipality,
                name=name,
                phone=phone,
                birth_date=birth,
                address_number=f"{DEMO_MARK}{number}",
            )
            followup = followup_start(
                person=person,
                questionnaire=questionnaire,
                start_date=yesterday,
                days=7,
                now=morning,
            ).followup
            followup_answer_record(followup, yesterday, _values(first), now=morning)
            if second is not None:
                followup_answer_record(followup, today, _values(second), now=now)
        count = FollowUp.objects.filter(person__in=demo).count()
        self.stdout.write(
            _("デモ用の健康観察を %(count)d 人分作りました（職員は health / doctor でログイン）。")
            % {"count": count}
        )
