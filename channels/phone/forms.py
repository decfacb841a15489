"""Forms of the console: the staff sign-in, the forecast inputs."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from channels.phone.audit import role_label
from channels.phone.models import Call, RecordAccess
from reservations import roles
from reservations.form_fields import LooseDateField
from reservations.identifiers import IdentifierError, normalize_ticket_number
from reservations.models import ROW_ID_MAX

# The days the console's pages can show. Far enough for any season; far from the calendar's
# ends, where adding a fortnight or a year to a typed date would overflow.
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2099, 12, 31)
DAY_OUT_OF_RANGE = _("2000年1月1日から2099年12月31日までの日付を入力してください。")
ROW_ID = re.compile(r"[0-9]{1,10}")


def day_from_query(text: str) -> dt.date | None:
    """A date from the address bar (YYYY-MM-DD) that the pages can show, or None."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return day if EARLIEST_DAY <= day <= LATEST_DAY else None


def row_id_from_query(text: str) -> int | None:
    """A row id from the address bar: ASCII digits within the id columns' range, or None."""
    if not ROW_ID.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= ROW_ID_MAX else None


class StaffLoginForm(AuthenticationForm):
    """Django's sign-in form. Its failure limit is not here: django-axes (first of the
    AUTHENTICATION_BACKENDS) refuses a locked username or client inside authenticate(), so the
    limit is the same at every door, and AxesMiddleware answers a locked sign-in with the
    lockout page (channels/phone/sign_in.py), whether or not the password was right."""


AHT_MIN_SECONDS = 30
AHT_MAX_SECONDS = 7200


class ForecastForm(forms.Form):
    date_from = LooseDateField(
        label=_("開始日"),
        validators=[
            MinValueValidator(EARLIEST_DAY, message=DAY_OUT_OF_RANGE),
            MaxValueValidator(LATEST_DAY, message=DAY_OUT_OF_RANGE),
        ],
    )
    days = forms.IntegerField(label=_("日数"), min_value=1, max_value=31, initial=7)
    aht_seconds = forms.IntegerField(
        label=_("平均処理時間（秒）"),
        min_value=AHT_MIN_SECONDS,
        max_value=AHT_MAX_SECONDS,
        required=False,
        help_text=_("空欄なら通話記録の実績（なければ既定値）"),
    )
    service_level = forms.IntegerField(
        label=_("サービスレベル（%）"), min_value=1, max_value=99, initial=80
    )
    target_seconds = forms.IntegerField(
        label=_("目標応答時間（秒）"), min_value=1, max_value=600, initial=20
    )
    max_occupancy = forms.IntegerField(
        label=_("最大稼働率（%）"), min_value=10, max_value=100, initial=85
    )
    shrinkage = forms.IntegerField(
        label=_("シュリンケージ（%）"), min_value=0, max_value=90, initial=30
    )
    max_blocking = forms.DecimalField(
        label=_("話中率の上限（%）"),
        min_value=0.01,
        max_value=50,
        initial=1,
        decimal_places=2,
        help_text=_("話中音を聞く発信者の割合の上限（回線数の計算に使用）"),
    )

    def default_aht(self) -> int:
        return int(settings.PHONE_DEFAULT_AHT_SECONDS)


class SlotChoiceForm(forms.Form):
    """The slot an operator picked on the console's grid (change a booking to it)."""

    slot = forms.IntegerField(min_value=1, max_value=ROW_ID_MAX)


class PhoneBookForm(SlotChoiceForm):
    """Book the picked slot; by default the series' next dose with it. `key` makes a double
    submit book once; longer keys are cut to the 100 characters the core keeps."""

    series = forms.CharField(required=False)
    key = forms.CharField(required=False, strip=False)

    def clean_series(self) -> bool:
        # Absent means yes: the console posts another value only when the operator books the
        # one dose alone.
        return bool(self.data.get("series", "1") == "1")

    def clean_key(self) -> str:
        return str(self.cleaned_data["key"])[:100]


class AuditFilterForm(forms.Form):
    """The audit page's filters: who, whose record (by ticket number), what, and when. Every
    field may stay empty; a bad value is said on the form and that filter is not applied."""

    user = forms.TypedChoiceField(label=_("職員"), required=False, coerce=int, empty_value=None)
    ticket = forms.CharField(
        label=_("住民の接種券番号"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "size": 14}),
    )
    action = forms.ChoiceField(label=_("操作"), required=False)
    channel = forms.ChoiceField(
        label=_("経路"), required=False, choices=[("", _("すべて")), *RecordAccess.Channel.choices]
    )
    role = forms.ChoiceField(label=_("役割"), required=False)
    date_from = LooseDateField(
        label=_("開始日"),
        required=False,
        validators=[
            MinValueValidator(EARLIEST_DAY, message=DAY_OUT_OF_RANGE),
            MaxValueValidator(LATEST_DAY, message=DAY_OUT_OF_RANGE),
        ],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = LooseDateField(
        label=_("終了日"),
        required=False,
        validators=[
            MinValueValidator(EARLIEST_DAY, message=DAY_OUT_OF_RANGE),
            MaxValueValidator(LATEST_DAY, message=DAY_OUT_OF_RANGE),
        ],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, staff: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user_field = self.fields["user"]
        assert isinstance(user_field, forms.TypedChoiceField)
        user_field.choices = [("", _("全員"))] + [
            (member.pk, member.get_full_name() or member.get_username()) for member in staff
        ]
        action_field = self.fields["action"]
        assert isinstance(action_field, forms.ChoiceField)
        action_field.choices = [("", _("すべて")), *RecordAccess.Action.choices]
        role_field = self.fields["role"]
        assert isinstance(role_field, forms.ChoiceField)
        role_field.choices = [("", _("すべて"))] + [
            (name, role_label(name)) for name in (*roles.ALL_ROLES, RecordAccess.SUPERUSER_ROLE)
        ]

    def clean_ticket(self) -> str:
        text = str(self.cleaned_data["ticket"]).strip()
        if not text:
            return ""
        try:
            return normalize_ticket_number(text)
        except IdentifierError as error:
            raise forms.ValidationError(str(error.message)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
            self.add_error("date_to", _("終了日は開始日以降にしてください。"))
        return cleaned


class CallerForm(forms.Form):
    """Who is on the line: the resident, or a proxy and their relationship."""

    proxy = forms.CharField(required=False)
    relationship = forms.CharField(required=False)

    def clean_proxy(self) -> bool:
        return bool(self.cleaned_data["proxy"] == "1")

    def clean_relationship(self) -> str:
        return str(self.cleaned_data["relationship"])[:30]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("proxy") and not str(cleaned.get("relationship", "")).strip():
            raise forms.ValidationError(
                _("代理人の続柄を入力してください（例：長男、娘、ケアマネジャー）。")
            )
        return cleaned


class CallCloseForm(forms.Form):
    """How the call ended, and the operator's note."""

    outcome = forms.ChoiceField(choices=Call.Outcome.choices)
    notes = forms.CharField(required=False, strip=False)
