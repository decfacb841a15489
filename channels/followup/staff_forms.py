"""Forms of the health-centre staff screens: the cohort's day and status filter, the export's
range, an alert's resolution note, a call's outcome, a photo's verdict."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels.followup.exporting import range_problem
from channels.followup.models import FollowUpCall
from channels.followup.staff import MAX_NOTE_LENGTH, MAX_REASON_LENGTH
from channels.followup.staff_selectors import STATUS_LABELS, STATUS_ORDER


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class CohortForm(forms.Form):
    """?day=2026-11-02&status=alert (both optional: today, every status)."""

    day = forms.DateField(label=_("観察日"), required=False, widget=DateInput())
    status = forms.ChoiceField(
        label=_("状態"),
        required=False,
        choices=[("", _("すべて")), *((key, STATUS_LABELS[key]) for key in STATUS_ORDER)],
    )


class ExportForm(forms.Form):
    """?date_from=…&date_to=… : the observation days of the download, both included."""

    date_from = forms.DateField(label=_("開始日"), widget=DateInput())
    date_to = forms.DateField(label=_("終了日"), widget=DateInput())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if isinstance(date_from, dt.date) and isinstance(date_to, dt.date):
            problem = range_problem(date_from, date_to)
            if problem:
                raise forms.ValidationError(problem)
        return cleaned


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=_("対応の記録"),
        max_length=MAX_NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("対応の内容を記録してください。")},
    )


class CallDoneForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("結果"),
        choices=FollowUpCall.Outcome.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("電話の結果を選んでください。")},
    )
    note = forms.CharField(
        label=_("メモ"),
        required=False,
        max_length=MAX_NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class PhotoReviewForm(forms.Form):
    CONFIRM, REJECT = "confirm", "reject"

    decision = forms.ChoiceField(
        label=_("判定"),
        choices=[(CONFIRM, _("確認した（陽性を確認）")), (REJECT, _("確認できない"))],
        widget=forms.RadioSelect,
        error_messages={"required": _("判定を選んでください。")},
    )
    reason = forms.CharField(
        label=_("確認できない理由（本人に伝わります）"),
        required=False,
        max_length=MAX_REASON_LENGTH,
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("decision") == self.REJECT and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", _("確認できない理由を入力してください（本人に伝わります）。"))
        return cleaned
