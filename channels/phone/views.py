"""The operator console and the supervisors' and manager's pages. Views parse the request,
call one service or selector, and render; every page also works without JavaScript."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from channels.phone import charts, forecast, planning, selectors, services
from channels.phone.forms import (
    CallCloseForm,
    CallerForm,
    ForecastForm,
    PhoneBookForm,
    SlotChoiceForm,
    StaffLoginForm,
    day_from_query,
    row_id_from_query,
)
from channels.phone.models import Call, RecordAccess, SeasonPlan
from channels.phone.search import resident_search
from reservations.csv_safety import SafeWriter
from reservations.exceptions import ReservationError
from reservations.identifiers import IdentifierError, format_wareki
from reservations.models import Municipality, Reservation, Resident, Ticket
from reservations.selectors import (
    fill_rates,
    reservation_list_for_resident,
    reservation_series,
    vaccination_list_for_resident,
)
from reservations.services.credentials import credentials_ticket_locks

View = Callable[..., HttpResponse]
GRID_DAYS = 14


def staff_required(perm: str) -> Callable[[View], View]:
    """Signed in (else to the console's sign-in page) and holding `perm` (else 403)."""

    def decorator(view: View) -> View:
        @wraps(view)
        @login_required(login_url=reverse_lazy("phone:login"))
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise DjangoPermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


operator_required = staff_required("reservations.book_on_behalf")


def _municipality(request: HttpRequest) -> Municipality:
    municipality = selectors.staff_municipality(request.user)
    if municipality is None:
        raise Http404(_("担当の自治体が設定されていません。"))
    return municipality


def _resident(request: HttpRequest, pk: int) -> Resident:
    """Only residents of the operator's own municipality exist for them."""
    return get_object_or_404(Resident, pk=pk, municipality=_municipality(request))


def _render(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    context.setdefault("call", selectors.open_call(request.user))
    context.setdefault("outcomes", Call.Outcome.choices)
    return render(request, template, context)


def _problem(request: HttpRequest, error: ReservationError | IdentifierError) -> None:
    messages.error(request, str(error.message))


# --- Sign-in ------------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "phone/login.html"
    authentication_form = StaffLoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        # Each role lands on the first page it may use.
        user = self.request.user
        for perm, page in (
            ("reservations.book_on_behalf", "phone:home"),
            ("phone.view_dashboard", "phone:dashboard"),
            ("phone.view_forecast", "phone:forecast"),
        ):
            if user.has_perm(perm):
                return reverse(page)
        return reverse("phone:home")


class LogoutView(auth_views.LogoutView):
    def get_success_url(self) -> str:
        return reverse("phone:login")


# --- Console ------------------------------------------------------------------------------------


@operator_required
def home(request: HttpRequest) -> HttpResponse:
    """Search. A non-empty search starts the call log; exactly one match opens that resident."""
    text = request.GET.get("q", "").strip()
    municipality = _municipality(request)
    results: list[Resident] = []
    if text:
        now = timezone.now()
        services.call_start(operator=request.user, municipality=municipality, now=now)
        _parsed, found = resident_search(
            text=text, municipality=municipality, today=timezone.localdate(now)
        )
        results = list(found.prefetch_related("tickets"))
        if len(results) == 1:
            return redirect("phone:resident", pk=results[0].pk)
    return _render(
        request, "phone/home.html", {"q": text, "results": results, "searched": bool(text)}
    )


@operator_required
def resident(request: HttpRequest, pk: int) -> HttpResponse:
    person = _resident(request, pk)
    now = timezone.now()
    call = selectors.open_call(request.user)
    services.resident_open(user=request.user, resident=person, call=call, now=now)
    return _render(request, "phone/resident.html", _resident_context(request, person, now=now))


def _resident_context(
    request: HttpRequest, person: Resident, *, now: dt.datetime
) -> dict[str, Any]:
    today = timezone.localdate(now)
    grid_from = max(day_from_query(request.GET.get("from", "")) or today, today)
    change_target = None
    change_id = row_id_from_query(request.GET.get("change", ""))
    if change_id is not None:
        change_target = Reservation.objects.filter(
            pk=change_id, resident=person, status__in=Reservation.ACTIVE_STATUSES
        ).first()
    reservations = list(reservation_list_for_resident(resident=person))
    outlooks = selectors.booking_outlook(resident=person, now=now)
    tickets = list(person.tickets.select_related("municipality"))
    locks = credentials_ticket_locks(tickets=tickets, now=now)
    return {
        "resident": person,
        "wareki": format_wareki(person.birth_date),
        "age": _age(person.birth_date, today),
        "tickets": tickets,
        # Ticket numbers whose web / LINE sign-in is locked after wrong tries, until when.
        "sign_in_locks": [(t, locks[t.pk]) for t in tickets if t.pk in locks],
        "active": [r for r in reservations if r.is_active],
        "past": [r for r in reservations if not r.is_active],
        "vaccinations": list(vaccination_list_for_resident(resident=person)),
        "outlooks": outlooks,
        "blocked": bool(outlooks) and all(o.duplicate for o in outlooks) and change_target is None,
        "channels": selectors.channels_used(person),
        "grid": selectors.slot_grid(resident=person, date_from=grid_from, days=GRID_DAYS, now=now),
        "grid_from": grid_from,
        "grid_prev": grid_from - dt.timedelta(days=GRID_DAYS),
        "grid_next": grid_from + dt.timedelta(days=GRID_DAYS),
        "show_prev": grid_from > today,
        "change_target": change_target,
        "idempotency_key": uuid.uuid4().hex,
    }


def _age(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _back(person: Resident) -> HttpResponseRedirect:
    return redirect("phone:resident", pk=person.pk)


@operator_required
@require_POST
def book(request: HttpRequest, pk: int) -> HttpResponse:
    person = _resident(request, pk)
    form = PhoneBookForm(request.POST)
    if not form.is_valid():
        _form_problem(request, form, slot=_("予約枠を選んでください。"))
        return _back(person)
    try:
        reservation = services.phone_book(
            user=request.user,
            resident=person,
            slot=form.cleaned_data["slot"],
            call=selectors.open_call(request.user),
            book_series=form.cleaned_data["series"],
            idempotency_key=form.cleaned_data["key"],
        )
    except ReservationError as error:
        _problem(request, error)
        return _back(person)
    messages.success(request, _readback(reservation, _("予約しました。")))
    return _back(person)


def _form_problem(request: HttpRequest, form: forms.Form, **plain: str) -> None:
    """Say what is wrong with a posted form: for a field named in `plain`, that sentence (what
    the operator must do), otherwise the form's own messages."""
    for field, errors in form.errors.items():
        messages.error(request, plain.get(field) or " ".join(str(error) for error in errors))


def _readback(reservation: Reservation, lead: str) -> str:
    """What the operator reads back to the caller: number, date, time, site, and the pair."""
    return " ".join([lead, *(_describe(member) for member in reservation_series(reservation))])


def _describe(reservation: Reservation) -> str:
    reservation = Reservation.objects.select_related("slot__operating_day__site").get(
        pk=reservation.pk
    )
    start = timezone.localtime(reservation.slot.starts_at)
    return _("%(dose)s回目 %(date)s（%(wareki)s）%(time)s %(site)s 予約番号 %(code)s。") % {
        "dose": reservation.dose_number,
        "date": start.date().isoformat(),
        "wareki": format_wareki(start.date()),
        "time": start.strftime("%H:%M"),
        "site": reservation.slot.operating_day.site.name,
        "code": reservation.code,
    }


@operator_required
@require_POST
def change(request: HttpRequest, pk: int, reservation_id: int) -> HttpResponse:
    person = _resident(request, pk)
    target = get_object_or_404(Reservation, pk=reservation_id, resident=person)
    form = SlotChoiceForm(request.POST)
    if not form.is_valid():
        _form_problem(request, form, slot=_("変更先の予約枠を選んでください。"))
        return _back(person)
    try:
        changed = services.phone_change(
            user=request.user,
            reservation=target,
            slot=form.cleaned_data["slot"],
            call=selectors.open_call(request.user),
        )
    except ReservationError as error:
        _problem(request, error)
        return _back(person)
    messages.success(request, _readback(changed, _("予約を変更しました。")))
    return _back(person)


@operator_required
def cancel(request: HttpRequest, pk: int, reservation_id: int) -> HttpResponse:
    """GET: the read-back script and the warning. POST: cancel."""
    person = _resident(request, pk)
    target = get_object_or_404(
        Reservation.objects.select_related("slot__operating_day__site"),
        pk=reservation_id,
        resident=person,
    )
    if request.method != "POST":
        series = reservation_series(target)
        return _render(
            request,
            "phone/cancel.html",
            {
                "resident": person,
                "target": target,
                "series": [r for r in series if r.is_active],
                "script": " ".join(_describe(r) for r in series if r.is_active),
            },
        )
    try:
        services.phone_cancel(
            user=request.user, reservation=target, call=selectors.open_call(request.user)
        )
    except ReservationError as error:
        _problem(request, error)
        return _back(person)
    messages.success(
        request, _("予約をキャンセルしました（予約番号 %(code)s）。") % {"code": target.code}
    )
    return _back(person)


@operator_required
@require_POST
def contact(request: HttpRequest, pk: int) -> HttpResponse:
    person = _resident(request, pk)
    try:
        changed = services.phone_contact_update(
            user=request.user,
            resident=person,
            phone=request.POST.get("phone", ""),
            sms_consent=request.POST.get("sms_consent") == "1",
            call=selectors.open_call(request.user),
        )
    except (ReservationError, IdentifierError) as error:
        _problem(request, error)
        return _back(person)
    if changed:
        messages.success(request, _("連絡先を更新しました。"))
    else:
        messages.info(request, _("連絡先に変更はありません。"))
    return _back(person)


@operator_required
@require_POST
def unlock(request: HttpRequest, pk: int, ticket_id: int) -> HttpResponse:
    """Lift a ticket number's sign-in lock, after the operator has verified the caller."""
    person = _resident(request, pk)
    ticket = get_object_or_404(Ticket, pk=ticket_id, resident=person)
    try:
        cleared = services.sign_in_unlock(
            user=request.user,
            resident=person,
            ticket=ticket,
            call=selectors.open_call(request.user),
            now=timezone.now(),
        )
    except ReservationError as error:
        _problem(request, error)
        return _back(person)
    if cleared:
        messages.success(
            request,
            _(
                "接種券番号 %(number)s のロックを解除しました。"
                "Web・LINEでもう一度確認できることをお伝えください。"
            )
            % {"number": ticket.number},
        )
    else:
        messages.info(request, _("この接種券番号はロックされていません。"))
    return _back(person)


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    return target if target.startswith("/phone/") else reverse("phone:home")


@operator_required
@require_POST
def call_caller(request: HttpRequest) -> HttpResponse:
    """Record that the caller is a proxy (family member, carer) and their relationship."""
    call = selectors.open_call(request.user)
    if call is None:
        call = services.call_start(
            operator=request.user, municipality=_municipality(request), now=timezone.now()
        )
    form = CallerForm(request.POST)
    if not form.is_valid():
        _form_problem(request, form)
        return HttpResponseRedirect(_next(request))
    services.call_set_caller(
        call=call,
        is_proxy=form.cleaned_data["proxy"],
        relationship=form.cleaned_data["relationship"],
    )
    return HttpResponseRedirect(_next(request))


@operator_required
@require_POST
def call_close(request: HttpRequest) -> HttpResponse:
    call = selectors.open_call(request.user)
    form = CallCloseForm(request.POST)
    if call is None:
        messages.info(request, _("記録中の通話はありません。"))
    elif not form.is_valid():
        _form_problem(request, form, outcome=_("通話の結果を選んでください。"))
        return HttpResponseRedirect(_next(request))
    else:
        services.call_close(
            call=call,
            outcome=form.cleaned_data["outcome"],
            notes=form.cleaned_data["notes"],
            now=timezone.now(),
        )
        messages.success(request, _("通話を記録しました。次の電話をどうぞ。"))
    return redirect("phone:home")


# --- Supervisors and manager --------------------------------------------------------------------


@staff_required("phone.view_audit")
def audit(request: HttpRequest) -> HttpResponse:
    rows = RecordAccess.objects.filter(
        resident__municipality=_municipality(request)
    ).select_related("user", "resident")
    resident_id = request.GET.get("resident", "")
    resident_pk = row_id_from_query(resident_id)
    if resident_pk is not None:
        rows = rows.filter(resident_id=resident_pk)
    username = request.GET.get("user", "").strip()
    if username:
        rows = rows.filter(user__username=username)
    return _render(
        request,
        "phone/audit.html",
        {"rows": rows[:500], "resident_id": resident_id, "username": username},
    )


def _date_range(
    request: HttpRequest, *, back_days: int, forward_days: int = 0
) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    date_from = day_from_query(request.GET.get("from", "")) or today - dt.timedelta(days=back_days)
    date_to = day_from_query(request.GET.get("to", "")) or today + dt.timedelta(days=forward_days)
    if date_to < date_from:
        date_from, date_to = date_to, date_from
    return date_from, min(date_to, date_from + dt.timedelta(days=366))


@staff_required("phone.view_call_metrics")
def metrics(request: HttpRequest) -> HttpResponse:
    date_from, date_to = _date_range(request, back_days=0)
    rows = selectors.call_metrics(
        municipality=_municipality(request), date_from=date_from, date_to=date_to
    )
    return _render(
        request, "phone/metrics.html", {"rows": rows, "date_from": date_from, "date_to": date_to}
    )


@staff_required("phone.view_dashboard")
def dashboard(request: HttpRequest) -> HttpResponse:
    municipality = _municipality(request)
    date_from, date_to = _date_range(request, back_days=14, forward_days=28)
    now = timezone.now()
    fills = fill_rates(municipality=municipality, date_from=date_from, date_to=date_to)
    by_channel = selectors.bookings_by_channel_per_day(
        municipality=municipality, date_from=date_from, date_to=date_to
    )
    losses = selectors.cancellations_and_no_shows(
        municipality=municipality, date_from=date_from, date_to=date_to
    )
    return _render(
        request,
        "phone/dashboard.html",
        {
            "date_from": date_from,
            "date_to": date_to,
            "fills": fills,
            "fill_chart": charts.fill_rate_chart(fills),
            "seats": selectors.seats_by_channel(
                municipality=municipality, date_from=date_from, date_to=date_to, now=now
            ),
            "channel_chart": charts.channel_chart(by_channel),
            "channel_rows": by_channel,
            "losses": losses,
            "loss_chart": charts.loss_chart(losses),
        },
    )


def _forecast_rows(
    request: HttpRequest,
) -> tuple[ForecastForm, list[forecast.IntervalForecast], float]:
    municipality = _municipality(request)
    today = timezone.localdate()
    data = request.GET if "date_from" in request.GET else None
    form = ForecastForm(data, initial={"date_from": today})
    rows: list[forecast.IntervalForecast] = []
    aht = float(settings.PHONE_DEFAULT_AHT_SECONDS)
    if data is None:
        form = ForecastForm(
            {
                "date_from": today.isoformat(),
                "days": 7,
                "service_level": 80,
                "target_seconds": 20,
                "max_occupancy": 85,
                "shrinkage": 30,
                "max_blocking": "1",
            }
        )
    if form.is_valid():
        values = form.cleaned_data
        aht = float(
            values["aht_seconds"]
            or forecast.historical_aht(
                municipality=municipality, before=values["date_from"], weeks=8
            )
            or settings.PHONE_DEFAULT_AHT_SECONDS
        )
        rows = forecast.forecast(
            municipality=municipality,
            date_from=values["date_from"],
            days=values["days"],
            parameters=forecast.ForecastParameters(
                aht_seconds=aht,
                service_level=values["service_level"] / 100,
                target_seconds=values["target_seconds"],
                max_occupancy=values["max_occupancy"] / 100,
                shrinkage=values["shrinkage"] / 100,
                max_blocking=float(values["max_blocking"]) / 100,
            ),
        )
    return form, rows, aht


def _planned_rows(
    request: HttpRequest, form: ForecastForm
) -> tuple[SeasonPlan | None, list[planning.PlannedInterval]]:
    """The season plan's forecast for the form's days, when a plan covers them; the call-log
    forecast (`_forecast_rows`) stays the answer for a municipality without a plan."""
    if not form.is_valid():
        return None, []
    municipality = _municipality(request)
    date_from = form.cleaned_data["date_from"]
    date_to = date_from + dt.timedelta(days=form.cleaned_data["days"] - 1)
    season = (
        SeasonPlan.objects.filter(
            municipality=municipality, starts_on__lte=date_to, ends_on__gte=date_from
        )
        .order_by("-starts_on")
        .first()
    )
    if season is None:
        return None, []
    rows = planning.plan_forecast(municipality=municipality, date_from=date_from, date_to=date_to)
    return season, rows


@staff_required("phone.view_forecast")
def forecast_view(request: HttpRequest) -> HttpResponse:
    form, rows, aht = _forecast_rows(request)
    season, planned = _planned_rows(request, form)
    query = request.GET.urlencode()
    return _render(
        request,
        "phone/forecast.html",
        {
            "form": form,
            "rows": rows,
            "aht": round(aht),
            "chart": charts.plan_chart(planned) if season else charts.forecast_chart(rows),
            "query": query,
            "season": season,
            "planned": planned,
        },
    )


@staff_required("phone.view_forecast")
def forecast_csv(request: HttpRequest) -> HttpResponse:
    form, rows, aht = _forecast_rows(request)
    season, planned = _planned_rows(request, form)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="phone-forecast.csv"'
    # A BOM so Excel on Japanese Windows opens the file as UTF-8.
    response.write("\ufeff")
    if season is not None:
        _write_planned_csv(response, planned)
        return response
    # Every column but the interval's start is a number; numbers are data, never formulas, so
    # only that text column is neutralised (a negative figure must stay a number).
    writer = SafeWriter(response, numeric_columns=range(1, 13))
    writer.writerow(
        [
            "interval_start",
            "forecast_calls",
            "actual_calls",
            "staffed_observed",
            "traffic_erlangs",
            "agents_required",
            "staff_rostered",
            "service_level",
            "occupancy",
            "asa_seconds",
            "lines_required",
            "event_multiplier",
            "aht_seconds",
        ]
    )
    for row in rows:
        s = row.staffing
        writer.writerow(
            [
                timezone.localtime(row.starts_at).isoformat(),
                f"{row.forecast_calls:.2f}",
                "" if row.actual_calls is None else row.actual_calls,
                "" if row.staffed is None else row.staffed,
                f"{s.traffic:.3f}",
                s.agents,
                s.staff,
                f"{s.service_level:.4f}",
                f"{s.occupancy:.4f}",
                f"{s.asa_seconds:.1f}",
                s.lines,
                f"{row.multiplier:.2f}",
                round(aht),
            ]
        )
    return response


def _write_planned_csv(response: HttpResponse, rows: list[planning.PlannedInterval]) -> None:
    # As above: only the interval's start is text; every other column is a number.
    writer = SafeWriter(response, numeric_columns=range(1, 10))
    writer.writerow(
        [
            "interval_start",
            "callers",
            "attempts",
            "planned_calls",
            "actual_calls",
            "blended_calls",
            "correction",
            "operators_needed",
            "staff_rostered",
            "lines_needed",
        ]
    )
    for row in rows:
        writer.writerow(
            [
                timezone.localtime(row.starts_at).isoformat(),
                f"{row.callers:.2f}",
                f"{row.attempts:.2f}",
                f"{row.planned_calls:.2f}",
                "" if row.actual_calls is None else row.actual_calls,
                f"{row.blended_calls:.2f}",
                f"{row.correction:.3f}",
                row.operators_needed,
                row.staffing.staff,
                row.lines_needed,
            ]
        )
