"""Venue reception (tablet): find the booking, check in, record the outcome, close the day.

Each view parses a form, calls one core service and redirects back to the day, where a message
says what happened. Core errors arrive as ReservationError with a message written for staff.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from channels.venue.forms import FindForm, LotForm, OutcomeForm
from channels.venue.selectors import (
    day_lots,
    day_reservations,
    find_for_reception,
    operating_days_on,
    status_counts,
    vial_count,
)
from reservations.exceptions import ReservationError
from reservations.identifiers import IdentifierError, format_reservation_code
from reservations.models import Actor, Channel, OperatingDay, Reservation, Ticket
from reservations.selectors import vaccination_list_for_resident
from reservations.services.booking import (
    Requester,
    operating_day_mark_no_shows,
    reservation_check_in,
)
from reservations.services.vaccinations import day_lot_add, vaccination_record

staff_only = permission_required("reservations.add_vaccination")


def _requester(request: HttpRequest) -> Requester:
    return Requester(channel=Channel.COUNTER, actor=Actor.OPERATOR, user=request.user)


def _day(day_id: int) -> OperatingDay:
    return get_object_or_404(
        OperatingDay.objects.select_related("site__municipality", "vaccine", "campaign__program"),
        pk=day_id,
    )


def _back(day: OperatingDay) -> HttpResponse:
    return redirect("venue:day", day_id=day.pk)


@staff_only
def home(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    days = list(operating_days_on(today))
    if len(days) == 1:
        return _back(days[0])
    return render(request, "venue/home.html", {"days": days, "today": today})


@staff_only
def day(request: HttpRequest, day_id: int) -> HttpResponse:
    operating_day = _day(day_id)
    form = FindForm(request.GET or None)
    if form.is_valid():
        try:
            found = find_for_reception(day=operating_day, query=form.cleaned_data["q"])
        except IdentifierError as error:
            form.add_error("q", str(error.message))
        else:
            if found.reservation is not None:
                return redirect(
                    "venue:reservation", day_id=operating_day.pk, code=found.reservation.code
                )
            assert found.ticket is not None
            return redirect("venue:walk_in", day_id=operating_day.pk, ticket_id=found.ticket.pk)
    return render(
        request,
        "venue/day.html",
        {
            "day": operating_day,
            "form": form,
            "reservations": day_reservations(operating_day),
            "counts": status_counts(operating_day),
            "vials": vial_count(operating_day),
            "lots": day_lots(operating_day),
            "lot_form": LotForm(),
        },
    )


def _outcome_page(
    request: HttpRequest,
    operating_day: OperatingDay,
    *,
    ticket: Ticket,
    reservation: Reservation | None,
    form: OutcomeForm,
) -> HttpResponse:
    return render(
        request,
        "venue/record.html",
        {
            "day": operating_day,
            "ticket": ticket,
            "resident": ticket.resident,
            "reservation": reservation,
            "display_code": format_reservation_code(reservation.code) if reservation else "",
            "history": vaccination_list_for_resident(resident=ticket.resident),
            "form": form,
        },
    )


def _record(
    request: HttpRequest,
    operating_day: OperatingDay,
    *,
    ticket: Ticket,
    reservation: Reservation | None,
) -> HttpResponse:
    form = OutcomeForm(request.POST or None, day=operating_day)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            vaccination_record(
                resident=ticket.resident,
                vaccine=operating_day.vaccine,
                vaccinated_on=operating_day.date,
                requester=_requester(request),
                reservation=reservation,
                ticket=ticket,
                campaign=operating_day.campaign,
                site=operating_day.site,
                vaccinated_at=form.vaccinated_at_on_day() or timezone.now(),
                outcome=data["outcome"],
                lot_number=data["lot_number"],
                doctor_name=data["doctor_name"],
                override_reason=data["override_reason"],
                copay_category=data["copay_category"],
            )
        except ReservationError as error:
            form.add_error(None, str(error.message))
        else:
            messages.success(
                request,
                _("%(name)s さんの結果を記録しました。") % {"name": ticket.resident.name},
            )
            return _back(operating_day)
    return _outcome_page(request, operating_day, ticket=ticket, reservation=reservation, form=form)


@staff_only
def reservation(request: HttpRequest, day_id: int, code: str) -> HttpResponse:
    operating_day = _day(day_id)
    booking = get_object_or_404(day_reservations(operating_day), code=code)
    return _record(request, operating_day, ticket=booking.ticket, reservation=booking)


@staff_only
def walk_in(request: HttpRequest, day_id: int, ticket_id: int) -> HttpResponse:
    operating_day = _day(day_id)
    ticket = get_object_or_404(
        Ticket.objects.select_related("resident"), pk=ticket_id, status=Ticket.Status.ISSUED
    )
    return _record(request, operating_day, ticket=ticket, reservation=None)


@staff_only
@require_POST
def check_in(request: HttpRequest, day_id: int, code: str) -> HttpResponse:
    operating_day = _day(day_id)
    booking = get_object_or_404(day_reservations(operating_day), code=code)
    try:
        reservation_check_in(reservation=booking, requester=_requester(request))
    except ReservationError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request, _("%(name)s さんを受付しました。") % {"name": booking.resident.name}
        )
    return redirect(reverse("venue:reservation", args=[operating_day.pk, booking.code]))


@staff_only
@require_POST
def add_lot(request: HttpRequest, day_id: int) -> HttpResponse:
    operating_day = _day(day_id)
    form = LotForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("ロット番号とバイアル数を確認してください。"))
        return _back(operating_day)
    try:
        lot = day_lot_add(
            operating_day=operating_day,
            lot_number=form.cleaned_data["lot_number"],
            vials_opened=form.cleaned_data["vials_opened"],
            requester=_requester(request),
        )
    except ReservationError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request,
            _("ロット %(lot)s: 開封 %(vials)s バイアル")
            % {"lot": lot.lot_number, "vials": lot.vials_opened},
        )
    return _back(operating_day)


@staff_only
@require_POST
def close_day(request: HttpRequest, day_id: int) -> HttpResponse:
    operating_day = _day(day_id)
    try:
        marked = operating_day_mark_no_shows(
            operating_day=operating_day, requester=_requester(request)
        )
    except ReservationError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request, _("来場なし %(count)s 件を記録しました。") % {"count": len(marked)}
        )
    return _back(operating_day)
