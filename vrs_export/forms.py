"""The download page's options: the same as the export_vrs and export_register commands'."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from reservations.form_fields import LooseDateField
from reservations.models import Program
from vrs_export.models import ExportBatch


class ExportForm(forms.Form):
    format = forms.ChoiceField(label=_("形式"), choices=ExportBatch.Format.choices)
    date_from = LooseDateField(
        label=_("接種日（から）"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = LooseDateField(
        label=_("接種日（まで）"), widget=forms.DateInput(attrs={"type": "date"})
    )
    program = forms.ModelChoiceField(
        label=_("接種事業（台帳のみ）"),
        queryset=Program.objects.order_by("code"),
        to_field_name="code",
        required=False,
    )
    encoding = forms.ChoiceField(
        label=_("文字コード"), choices=ExportBatch.Encoding.choices, initial="utf-8"
    )
    since_last = forms.BooleanField(label=_("前回の出力からの差分のみ（events）"), required=False)
    skip_invalid = forms.BooleanField(label=_("不備のある記録を除いて出力する"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("終了日は開始日以降にしてください。"))
        if data.get("since_last") and data.get("format") != ExportBatch.Format.EVENTS:
            self.add_error("since_last", _("差分は events 形式でのみ出力できます。"))
        if data.get("format") == ExportBatch.Format.REGISTER:
            if not data.get("program") and "program" not in self.errors:
                self.add_error("program", _("台帳形式では接種事業を選んでください。"))
        else:
            # Only the register is per programme: a choice left over from an earlier try is
            # not an error for the VRS layouts.
            data["program"] = None
        return data
