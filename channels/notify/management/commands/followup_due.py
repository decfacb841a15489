"""python manage.py followup_due — send health follow-up's invitations, reminders and photo
verdicts due now, and put the silent on the staff call list; the beat runs the same
(channels.notify.tasks.followup_due_task) every few minutes, so this is for a run by hand or
from cron where no beat runs. Safe to run again at once: nothing is sent twice."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from channels.notify.followups import followup_messages_due
from channels.notify.tasks import enqueue_deliveries


class Command(BaseCommand):
    help = (
        "健康観察の案内・催促・写真の確認結果のうち今送るものを送り、"
        "未回答の方を電話確認リストに載せます。"
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = followup_messages_due(hand_over=enqueue_deliveries)
        self.stdout.write(
            _(
                "案内 %(invited)d件、催促 %(reminded)d件、写真の確認結果 %(photos)d件、"
                "電話確認リストへ %(calls)d件、終了 %(ended)d件（送信 %(sent)d通）"
            )
            % {
                "invited": report.invited,
                "reminded": report.reminded,
                "photos": report.photo_results,
                "calls": report.to_call,
                "ended": report.ended,
                "sent": len(report.to_deliver),
            }
        )
