"""LooseDateField: staff type dates the way their lists write them, in every staff form."""

from __future__ import annotations

import datetime as dt

import pytest
from django import forms

from channels.phone.forms import DAY_OUT_OF_RANGE, ForecastForm
from channels.phone.planning_views import RehearsalForm, RotaForm
from reservations.form_fields import LooseDateField
from reservations.forms import SeasonPatternForm
from vrs_export.forms import ExportForm


class OneDate(forms.Form):
    day = LooseDateField()
    maybe = LooseDateField(required=False)


@pytest.mark.parametrize(
    "typed",
    [
        "2024-04-01",
        "2024/4/1",
        "20240401",
        "令和6年4月1日",
        "R6.4.1",
        "令和六年四月一日",
        "二〇二四年四月一日",
    ],
)
def test_it_reads_what_parse_date_loose_reads(typed: str) -> None:
    form = OneDate({"day": typed})
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"day": dt.date(2024, 4, 1), "maybe": None}


def test_it_shows_the_parsers_message_for_a_date_it_cannot_read() -> None:
    form = OneDate({"day": "4月1日"})
    assert not form.is_valid()
    assert form.errors["day"] == [
        "日付を読み取れませんでした。2024-04-01、令和6年4月1日、R6.4.1 のように入力してください。"
    ]
    assert form.errors.as_data()["day"][0].code == "date_invalid"


def test_it_says_which_rule_a_readable_date_breaks() -> None:
    form = OneDate({"day": "平成三十一年五月一日", "maybe": "2024-02-30"})
    assert not form.is_valid()
    assert "元号と日付が合っていません" in form.errors["day"][0]
    assert form.errors["maybe"] == ["存在しない日付です。月と日をご確認ください。"]


def test_it_treats_blank_as_empty() -> None:
    form = OneDate({"day": "  ", "maybe": " "})
    assert not form.is_valid()
    assert form.errors.as_data()["day"][0].code == "required"
    assert "maybe" not in form.errors


def test_it_passes_dates_through_unchanged() -> None:
    field = LooseDateField()
    assert field.clean(dt.date(2024, 4, 1)) == dt.date(2024, 4, 1)
    assert field.clean(dt.datetime(2024, 4, 1, 9, 30)) == dt.date(2024, 4, 1)


def test_the_staff_forms_take_wareki_dates() -> None:
    rota = RotaForm({"date_from": "令和6年4月1日", "date_to": "R6.4.7", "model": "erlang_a"})
    assert rota.is_valid(), rota.errors
    assert rota.cleaned_data["date_to"] == dt.date(2024, 4, 7)

    rehearsal = RehearsalForm({"date": "令和六年四月一日", "seed": "0"})
    assert rehearsal.is_valid(), rehearsal.errors
    assert rehearsal.cleaned_data["date"] == dt.date(2024, 4, 1)

    export = ExportForm(
        {
            "format": ExportForm.base_fields["format"].choices[0][0],  # type: ignore[attr-defined]
            "date_from": "R6.4.1",
            "date_to": "2024-04-30",
            "encoding": "utf-8",
        }
    )
    assert export.is_valid(), export.errors
    assert export.cleaned_data["date_from"] == dt.date(2024, 4, 1)

    season = SeasonPatternForm({"date_from": "令和6年4月1日", "date_to": "R6/4/30"})
    season.is_valid()
    assert "date_from" not in season.errors and "date_to" not in season.errors
    assert season.cleaned_data["date_to"] == dt.date(2024, 4, 30)


def test_the_forecast_still_keeps_to_its_range() -> None:
    form = ForecastForm({"date_from": "昭和22年5月3日", "days": "7"})
    assert not form.is_valid()
    assert form.errors["date_from"] == [str(DAY_OUT_OF_RANGE)]
    form = ForecastForm({"date_from": "平成31年4月1日", "days": "7"})
    form.is_valid()
    assert "date_from" not in form.errors
