"""The reconciliation page's two steps: choose a file (preview), then apply it with a reason."""

from __future__ import annotations

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from vrs_export.models import ExportBatch

# A city's whole VRS ledger is some tens of megabytes; a file far beyond it is not one.
UPLOAD_MAX_BYTES = 100 * 1024 * 1024


class ReconcileUploadForm(forms.Form):
    file = forms.FileField(
        label=_("VRSの予防接種台帳向け出力、または予防接種台帳のCSVファイル"),
        help_text=_("文字コード（UTF-8・Shift_JIS）と見出しの有無は自動で判別します。"),
    )
    encoding = forms.ChoiceField(
        label=_("文字コード"),
        choices=[("", _("自動判別"))] + list(ExportBatch.Encoding.choices),
        required=False,
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if upload.size is not None and upload.size > UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                _(
                    "ファイルが大きすぎます（上限 %(limit)s MB）。"
                    "コマンド reconcile_vrs をお使いください。"
                )
                % {"limit": UPLOAD_MAX_BYTES // (1024 * 1024)}
            )
        return upload


class ReconcileApplyForm(forms.Form):
    run = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    reason = forms.CharField(
        label=_("反映の理由"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("監査記録に残ります（例: 12月分のVRS台帳で他所接種を反映）。"),
    )
