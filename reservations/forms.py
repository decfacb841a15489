"""Staff forms of the booking core (the admin's season pattern)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from reservations.form_fields import LooseDateField
from reservations.models import Campaign, Vaccine
from reservations.services.slots import SLOT_MINUTES_MAX, SLOT_MINUTES_MIN, WEEKDAY_LABELS


class SeasonPatternForm(forms.Form):
    """A weekly pattern for `operating_days_generate`.

    Field names are the service's parameter names, so the service's ValidationError (keyed by
    parameter) can be attached to the form as it is. The form only checks what a browser can
    get wrong on its own; the rules live in the service, for the command and the admin alike.
    """

    vaccine = forms.ModelChoiceField(label=_("ワクチン"), queryset=Vaccine.objects.all())
    campaign = forms.ModelChoiceField(
        label=_("キャンペーン"), queryset=Campaign.objects.select_related("program")
    )
    date_from = LooseDateField(
        label=_("開始日"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = LooseDateField(
        label=_("終了日"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("曜日"),
        choices=[(i, label) for i, label in enumerate(WEEKDAY_LABELS)],
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        initial=[0, 1, 2, 3, 4],
    )
    skip_closed_days = forms.BooleanField(
        label=_("休業日は作成しない"),
        required=False,
        initial=True,
        help_text=_("祝日（振替休日を含む）、年末年始、自治体の休業日（自治体の画面で設定）"),
    )
    opens_at = forms.TimeField(
        label=_("受付開始時刻"),
        initial=dt.time(9, 0),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    closes_at = forms.TimeField(
        label=_("受付終了時刻"),
        initial=dt.time(16, 0),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    break_start = forms.TimeField(
        label=_("休憩開始"),
        required=False,
        initial=dt.time(12, 0),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    break_end = forms.TimeField(
        label=_("休憩終了"),
        required=False,
        initial=dt.time(13, 0),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    slot_minutes = forms.IntegerField(
        label=_("1枠の長さ（分）"),
        min_value=SLOT_MINUTES_MIN,
        max_value=SLOT_MINUTES_MAX,
        initial=15,
    )
    capacity = forms.IntegerField(label=_("1枠の定員"), min_value=1, initial=6)
    phone_reserved = forms.IntegerField(
        label=_("うち電話専用枠"),
        min_value=0,
        initial=0,
        help_text=_("Web・LINEでは予約できず、コールセンターだけが使える席数"),
    )
    booking_opens_days_before = forms.IntegerField(
        label=_("予約受付開始（何日前）"), min_value=0, initial=30
    )
    booking_closes_days_before = forms.IntegerField(
        label=_("予約受付終了（何日前）"),
        min_value=0,
        initial=1,
        help_text=_("0なら当日まで予約できます"),
    )
    change_closes_days_before = forms.IntegerField(
        label=_("変更・キャンセル締切（何日前）"), min_value=0, initial=2
    )
    phone_reserve_release_hours = forms.IntegerField(
        label=_("電話専用枠の開放（何時間前）"),
        min_value=0,
        required=False,
        help_text=_("空欄なら電話専用枠は開放しません"),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # An empty time field is easy to leave by accident; say so instead of silently
        # generating a day without a break.
        if (cleaned.get("break_start") is None) != (cleaned.get("break_end") is None):
            raise ValidationError(
                _("休憩は開始と終了の両方を入力するか、両方を空欄にしてください。"),
                code="break_incomplete",
            )
        return cleaned

    def season_kwargs(self) -> dict[str, Any]:
        """The validated pattern as keyword arguments for `operating_days_generate`."""
        return dict(self.cleaned_data)

    def pattern_data(self) -> dict[str, Any]:
        """The validated pattern as form data again (JSON-safe): the preview signs it, and
        the confirmation binds a new form to exactly what was previewed."""
        data: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if isinstance(value, models.Model):
                data[name] = value.pk
            elif isinstance(value, dt.date | dt.time):
                data[name] = value.isoformat()
            elif isinstance(value, list):
                data[name] = [str(item) for item in value]
            elif value is None:
                data[name] = ""
            else:
                data[name] = value
        return data

    def add_service_error(self, error: ValidationError) -> None:
        """Attach the service's errors to their fields (or to the form as a whole)."""
        if hasattr(error, "error_dict"):
            for key, errors in error.error_dict.items():
                self.add_error(key if key in self.fields else None, errors)
        else:
            self.add_error(None, error)


class CheckedJSONField(forms.JSONField):
    """Django's JSON form field, minus two 500s: text nested thousands deep raises
    RecursionError and an integer of more than 4,300 digits a plain ValueError, and Django
    catches only JSONDecodeError. Both are "not valid JSON" to the person typing."""

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except (RecursionError, ValueError):
            raise ValidationError(
                self.error_messages["invalid"], code="invalid", params={"value": value}
            ) from None

    def bound_data(self, data: Any, initial: Any) -> Any:
        # Redisplaying the form after an error parses the typed text again.
        try:
            return super().bound_data(data, initial)
        except (RecursionError, ValueError):
            return forms.fields.InvalidJSONInput(data)


class CheckedModelMultipleChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    """Django's multiple choice of rows, minus a 500 on SQLite: an id beyond 64 bits in the
    posted list raises OverflowError in the `pk__in` query (PostgreSQL answers no rows)."""

    def _check_values(self, value: Any) -> Any:
        try:
            return super()._check_values(value)  # type: ignore[misc]
        except OverflowError:
            raise ValidationError(
                self.error_messages["invalid_pk_value"],
                code="invalid_pk_value",
                params={"pk": "…"},
            ) from None


# For ModelAdmin.formfield_overrides: every admin form with JSON or many-to-many fields.
CHECKED_FORM_FIELDS: dict[type[models.Field[Any, Any]], dict[str, Any]] = {
    models.JSONField: {"form_class": CheckedJSONField},
    models.ManyToManyField: {"form_class": CheckedModelMultipleChoiceField},
}
