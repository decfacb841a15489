"""Forms of the health-centre staff screens: the cohort's day and status filter, the export's
range, an alert's resolution note, a call's outcome, a photo's verdict."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels.followup.exporting import range_problem
from channels.followup.models import FollowUpCall, Questionnaire
from channels.followup.staff import MAX_NOTE_LENGTH, MAX_REASON_LENGTH
from channels.followup.staff_selectors import STATUS_LABELS, STATUS_ORDER
from reservations.identifiers import IdentifierError, normalize_ticket_number


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


# The days the cohort page lists (and steps to the day before and after): far wider than any
# follow-up, and clear of the calendar's ends, where the next day does not exist.
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


class CohortForm(forms.Form):
    """?day=2026-11-02&status=alert (both optional: today, every status)."""

    day = forms.DateField(label=_("観察日"), required=False, widget=DateInput())
    status = forms.ChoiceField(
        label=_("状態"),
        required=False,
        choices=[("", _("すべて")), *((key, STATUS_LABELS[key]) for key in STATUS_ORDER)],
    )

    def clean_day(self) -> dt.date | None:
        day: dt.date | None = self.cleaned_data["day"]
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise forms.ValidationError(
                _("観察日は2000年1月1日から2099年12月31日までの日付で指定してください。")
            )
        return day


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


class StartForm(forms.Form):
    """Start following one resident from the ticket list: found by ticket number, confirmed by
    birth date (a mistyped number must not start someone else's follow-up)."""

    ticket_number = forms.CharField(label=_("接種券番号"), max_length=20)
    birth_date = forms.DateField(label=_("生年月日"), widget=DateInput())
    questionnaire = forms.ModelChoiceField(
        label=_("質問票"),
        queryset=Questionnaire.objects.none(),
        empty_label=None,
    )
    start_date = forms.DateField(label=_("開始日"), widget=DateInput())
    days = forms.IntegerField(
        label=_("日数"),
        required=False,
        min_value=1,
        help_text=_("開始日から毎日。観察日を指定するときは空欄"),
    )
    day_offsets = forms.CharField(
        label=_("観察日（開始日からの日数）"),
        required=False,
        max_length=100,
        help_text=_("例：1,2,7（接種の翌日・2日後・7日後）"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["questionnaire"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Questionnaire.objects.filter(is_active=True).order_by("code")

    def clean_ticket_number(self) -> str:
        try:
            return normalize_ticket_number(self.cleaned_data["ticket_number"])
        except IdentifierError as error:
            raise forms.ValidationError(str(error.message)) from None

    def clean_day_offsets(self) -> list[int] | None:
        raw = self.cleaned_data["day_offsets"].replace("、", ",").strip()
        if not raw:
            return None
        try:
            return [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError(
                _("観察日は 1,2,7 のように開始日からの日数をカンマ区切りで入力してください。")
            ) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (cleaned.get("days") is None) == (cleaned.get("day_offsets") is None) and not (
            self.errors
        ):
            raise forms.ValidationError(_("日数か観察日のどちらか一方を入力してください。"))
        return cleaned
