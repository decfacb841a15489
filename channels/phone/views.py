"""The operator console and the supervisors' and manager's pages. Views parse the request,
call one service or selector, and render; every page also works without JavaScript."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from channels.phone import charts, forecast, planning, second_factor, selectors, services
from channels.phone.audit import audit_lines, audit_rows, audit_staff
from channels.phone.forms import (
    AHT_MAX_SECONDS,
    AHT_MIN_SECONDS,
    AuditFilterForm,
    CallCloseForm,
    CallerForm,
    ForecastForm,
    PhoneBookForm,
    SlotChoiceForm,
    StaffLoginForm,
    day_from_query,
    row_id_from_query,
)
from channels.phone.models import Call, SeasonPlan
from channels.phone.search import resident_search
from reservations.csv_safety import SafeWriter
from reservations.exceptions import ReservationError
from reservations.identifiers import (
    IdentifierError,
    format_reservation_code,
    format_wareki,
    is_mobile_phone,
)
from reservations.localized import localized
from reservations.models import Municipality, Reservation, Resident, Slot, Ticket
from reservations.selectors import (
    fill_rates,
    reservation_list_for_resident,
    reservation_series,
    vaccination_list_for_resident,
)
from reservations.services.contact import notice_languages
from reservations.services.credentials import credentials_ticket_locks
from reservations.staff_areas import NO_MUNICIPALITY_MESSAGE, staff_home_url, staff_required
from reservations.staff_panels import dashboard_panels, resident_panels
from reservations.staff_scope import acting_municipality, scope_municipalities

GRID_DAYS = 14


# The console's own permission: venue staff hold book_on_behalf too (walk-ins), not this.
operator_required = staff_required("phone.use_console")


def _municipality(request: HttpRequest) -> Municipality:
    """The municipality the console acts for (the staff bar's switch, for staff of several).
    staff_required has already refused a member of staff with no municipality."""
    municipality = acting_municipality(request)
    if municipality is None:
        raise PermissionDenied(NO_MUNICIPALITY_MESSAGE)
    return municipality


def _resident(request: HttpRequest, pk: int) -> Resident:
    """Only residents of the municipality the operator acts for exist for them."""
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
        # Each role lands on the first page it may use, in whichever staff area: this is the
        # sign-in page the shared staff layout's sign-out leads back to.
        home = staff_home_url(self.request.user)
        # Without any staff area, the console's own page says what is missing (the 403 page).
        return home if home != "/" else reverse("phone:home")

    def get_success_url(self) -> str:
        destination = super().get_success_url()
        # The password was only the first step for those who owe a second factor: the code
        # page (or the enrolment page it leads to) comes first, then where they were going.
        if second_factor.owes_second_factor(self.request.user):
            return second_factor.code_page_url(destination)
        return destination


class LogoutView(auth_views.LogoutView):
    """Sign-out for every staff area (the shared staff layout's button posts here): back to
    the staff sign-in page, where the next member of staff signs in on a shared desk."""

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
            return redirect("phone:resident", pk=results[0].pk)  # the resident page audits
        services.search_results_shown(
            user=request.user, residents=results, now=now, request=request
        )
    return _render(
        request, "phone/home.html", {"q": text, "results": results, "searched": bool(text)}
    )


@operator_required
def resident(request: HttpRequest, pk: int) -> HttpResponse:
    person = _resident(request, pk)
    now = timezone.now()
    call = selectors.open_call(request.user)
    # Other apps' sections of the screen (automated voice calls): read first, so the audit row
    # of the screen names what they show.
    panels = resident_panels(resident=person, now=now)
    services.resident_open(
        user=request.user, resident=person, call=call, now=now, request=request, panels=panels
    )
    context = _resident_context(request, person, now=now)
    context["panels"] = panels
    return _render(request, "phone/resident.html", context)


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
        # A landline cannot receive SMS, whatever the consent says.
        "sms_reachable": bool(person.phone) and is_mobile_phone(person.phone),
        "notice_languages": notice_languages(),
        "grid": selectors.slot_grid(resident=person, date_from=grid_from, days=GRID_DAYS, now=now),
        "grid_from": grid_from,
        "grid_prev": grid_from - dt.timedelta(days=GRID_DAYS),
        "grid_next": grid_from + dt.timedelta(days=GRID_DAYS),
        "show_prev": grid_from > today,
        "change_target": change_target,
    }


def _age(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _back(person: Resident) -> HttpResponseRedirect:
    return redirect("phone:resident", pk=person.pk)


def _grid_url(person: Resident, *, grid_from: str, change: Reservation | None = None) -> str:
    """The resident screen at the slot grid the operator chose from (same fortnight)."""
    query = []
    day = day_from_query(grid_from)
    if day is not None:
        query.append(f"from={day.isoformat()}")
    if change is not None:
        query.append(f"change={change.pk}")
    url = reverse("phone:resident", kwargs={"pk": person.pk})
    return url + ("?" + "&".join(query) if query else "") + "#grid"


def _readback_or_back(
    request: HttpRequest, person: Resident, *, back: str
) -> selectors.BookingReadback | HttpResponseRedirect:
    """The chosen slot (the grid's time button, ?slot=) as a read-back, or back to the grid
    with what went wrong."""
    form = SlotChoiceForm(request.GET)
    if not form.is_valid():
        _form_problem(request, form, slot=_("予約枠を選んでください。"))
        return HttpResponseRedirect(back)
    readback = selectors.booking_readback(resident=person, slot_id=form.cleaned_data["slot"])
    if readback is None:
        messages.error(request, _("選んだ枠が見つかりません。もう一度、枠を選んでください。"))
        return HttpResponseRedirect(back)
    return readback


@operator_required
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest, pk: int) -> HttpResponse:
    """GET (a time button on the grid): the read-back the operator reads to the caller, with
    確定 focused, so one Enter books and Escape goes back. POST: book."""
    person = _resident(request, pk)
    if request.method != "POST":
        back = _grid_url(person, grid_from=request.GET.get("from", ""))
        readback = _readback_or_back(request, person, back=back)
        if isinstance(readback, HttpResponseRedirect):
            return readback
        return _render(
            request,
            "phone/book_confirm.html",
            {
                "resident": person,
                "readback": readback,
                "script": _booking_script(person, readback),
                "back_url": back,
                "idempotency_key": uuid.uuid4().hex,
            },
        )
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
            request=request,
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


def _when_where(slot: Slot) -> dict[str, str]:
    """A slot's day, time, site and vaccine as the operator reads them out."""
    start = timezone.localtime(slot.starts_at)
    return {
        "date": date_format(start.date(), "DATE_FORMAT"),
        "weekday": date_format(start.date(), "D"),
        "time": start.strftime("%H:%M"),
        "site": localized(slot.operating_day.site),
        "vaccine": localized(slot.operating_day.vaccine),
    }


def _describe(reservation: Reservation) -> str:
    reservation = Reservation.objects.select_related(
        "slot__operating_day__site", "slot__operating_day__vaccine"
    ).get(pk=reservation.pk)
    return _(
        "%(dose)s回目 %(date)s（%(weekday)s）%(time)s %(site)s（%(vaccine)s） 予約番号 %(code)s。"
    ) % {
        "dose": reservation.dose_number,
        "code": format_reservation_code(reservation.code),
        **_when_where(reservation.slot),
    }


def _booking_script(person: Resident, readback: selectors.BookingReadback) -> str:
    """The sentences the operator reads before booking: who, when, where, which vaccine."""
    return _(
        "%(name)s様、%(date)s（%(weekday)s）%(time)sから、%(site)sで、"
        "%(vaccine)sの%(dose)s回目を予約します。"
    ) % {"name": person.name, "dose": readback.dose_number, **_when_where(readback.slot)}


@operator_required
@require_http_methods(["GET", "POST"])
def change(request: HttpRequest, pk: int, reservation_id: int) -> HttpResponse:
    """GET (a time button on the grid in change mode): the read-back of the change, 確定
    focused. POST: change."""
    person = _resident(request, pk)
    target = get_object_or_404(
        Reservation.objects.select_related(
            "slot__operating_day__site", "slot__operating_day__vaccine", "next_dose__slot"
        ),
        pk=reservation_id,
        resident=person,
    )
    if request.method != "POST":
        back = _grid_url(person, grid_from=request.GET.get("from", ""), change=target)
        readback = _readback_or_back(request, person, back=back)
        if isinstance(readback, HttpResponseRedirect):
            return readback
        following = target.next_dose if target.next_dose and target.next_dose.is_active else None
        return _render(
            request,
            "phone/change_confirm.html",
            {
                "resident": person,
                "target": target,
                "readback": readback,
                "following": following,
                "script": _("%(name)s様の予約番号 %(code)s（%(old)s）を、%(new)s に変更します。")
                % {
                    "name": person.name,
                    "code": format_reservation_code(target.code),
                    "old": _("%(date)s（%(weekday)s）%(time)s %(site)s") % _when_where(target.slot),
                    "new": _("%(date)s（%(weekday)s）%(time)s %(site)s")
                    % _when_where(readback.slot),
                },
                "back_url": back,
            },
        )
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
            request=request,
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
            user=request.user,
            reservation=target,
            call=selectors.open_call(request.user),
            request=request,
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
            language=request.POST.get("language"),
            call=selectors.open_call(request.user),
            request=request,
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
            request=request,
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


AUDIT_PAGE_SIZE = 50


@staff_required("phone.view_audit")
def audit(request: HttpRequest) -> HttpResponse:
    """Who opened or changed which resident's record, filtered by staff member, ticket number,
    action and days, 50 rows a page, each row's details in words."""
    municipality = _municipality(request)
    form = AuditFilterForm(request.GET or None, staff=audit_staff(municipality=municipality))
    values: dict[str, Any] = {}
    if form.is_bound:
        # A filter whose value is wrong is left out of cleaned_data (the form says why); the
        # others still apply.
        form.is_valid()
        values = form.cleaned_data
    # The resident's name in a row links to that resident's rows.
    resident_pk = row_id_from_query(request.GET.get("resident", ""))
    resident = (
        Resident.objects.filter(pk=resident_pk, municipality=municipality).first()
        if resident_pk is not None
        else None
    )
    rows = audit_rows(
        municipality=municipality,
        user_id=values.get("user"),
        resident_id=resident.pk if resident else None,
        ticket_number=values.get("ticket") or "",
        action=values.get("action") or "",
        channel=values.get("channel") or "",
        role=values.get("role") or "",
        date_from=values.get("date_from"),
        date_to=values.get("date_to"),
    )
    page = Paginator(rows, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    everyone = query.copy()
    everyone.pop("resident", None)
    return _render(
        request,
        "phone/audit.html",
        {
            "form": form,
            "page": page,
            "lines": list(audit_lines(page.object_list)),
            "resident": resident,
            "query": query.urlencode(),
            "everyone_query": everyone.urlencode(),
        },
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
            # Other apps' sections (automated voice calls and their cost), for every
            # municipality in the user's scope: the bill is per municipality.
            "panels": dashboard_panels(
                municipalities=scope_municipalities(request.user),
                date_from=date_from,
                date_to=date_to,
            ),
        },
    )


HISTORY_WEEKS = forecast.ForecastParameters.history_weeks
# Fewer days of calls than this and the page calls the forecast a rough guide.
FEW_HISTORY_DAYS = 10


@dataclass(frozen=True)
class ForecastPage:
    form: ForecastForm
    rows: list[forecast.IntervalForecast]
    aht: float
    # The log's average handling time over the history window (None: no closed calls).
    learned_aht: float | None
    history: forecast.History | None


def _forecast_rows(request: HttpRequest) -> ForecastPage:
    municipality = _municipality(request)
    today = timezone.localdate()
    data = request.GET.copy()
    if "date_from" not in data:
        # The first visit shows a forecast at once: from today, with the usual targets.
        data.update(
            {
                "date_from": today.isoformat(),
                "days": "7",
                "service_level": "80",
                "target_seconds": "20",
                "max_occupancy": "85",
                "shrinkage": "30",
                "max_blocking": "1",
            }
        )
    form = ForecastForm(data)
    rows: list[forecast.IntervalForecast] = []
    aht, learned, history = float(settings.PHONE_DEFAULT_AHT_SECONDS), None, None
    if form.is_valid():
        values = form.cleaned_data
        learned = forecast.historical_aht(
            municipality=municipality, before=values["date_from"], weeks=HISTORY_WEEKS
        )
        if learned is not None:
            # Within the field's bounds, so the number shown in it can be sent back as is.
            learned = min(max(learned, AHT_MIN_SECONDS), AHT_MAX_SECONDS)
        aht = float(values["aht_seconds"] or learned or settings.PHONE_DEFAULT_AHT_SECONDS)
        if not values["aht_seconds"]:
            # A blank field means "from the log, else the default": show the number used.
            data["aht_seconds"] = str(round(aht))
            form = ForecastForm(data)
            form.is_valid()
        history = forecast.history_summary(
            municipality=municipality, before=values["date_from"], weeks=HISTORY_WEEKS
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
                history_weeks=HISTORY_WEEKS,
            ),
        )
    return ForecastPage(form=form, rows=rows, aht=aht, learned_aht=learned, history=history)


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
    page = _forecast_rows(request)
    season, planned = _planned_rows(request, page.form)
    query = request.GET.urlencode()
    history = page.history
    return _render(
        request,
        "phone/forecast.html",
        {
            "form": page.form,
            "rows": page.rows,
            "aht": round(page.aht),
            "learned_aht": round(page.learned_aht) if page.learned_aht else None,
            "default_aht": settings.PHONE_DEFAULT_AHT_SECONDS,
            "history": history,
            "history_weeks": HISTORY_WEEKS,
            "no_history": history is not None and history.days_with_calls == 0,
            "thin_history": history is not None and 0 < history.days_with_calls < FEW_HISTORY_DAYS,
            "chart": charts.plan_chart(planned) if season else charts.forecast_chart(page.rows),
            "query": query,
            "season": season,
            "planned": planned,
        },
    )


def _csv_time(moment: dt.datetime) -> str:
    # As the rota CSV and `manage.py forecast` write it: 2026-12-07 10:00, local time.
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


@staff_required("phone.view_forecast")
def forecast_csv(request: HttpRequest) -> HttpResponse:
    page = _forecast_rows(request)
    season, planned = _planned_rows(request, page.form)
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
            _("日時"),
            _("予測入電"),
            _("実績入電"),
            _("実績人数"),
            _("呼量（アーラン）"),
            _("必要オペレーター（同時）"),
            _("配置人数"),
            _("サービスレベル"),
            _("稼働率"),
            _("平均応答待ち（秒）"),
            _("回線"),
            _("入電の倍率"),
            _("平均処理時間（秒）"),
        ]
    )
    for row in page.rows:
        s = row.staffing
        writer.writerow(
            [
                _csv_time(row.starts_at),
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
                round(page.aht),
            ]
        )
    return response


def _write_planned_csv(response: HttpResponse, rows: list[planning.PlannedInterval]) -> None:
    # As above: only the interval's start is text; every other column is a number.
    writer = SafeWriter(response, numeric_columns=range(1, 10))
    writer.writerow(
        [
            _("日時"),
            _("計画の発信者"),
            _("発信（掛け直し含む）"),
            _("計画の応答数"),
            _("実績入電"),
            _("予測入電"),
            _("補正係数"),
            _("必要オペレーター（同時）"),
            _("配置人数"),
            _("回線"),
        ]
    )
    for row in rows:
        writer.writerow(
            [
                _csv_time(row.starts_at),
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
