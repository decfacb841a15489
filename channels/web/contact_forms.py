"""The resident's contact forms: a mobile number to verify, the code sent to it, SMS yes or no,
and the language of the SMS.
They only read what was typed; the core decides (which numbers take SMS, how many codes)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from reservations.services.contact import notice_languages

SMS_YES, SMS_NO = "yes", "no"


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label=_("携帯電話の番号"),
        help_text=_("例：090-1234-5678（ハイフンはなくてもかまいません）"),
        max_length=40,
        error_messages={
            "required": _("携帯電話の番号を入力してください。"),
            "max_length": _("携帯電話の番号は11けたです。入力した番号をご確認ください。"),
        },
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("確認コード（6けた）"),
        max_length=20,
        error_messages={
            "required": _("SMSで届いた確認コードを入力してください。"),
            "max_length": _("確認コードは6けたの数字です。"),
        },
    )


class SmsChoiceForm(forms.Form):
    sms = forms.ChoiceField(
        label=_("予約の確認や前日のお知らせを、SMSで受け取りますか"),
        choices=[(SMS_YES, _("受け取る")), (SMS_NO, _("受け取らない"))],
        error_messages={
            "required": _("「受け取る」か「受け取らない」を選んでください。"),
            "invalid_choice": _("「受け取る」か「受け取らない」を選んでください。"),
        },
    )


class LanguageChoiceForm(forms.Form):
    language = forms.ChoiceField(
        label=_("予約の確認や前日のお知らせを、どの言語で送りますか"),
        choices=notice_languages,
        error_messages={
            "required": _("言語を選んでください。"),
            "invalid_choice": _("言語は一覧から選んでください。"),
        },
    )
