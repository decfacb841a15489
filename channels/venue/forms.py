"""Reception forms. Identifiers are parsed by the core's identifiers module, never here."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reservations.form_fields import LooseDateField
from reservations.models import DayLot, OperatingDay, Program, Reservation, Vaccination

# The 自己負担区分 a programme's doses usually have: a B類 routine dose is charged the
# municipality's fee unless the resident is exempt, a voluntary one is paid in full, A類 and
# 特例臨時接種 cost nothing.
_USUAL_COPAY: dict[str, str] = {
    Program.Category.ROUTINE_A: Vaccination.CopayCategory.PUBLIC,
    Program.Category.SPECIAL_TEMPORARY: Vaccination.CopayCategory.PUBLIC,
    Program.Category.ROUTINE_B: Vaccination.CopayCategory.CHARGED,
    Program.Category.VOLUNTARY: Vaccination.CopayCategory.FULL_PRICE,
}


class FindForm(forms.Form):
    q = forms.CharField(
        label=_("予約番号・接種券（18桁の読み取り）・券番号"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "off", "inputmode": "numeric"}
        ),
    )


class ClockTimeField(forms.TimeField):
    """A time of day as HH:MM. Browsers show `<input type=time>` as a picker; one without it
    (or a typed value) sends text, folded from full width (１０：０５) before it is read."""

    widget = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    input_formats = ["%H:%M", "%H:%M:%S"]
    default_error_messages = {"invalid": _("時刻は 10:05 のように「時:分」で入力してください。")}

    def to_python(self, value: Any) -> dt.time | None:
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip()
        return super().to_python(value)


def _future_time_error(moment: dt.datetime, now: dt.datetime) -> str | None:
    """A dose cannot have been given later than now; the message says what now is."""
    if moment <= now:
        return None
    return str(
        _("未来の時刻は入力できません（現在 %(now)s）。接種した時刻を入力してください。")
        % {"now": timezone.localtime(now).strftime("%H:%M")}
    )


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("結果"), choices=Vaccination.Outcome.choices, widget=forms.RadioSelect
    )
    lot_number = forms.ChoiceField(label=_("ロット番号"), required=False)
    doctor_name = forms.CharField(label=_("医師名"), max_length=20, required=False)
    copay_category = forms.ChoiceField(
        label=_("自己負担区分"),
        choices=[("", _("未記録"))] + Vaccination.CopayCategory.choices,
        required=False,
    )
    vaccinated_at = ClockTimeField(
        label=_("接種時刻"),
        required=False,
        help_text=_("当日の記録は、空欄なら記録した時刻になります。"),
    )
    override_reason = forms.CharField(
        label=_("接種間隔の例外の理由（該当する場合のみ）"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self, *args: Any, day: OperatingDay, now: dt.datetime | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.day = day
        self.now = now or timezone.now()
        lots = list(DayLot.objects.filter(operating_day=day).values_list("lot_number", flat=True))
        lot_field = self.fields["lot_number"]
        assert isinstance(lot_field, forms.ChoiceField)
        lot_field.choices = [("", "—")] + [(lot, lot) for lot in lots]
        if len(lots) == 1:
            # One lot open today: it is the one used, so staff do not have to pick it.
            lot_field.initial = lots[0]
        self.fields["copay_category"].initial = _USUAL_COPAY.get(day.campaign.program.category, "")
        if day.date == timezone.localdate(self.now):
            # Staff record right after the dose: now (JST) is the usual answer.
            self.fields["vaccinated_at"].initial = timezone.localtime(self.now).strftime("%H:%M")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("outcome") == Vaccination.Outcome.VACCINATED:
            if not data.get("lot_number"):
                self.add_error("lot_number", _("本日のロット一覧から選んでください。"))
            if not data.get("doctor_name"):
                self.add_error("doctor_name", _("医師名を入力してください。"))
        moment = self.vaccinated_at_on_day(data)
        problem = _future_time_error(moment, self.now) if moment is not None else None
        if problem:
            self.add_error("vaccinated_at", problem)
        return data

    def vaccinated_at_on_day(self, data: dict[str, Any] | None = None) -> dt.datetime | None:
        time = (self.cleaned_data if data is None else data).get("vaccinated_at")
        if time is None:
            return None
        return timezone.make_aware(dt.datetime.combine(self.day.date, time))

    def vaccinated_at_or_now(self) -> dt.datetime | None:
        """The time to record: the one entered; when blank, now for a dose recorded on its
        day, and none for a day recorded later (now would be a time on another date)."""
        entered = self.vaccinated_at_on_day()
        if entered is not None:
            return entered
        return self.now if self.day.date == timezone.localdate(self.now) else None


class LotForm(forms.Form):
    lot_number = forms.CharField(label=_("ロット番号"), max_length=40)
    # A day opens tens of vials of a lot, never thousands; the bound also keeps the count
    # inside its integer column.
    vials_opened = forms.IntegerField(
        label=_("開封するバイアル数"), min_value=0, max_value=999, initial=1
    )


class NoShowConfirmForm(forms.Form):
    """The bookings staff saw in the end-of-day preview. A booking that left the list since
    (checked in, recorded) fails validation, and the preview is shown again."""

    reservation = forms.TypedMultipleChoiceField(
        coerce=int,
        widget=forms.MultipleHiddenInput,
        error_messages={
            "invalid_choice": _("一覧が変わりました。もう一度確認してください。"),
            "required": _("来場なしにする予約はありません。"),
        },
    )

    def __init__(self, *args: Any, candidates: Sequence[Reservation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["reservation"]
        assert isinstance(field, forms.TypedMultipleChoiceField)
        field.choices = [(str(r.pk), str(r.pk)) for r in candidates]
        field.initial = [str(r.pk) for r in candidates]


class CorrectionForm(forms.Form):
    """訂正 of one recorded dose: the fields a venue can get wrong, and why it changes."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=10_000)
    vaccinated_on = LooseDateField(
        label=_("接種日"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    vaccinated_at = ClockTimeField(label=_("接種時刻"), required=False)
    lot_number = forms.CharField(label=_("ロット番号"), max_length=40, required=False)
    doctor_name = forms.CharField(label=_("医師名"), max_length=20, required=False)
    copay_category = forms.ChoiceField(
        label=_("自己負担区分"),
        choices=[("", _("未記録"))] + Vaccination.CopayCategory.choices,
        required=False,
    )
    reason = forms.CharField(
        label=_("訂正の理由（必須）"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("訂正の理由を入力してください。")},
    )

    def __init__(
        self,
        *args: Any,
        record: Vaccination,
        lots: Sequence[str] = (),
        now: dt.datetime | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "initial",
            {
                "version": record.version,
                "vaccinated_on": record.vaccinated_on,
                "vaccinated_at": (
                    timezone.localtime(record.vaccinated_at).strftime("%H:%M")
                    if record.vaccinated_at
                    else ""
                ),
                "lot_number": record.lot_number,
                "doctor_name": record.doctor_name,
                "copay_category": record.copay_category,
            },
        )
        super().__init__(*args, **kwargs)
        self.record = record
        self.now = now or timezone.now()
        # The day's lots as suggestions; a lot that is not on the list can still be typed.
        self.lots = list(lots)
        if self.lots:
            self.fields["lot_number"].widget.attrs.update(
                {"list": "day-lots", "autocomplete": "off"}
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        on, time = data.get("vaccinated_on"), data.get("vaccinated_at")
        if on is not None and on > timezone.localdate(self.now):
            self.add_error("vaccinated_on", _("接種日に未来の日付は登録できません。"))
        elif on is not None and time is not None:
            problem = _future_time_error(
                timezone.make_aware(dt.datetime.combine(on, time)), self.now
            )
            if problem:
                self.add_error("vaccinated_at", problem)
        return data

    def changes(self) -> dict[str, Any]:
        """Only what differs from the record, as vaccination_correct's keywords: a field left
        as it was is not re-checked (a prescreen record has no lot to validate)."""
        data, record = self.cleaned_data, self.record
        changed: dict[str, Any] = {}
        if data["vaccinated_on"] != record.vaccinated_on:
            changed["vaccinated_on"] = data["vaccinated_on"]
        if data["vaccinated_at"] is not None:
            moment = timezone.make_aware(
                dt.datetime.combine(data["vaccinated_on"], data["vaccinated_at"])
            )
            if moment != record.vaccinated_at:
                changed["vaccinated_at"] = moment
        if data["lot_number"].strip() != record.lot_number:
            changed["lot_number"] = data["lot_number"]
        if data["doctor_name"].strip() != record.doctor_name:
            changed["doctor_name"] = data["doctor_name"]
        if data["copay_category"] != record.copay_category:
            changed["copay_category"] = data["copay_category"]
        return changed


class RecordCancelForm(forms.Form):
    """取消 of one recorded dose (e.g. recorded for the wrong person): why, and nothing else."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=10_000)
    cancel_reason = forms.CharField(
        label=_("取消の理由（必須）"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("取消の理由を入力してください。")},
    )
