"""Reception forms. Identifiers are parsed by the core's identifiers module, never here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reservations.models import DayLot, OperatingDay, Program, Vaccination

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
    vaccinated_at = forms.TimeField(label=_("接種時刻"), required=False)
    override_reason = forms.CharField(
        label=_("接種間隔の例外の理由（該当する場合のみ）"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, day: OperatingDay, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.day = day
        lots = DayLot.objects.filter(operating_day=day).values_list("lot_number", flat=True)
        lot_field = self.fields["lot_number"]
        assert isinstance(lot_field, forms.ChoiceField)
        lot_field.choices = [("", "—")] + [(lot, lot) for lot in lots]
        self.fields["copay_category"].initial = _USUAL_COPAY.get(day.campaign.program.category, "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("outcome") == Vaccination.Outcome.VACCINATED:
            if not data.get("lot_number"):
                self.add_error("lot_number", _("本日のロット一覧から選んでください。"))
            if not data.get("doctor_name"):
                self.add_error("doctor_name", _("医師名を入力してください。"))
        return data

    def vaccinated_at_on_day(self) -> dt.datetime | None:
        time = self.cleaned_data.get("vaccinated_at")
        if time is None:
            return None
        return timezone.make_aware(dt.datetime.combine(self.day.date, time))


class LotForm(forms.Form):
    lot_number = forms.CharField(label=_("ロット番号"), max_length=40)
    # A day opens tens of vials of a lot, never thousands; the bound also keeps the count
    # inside its integer column.
    vials_opened = forms.IntegerField(
        label=_("開封するバイアル数"), min_value=0, max_value=999, initial=1
    )
