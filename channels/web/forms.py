"""Resident forms. They accept what people really type (full-width digits, hyphens, 和暦) by
handing the text to the core's normalisers; they never decide who may book."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from reservations.identifiers import (
    ERAS,
    IdentifierError,
    normalize_number_input,
    normalize_ticket_number,
    parse_birth_date,
)
from reservations.localized import era_label, localized
from reservations.models import ROW_ID_MAX, Actor, Municipality, Reservation
from reservations.selectors import slot_offered

WESTERN = "western"

# Stored on the reservation as the proxy's relationship to the resident (a short code, so the
# call centre sees the same word in every language).
RELATIONSHIPS = [
    ("", _("選んでください")),
    ("spouse", _("配偶者（夫・妻）")),
    ("child", _("子")),
    ("parent", _("親")),
    ("grandchild", _("孫")),
    ("sibling", _("きょうだい")),
    ("other_family", _("その他の家族")),
    ("carer", _("介護・支援者")),
]


def _era_choices() -> list[tuple[str, Any]]:
    # Newest first: most residents booking on the web were born in 昭和 or 平成.
    return [(WESTERN, _("西暦")), *[(era.letter, era_label(era)) for era in reversed(ERAS)]]


class SignInForm(forms.Form):
    """Municipality + ticket number + birth date, and whether the person booking is a proxy."""

    municipality = forms.ChoiceField(label=_("お住まいの市区町村"))
    ticket_number = forms.CharField(
        label=_("接種券番号（10けた）"),
        help_text=_("接種券に書いてある10けたの数字です。ハイフンや空白があってもかまいません。"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    birth_era = forms.ChoiceField(label=_("年号"), required=False)
    birth_year = forms.CharField(
        label=_("年"),
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    birth_month = forms.CharField(
        label=_("月"),
        required=False,
        max_length=4,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    birth_day = forms.CharField(
        label=_("日"),
        required=False,
        max_length=4,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    birth_date_text = forms.CharField(
        label=_("生年月日をまとめて入力"),
        help_text=_("例：S22.5.3、昭和22年5月3日、1947/5/3"),
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    booking_for = forms.ChoiceField(
        label=_("どなたの予約ですか"),
        choices=[(Actor.RESIDENT, _("自分の予約")), (Actor.PROXY, _("家族など、ほかの人の予約"))],
        initial=Actor.RESIDENT,
        widget=forms.RadioSelect,
    )
    relationship = forms.ChoiceField(
        label=_("予約する人との関係（ほかの人の予約のとき）"),
        choices=RELATIONSHIPS,
        required=False,
    )

    def __init__(self, *args: Any, municipality_code: str, **kwargs: Any) -> None:
        """`municipality_code`: the page's municipality, chosen until the resident picks
        another (a ticket of any municipality signs in: 住所地外接種)."""
        super().__init__(*args, **kwargs)
        municipalities = Municipality.objects.order_by("code").only("code", "name", "name_en")
        municipality_field = self.fields["municipality"]
        assert isinstance(municipality_field, forms.ChoiceField)
        municipality_field.choices = [(m.code, localized(m) or m.code) for m in municipalities]
        self.fields["municipality"].initial = municipality_code
        era_field = self.fields["birth_era"]
        assert isinstance(era_field, forms.ChoiceField)
        era_field.choices = _era_choices()
        self.fields["birth_era"].initial = "S"

    def clean_ticket_number(self) -> str:
        try:
            return normalize_ticket_number(self.cleaned_data["ticket_number"])
        except IdentifierError as error:
            raise forms.ValidationError(str(error.message), code=error.code) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None
        data["birth_date"] = self._birth_date(data)
        if data.get("booking_for") == Actor.PROXY and not data.get("relationship"):
            self.add_error("relationship", _("予約する人との関係を選んでください。"))
        return data

    def _birth_date(self, data: dict[str, Any]) -> dt.date | None:
        typed = (data.get("birth_date_text") or "").strip()
        parts = [
            normalize_number_input(data.get(name) or "")
            for name in ("birth_year", "birth_month", "birth_day")
        ]
        if typed:
            text, field = typed, "birth_date_text"
        elif all(parts):
            era = data.get("birth_era") or WESTERN
            year, month, day = parts
            text = f"{year}-{month}-{day}" if era == WESTERN else f"{era}{year}.{month}.{day}"
            field = "birth_year"
        else:
            self.add_error("birth_year", _("生年月日（年・月・日）を入力してください。"))
            return None
        try:
            return parse_birth_date(text)
        except IdentifierError as error:
            self.add_error(field, str(error.message))
            return None


PICK_A_TIME = _(
    "時間を選んでください。選べる時間が表示されていないときは日付を選び直してください。"
)


class ChosenSlotForm(forms.Form):
    """The time a resident picked to book or to move a booking to: a slot of one of their
    municipality's open sites. Whether they may take it (window, rules, seats) is the core's
    decision, so its precise reason reaches the page even when the slot was offered a moment
    ago and is no longer bookable. `key` makes a double click hold once."""

    slot = forms.IntegerField(
        min_value=1,
        max_value=ROW_ID_MAX,
        error_messages={
            "required": PICK_A_TIME,
            "invalid": PICK_A_TIME,
            "min_value": PICK_A_TIME,
            "max_value": PICK_A_TIME,
        },
    )
    key = forms.CharField(
        required=False,
        max_length=Reservation._meta.get_field("idempotency_key").max_length,
        error_messages={
            "max_length": _("ページを読み込み直して、もう一度お選びください。"),
            "null_characters_not_allowed": _("ページを読み込み直して、もう一度お選びください。"),
        },
    )

    def __init__(self, data: Any, *, municipality_id: int) -> None:
        super().__init__(data)
        self.municipality_id = municipality_id

    def clean_slot(self) -> int:
        slot_id = int(self.cleaned_data["slot"])
        if not slot_offered(slot_id=slot_id, municipality_id=self.municipality_id):
            raise forms.ValidationError(PICK_A_TIME)
        return slot_id

    def first_error(self) -> str:
        return next(str(error) for errors in self.errors.values() for error in errors)
