"""The flows' names as staff read them (the call records in the console, the admin).

A call stores the name its flow was registered under (channels.voice.flows); the flows are
notify's, but the words for staff live here with the records, so a page that lists calls
needs no import of the app that placed them. A name not listed is shown as it is."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

FLOW_LABELS = {
    "reminder": _("前日のお知らせ"),
    "day_cancelled": _("会場中止のお知らせ"),
    "notice": _("予約のお知らせ"),
    "followup": _("健康観察"),
}


def flow_label(name: str) -> str:
    return str(FLOW_LABELS.get(name, name))
