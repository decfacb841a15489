"""The manager's planning pages under /phone/: the rota suggestion as CSV and the rehearsal of
opening day with charts. Same permission as the forecast page (phone.view_forecast), for the
municipality the staff member is assigned to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.phone import charts
from channels.phone.rehearsal import NoPlan, comparison, opening_day, plan_rota
from channels.phone.rota import ROTA_MAX_DAYS, rota_csv
from channels.phone.simulation import CentreSetup, Rehearsal, rehearse
from channels.phone.views import _municipality, _render
from reservations.form_fields import LooseDateField
from reservations.staff_areas import staff_required

# Answer-time buckets for the distribution chart: answered at once, then within each bound (s).
WAIT_BUCKETS = (0, 20, 60, 180, 600)


class RotaForm(forms.Form):
    date_from = LooseDateField(label=gettext_lazy("開始日"))
    date_to = LooseDateField(label=gettext_lazy("終了日"))
    model = forms.ChoiceField(
        label=gettext_lazy("計算方法"),
        choices=[
            ("erlang_a", gettext_lazy("Erlang A（待ちきれずに切る人を考える）")),
            ("erlang_c", gettext_lazy("Erlang C（全員が待つ）")),
        ],
        initial="erlang_a",
        required=False,
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if isinstance(start, dt.date) and isinstance(end, dt.date):
            if end < start:
                raise forms.ValidationError(_("終了日は開始日以降にしてください。"))
            if (end - start).days + 1 > ROTA_MAX_DAYS:
                raise forms.ValidationError(
                    _("期間は%(days)s日以内にしてください。") % {"days": ROTA_MAX_DAYS}
                )
        return data


@staff_required("phone.view_forecast")
def rota_csv_view(request: HttpRequest) -> HttpResponse:
    form = RotaForm(request.GET)
    if not form.is_valid():
        errors = [str(e) for field in form.errors.values() for e in field]
        return HttpResponse(" ".join(errors), status=400, content_type="text/plain; charset=utf-8")
    values = form.cleaned_data
    rotas = plan_rota(
        municipality=_municipality(request),
        date_from=values["date_from"],
        date_to=values["date_to"],
        erlang_a=values["model"] != "erlang_c",
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="phone-rota.csv"'
    # A BOM so Excel on Japanese Windows opens the file as UTF-8. Every cell is a date and
    # time or a number of our own making: nothing a spreadsheet could read as a formula.
    response.write("\ufeff" + rota_csv(rotas))
    return response


class RehearsalForm(forms.Form):
    date = LooseDateField(label=gettext_lazy("受付開始日"))
    operators_a = forms.IntegerField(
        label=gettext_lazy("配置A オペレーター"), min_value=1, max_value=2000, required=False
    )
    lines_a = forms.IntegerField(
        label=gettext_lazy("配置A 回線"), min_value=1, max_value=2000, required=False
    )
    operators_b = forms.IntegerField(
        label=gettext_lazy("配置B オペレーター"), min_value=1, max_value=2000, required=False
    )
    lines_b = forms.IntegerField(
        label=gettext_lazy("配置B 回線"), min_value=1, max_value=2000, required=False
    )
    seed = forms.IntegerField(
        label=gettext_lazy("乱数の種"), min_value=0, max_value=10**6, initial=0, required=False
    )


def _wait_distribution(result: Rehearsal) -> list[float | None]:
    """Share of answered calls (%) answered at once, within each bound, and after the last."""
    counts = [0] * (len(WAIT_BUCKETS) + 1)
    for wait in result.waits:
        counts[next((i for i, top in enumerate(WAIT_BUCKETS) if wait <= top), -1)] += 1
    if not result.waits:
        return [None] * len(counts)
    return [round(100 * c / len(result.waits), 1) for c in counts]


def _wait_labels() -> list[str]:
    return (
        [_("すぐ")]
        + [_("%(seconds)s秒以内") % {"seconds": top} for top in WAIT_BUCKETS[1:]]
        + [_("%(seconds)s秒超") % {"seconds": WAIT_BUCKETS[-1]}]
    )


def _charts(results: Sequence[Rehearsal]) -> list[SafeString]:
    a, b = results
    labels = [f"{i.starts_at:%H:%M}" for i in a.intervals]
    made = [
        charts.chart(
            title=_("30分ごとの発信（配置%(name)s）") % {"name": name},
            labels=labels,
            series=[
                charts.Series(_("応答"), [i.answered for i in r.intervals], "s-required", "bar"),
                charts.Series(_("話中"), [i.busy for i in r.intervals], "s-noshow", "bar"),
                charts.Series(_("切断"), [i.abandoned for i in r.intervals], "s-cancelled", "bar"),
            ],
        )
        for name, r in (("A", a), ("B", b))
    ]
    made.append(
        charts.chart(
            title=_("30分ごとの平均応答時間（秒）"),
            labels=labels,
            series=[
                charts.Series(_("配置A"), [i.mean_wait_seconds for i in a.intervals], "s-forecast"),
                charts.Series(_("配置B"), [i.mean_wait_seconds for i in b.intervals], "s-actual"),
            ],
        )
    )
    made.append(
        charts.chart(
            title=_("応答までの時間の分布（応答した通話の%）"),
            labels=_wait_labels(),
            series=[
                charts.Series(_("配置A"), _wait_distribution(a), "s-forecast", "bar"),
                charts.Series(_("配置B"), _wait_distribution(b), "s-actual", "bar"),
            ],
            y_max=100,
        )
    )
    made.append(
        charts.chart(
            title=_("残りの枠"),
            labels=labels,
            series=[
                charts.Series(_("配置A"), [i.seats_left for i in a.intervals], "s-forecast"),
                charts.Series(_("配置B"), [i.seats_left for i in b.intervals], "s-actual"),
            ],
        )
    )
    return made


@staff_required("phone.view_forecast")
def rehearsal_view(request: HttpRequest) -> HttpResponse:
    municipality = _municipality(request)
    form = RehearsalForm(
        request.GET if "date" in request.GET else None,
        initial={"date": timezone.localdate(), "seed": 0},
    )
    context: dict[str, object] = {"form": form, "municipality": municipality}
    if form.is_bound and form.is_valid():
        values = form.cleaned_data
        try:
            day = opening_day(municipality=municipality, date=values["date"])
        except NoPlan:
            form.add_error(
                "date",
                _("この日を含むシーズン計画がありません。管理画面で作成してください。"),
            )
            return _render(request, "phone/rehearsal.html", context)
        if not day.demand.intervals:
            form.add_error("date", _("この日はシーズン計画でコールセンターの休業日です。"))
            return _render(request, "phone/rehearsal.html", context)
        planned, suggested = day.planned_setup(), day.suggested_setup()
        setups = [
            CentreSetup(
                operators=values["operators_a"] or planned.operators,
                lines=values["lines_a"] or planned.lines,
            ),
            CentreSetup(
                operators=values["operators_b"] or suggested.operators,
                lines=values["lines_b"] or suggested.lines,
            ),
        ]
        parameters = day.parameters(seed=values["seed"] or 0)
        results = [
            rehearse(demand=day.demand, setup=setup, parameters=parameters) for setup in setups
        ]
        context.update(
            {
                "day": day,
                "parameters": parameters,
                "callers": round(sum(day.demand.phone_callers)),
                "web": round(sum(day.demand.web_residents)),
                "rows": comparison(results),
                "charts": _charts(results),
            }
        )
    return _render(request, "phone/rehearsal.html", context)
