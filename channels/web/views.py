"""Resident pages: sign in, book (hold → confirm), see, change and cancel bookings.

Views parse, call one core service and render. Every core error becomes a sentence on the same
page with the input kept. Every page that can show personal data is marked never-cache, and
personal pages are addressed by a per-session token (see people.py), never by a ticket or id.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from channels.web import people
from channels.web.calendar import reservation_ics
from channels.web.forms import ChosenSlotForm, SignInForm
from channels.web.municipal import page_municipality, page_municipality_code
from channels.web.people import SignedIn
from channels.web.refusals import Explanation, explain, resident_message
from reservations.client_address import client_key
from reservations.exceptions import (
    ChangeDeadlinePassed,
    CredentialsInvalid,
    ReservationError,
    TooManyAttempts,
)
from reservations.localized import localized
from reservations.models import Reservation, Slot, Vaccine
from reservations.selectors import (
    AvailableSlot,
    BookableDay,
    bookable_day_slots,
    bookable_days,
    bookable_days_for_change,
    booking_prospects,
    public_day_list,
    reservation_list_for_resident,
    reservation_series,
    slot_timing,
)
from reservations.services.booking import (
    reservation_cancel,
    reservation_change,
    reservation_confirm,
    reservation_hold,
)
from reservations.services.credentials import resident_authenticate

# How far ahead the booking page looks; booking windows are usually 30 days or less.
BOOKING_DAYS_AHEAD = 90

NOTICES = {
    "timeout": lambda: _(
        "しばらく操作がなかったため、安全のため確認を終了しました。もう一度入力してください。"
    ),
    "signin": lambda: _("もう一度、接種券番号と生年月日を入力してください。"),
    "signedout": lambda: _("確認を終了しました。入力した情報はこの画面に残っていません。"),
    "cancelled": lambda: _("予約をキャンセルしました。"),
    "released": lambda: _("仮予約を取り消しました。"),
}


def _notice(request: HttpRequest) -> str:
    maker = NOTICES.get(request.GET.get("notice", ""))
    return maker() if maker else ""


@never_cache
def home(request: HttpRequest) -> HttpResponse:
    """Start page: sign-in, who is signed in on this browser, and open sites (no personal data)."""
    timed_out = people.idle_timeout(request.session)
    page = page_municipality_code(request)
    form = SignInForm(request.POST or None, municipality_code=page)
    error = ""
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = resident_authenticate(
                municipality_code=data["municipality"],
                ticket_number=data["ticket_number"],
                birth_date=data["birth_date"],
                # The address behind TRUSTED_PROXIES (an IPv6 client by its /64).
                client_key=client_key(request.META),
            )
        except TooManyAttempts as exc:
            error, status = str(exc.message), 429
        except CredentialsInvalid as exc:
            error = str(exc.message)
        else:
            token = people.sign_in(
                request.session,
                ticket=ticket,
                actor=data["booking_for"],
                relationship=data["relationship"],
                page=page,
            )
            return redirect("web:person", token=token)
    municipality = page_municipality(request)
    now = timezone.now()
    today = timezone.localdate(now)
    days = (
        public_day_list(
            municipality=municipality,
            date_from=today,
            date_to=today + dt.timedelta(days=14),
            now=now,
        )
        if municipality is not None
        else []
    )
    context = {
        "municipality": municipality,
        "days": days,
        "form": form,
        "error": error,
        "notice": _notice(request) if not timed_out else NOTICES["timeout"](),
        "people": people.everyone(request.session, page=page),
        # The sign-in fields' cache key: their chosen municipality is the page's.
        "page_code": page,
        "call_centre_phone": municipality.call_centre_phone if municipality else "",
        # Said before the first try, not only after a wrong one: how many, and for how long.
        "lock_after": settings.CREDENTIALS_TICKET_FAILURE_LIMIT,
        "lock_minutes": settings.CREDENTIALS_TICKET_WINDOW_MINUTES,
    }
    return render(request, "web/home.html", context, status=status)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return redirect(reverse("web:home") + "?notice=signedout")


PersonalView = Callable[..., HttpResponseBase]


def personal(view: PersonalView) -> Callable[..., HttpResponseBase]:
    """Resolve the session token to one signed-in person, or send the browser to sign in."""

    @never_cache
    @wraps(view)
    def wrapper(request: HttpRequest, token: str, **kwargs: Any) -> HttpResponseBase:
        if people.idle_timeout(request.session):
            return redirect(reverse("web:home") + "?notice=timeout")
        who = people.signed_in(request.session, token, page=page_municipality_code(request))
        if who is None:
            return redirect(reverse("web:home") + "?notice=signin")
        return view(request, who, **kwargs)

    return wrapper


def _own_reservation(who: SignedIn, code: str) -> Reservation:
    # Scoped to the signed-in resident: another person's code is simply not found.
    return get_object_or_404(
        Reservation.objects.select_related(
            "slot__operating_day__site", "vaccine", "campaign", "next_dose__slot"
        ),
        resident_id=who.ticket.resident_id,
        code=code,
    )


def _can_change(reservation: Reservation, now: dt.datetime) -> bool:
    return reservation.status == Reservation.Status.CONFIRMED and _changeable_online(
        reservation.slot, now
    )


def _changeable_online(slot: Slot, now: dt.datetime) -> bool:
    """Whether a booking of this slot may still be changed or cancelled on the web (the core's
    one rule for it, selectors.slot_timing)."""
    return slot_timing(day=slot.operating_day, starts_at=slot.starts_at, now=now).changeable_online


def _call_centre(who: SignedIn) -> str:
    return who.ticket.municipality.call_centre_phone


def _base_context(who: SignedIn) -> dict[str, Any]:
    return {"who": who, "call_centre_phone": _call_centre(who)}


@personal
def person(request: HttpRequest, who: SignedIn) -> HttpResponse:
    """This person's bookings, what can still be changed, and a way to book."""
    now = timezone.now()
    reservations = list(reservation_list_for_resident(resident=who.ticket.resident))
    second_doses = {r.next_dose_id for r in reservations if r.is_active and r.next_dose_id}
    rows = [
        {
            "reservation": r,
            "can_change": _can_change(r, now),
            # A series' later dose is cancelled with the first; alone only by the call centre.
            "can_cancel": _can_change(r, now) and r.pk not in second_doses,
        }
        for r in reservations
        if r.is_active
    ]
    past = [r for r in reservations if not r.is_active]
    context = {**_base_context(who), "rows": rows, "past": past, "notice": _notice(request)}
    return render(request, "web/person.html", context)


@personal
def forget(request: HttpRequest, who: SignedIn) -> HttpResponse:
    if request.method != "POST":
        return redirect("web:person", token=who.token)
    people.forget(request.session, who.token)
    return redirect(reverse("web:home") + "?notice=signedout")


# --- Picking a slot -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DayChoice:
    date: dt.date
    seats_left: int
    mark: str
    selected: bool
    # A booking of this day could still be changed or cancelled on the web afterwards.
    changeable_online: bool


def _option_key(day: BookableDay) -> str:
    return f"{day.campaign.pk}-{day.vaccine.pk}"


def _picker(
    days: list[BookableDay],
    params: Any,
    times_of: Callable[[BookableDay], list[AvailableSlot]],
    *,
    keep: Reservation | None = None,
) -> dict[str, Any]:
    """Narrow the choice step by step (vaccine, site, date, time) from the request's choices.
    Each step offers only values that still lead to a seat this person may book; the times are
    read for the chosen day alone. Moving `keep`, its vaccine and site are chosen already
    (the resident may still pick others)."""
    options: dict[str, str] = {}
    for day in days:
        options.setdefault(
            _option_key(day),
            _("%(vaccine)s（%(campaign)s）")
            % {"vaccine": localized(day.vaccine), "campaign": localized(day.campaign)},
        )
    option = params.get("option", "")
    if option not in options and keep is not None:
        option = f"{keep.campaign_id}-{keep.vaccine_id}"
    if option not in options:
        option = next(iter(options)) if len(options) == 1 else ""
    narrowed = [day for day in days if _option_key(day) == option] if option else []

    sites: dict[str, str] = {}
    for day in narrowed:
        sites.setdefault(str(day.site_id), localized(day, "site_name"))
    site_id = params.get("site", "")
    if site_id not in sites and keep is not None and "site" not in params:
        site_id = str(keep.slot.operating_day.site_id)
    if site_id not in sites:
        site_id = next(iter(sites)) if len(sites) == 1 else ""
    narrowed = [day for day in narrowed if str(day.site_id) == site_id]

    chosen_date = params.get("date", "")
    chosen = next((day for day in narrowed if day.date.isoformat() == chosen_date), None)
    times = times_of(chosen) if chosen is not None else []
    return {
        "options": options,
        "option": option,
        "sites": sites,
        "site_id": site_id,
        "days": [
            DayChoice(
                date=day.date,
                seats_left=day.seats_left,
                mark=day.mark,
                selected=day is chosen,
                changeable_online=day.changeable_online,
            )
            for day in narrowed
        ],
        "date": chosen_date if times else "",
        "chosen_day": times[0].slot.operating_day if times else None,
        "chosen_changeable_online": chosen is None or chosen.changeable_online,
        "times": times,
    }


def _booking_picker(
    who: SignedIn, params: Any, *, changing: Reservation | None = None
) -> dict[str, Any]:
    """The choices of the booking page (or of moving `changing` to another time): one grouped
    query for the vaccines, sites and days, one more for the times of the chosen day."""
    now = timezone.now()
    today = timezone.localdate(now)
    last = today + dt.timedelta(days=BOOKING_DAYS_AHEAD)
    if changing is None:
        days = bookable_days(resident=who.ticket.resident, date_from=today, date_to=last, now=now)
    else:
        days = bookable_days_for_change(
            reservation=changing, date_from=today, date_to=last, now=now
        )
    return _picker(
        days,
        params,
        lambda day: bookable_day_slots(
            day=day,
            municipality=who.ticket.resident.municipality,
            now=now,
            exclude_slot_id=changing.slot_id if changing is not None else None,
        ),
        keep=changing,
    )


@personal
def book(request: HttpRequest, who: SignedIn) -> HttpResponse:
    """Pick a time and hold it; the seat stays held while the resident confirms.

    The hold POST goes straight to the core, which checks every rule; the choices are read
    only to show the page again with its error."""
    error = ""
    if request.method == "POST":
        chosen = ChosenSlotForm(request.POST, municipality_id=who.ticket.municipality_id)
        if not chosen.is_valid():
            error = chosen.first_error()
        else:
            try:
                held = reservation_hold(
                    ticket=who.ticket,
                    slot=chosen.cleaned_data["slot"],
                    requester=who.requester,
                    idempotency_key=chosen.cleaned_data["key"] or None,
                )
            except ReservationError as exc:
                error = resident_message(exc)
            else:
                return redirect("web:confirm", token=who.token, code=held.code)
    params = request.POST if request.method == "POST" else request.GET
    picker = _booking_picker(who, params)
    context = {
        **_base_context(who),
        **picker,
        # Nothing to choose: say why, vaccine by vaccine (read only then: it judges every
        # campaign again, which the page does not need when there are choices).
        "explanations": [] if picker["options"] else _explanations(who),
        "mode": "book",
        "error": error,
        "notice": _notice(request),
        "chosen_slot": request.POST.get("slot", ""),
        "key": f"web-{uuid.uuid4()}",
        "hold_minutes": settings.RESERVATION_HOLD_MINUTES,
    }
    return render(request, "web/book.html", context, status=400 if error else 200)


@personal
def confirm(request: HttpRequest, who: SignedIn, code: str) -> HttpResponse:
    """The held booking (and its paired dose) waiting for the resident's 'yes'."""
    reservation = _own_reservation(who, code)
    if reservation.status == Reservation.Status.CONFIRMED:
        return redirect("web:reservation", token=who.token, code=reservation.code)
    error = ""
    now = timezone.now()
    if request.method == "POST":
        try:
            if request.POST.get("action") == "release":
                reservation_cancel(reservation=reservation, requester=who.requester)
                return redirect(
                    reverse("web:book", kwargs={"token": who.token}) + "?notice=released"
                )
            reservation_confirm(reservation=reservation, requester=who.requester)
        except ReservationError as exc:
            error = resident_message(exc)
        else:
            return redirect(
                reverse("web:reservation", kwargs={"token": who.token, "code": reservation.code})
                + "?notice=booked"
            )
    expired = reservation.status != Reservation.Status.HELD or (
        reservation.held_until is not None and reservation.held_until <= now
    )
    context = {
        **_base_context(who),
        "reservation": reservation,
        "series": reservation_series(reservation),
        "expired": expired,
        "changeable_online": _changeable_online(reservation.slot, now),
        "error": error,
        "hold_minutes": settings.RESERVATION_HOLD_MINUTES,
    }
    return render(request, "web/confirm.html", context, status=400 if error else 200)


@personal
def reservation_detail(request: HttpRequest, who: SignedIn, code: str) -> HttpResponse:
    reservation = _own_reservation(who, code)
    now = timezone.now()
    notice = {
        "booked": _("予約が確定しました。"),
        "changed": _("予約を変更しました。"),
    }.get(request.GET.get("notice", ""), "")
    is_second = Reservation.objects.filter(
        next_dose=reservation, status__in=Reservation.ACTIVE_STATUSES
    ).exists()
    context = {
        **_base_context(who),
        "reservation": reservation,
        "series": reservation_series(reservation),
        "can_change": _can_change(reservation, now),
        "can_cancel": _can_change(reservation, now) and not is_second,
        "notice": notice,
    }
    return render(request, "web/reservation.html", context)


@personal
def change(request: HttpRequest, who: SignedIn, code: str) -> HttpResponse:
    """Move a confirmed booking to another time, in two steps: the chosen time is read back
    beside the booking it replaces, and only "変更を確定する" moves it (the core does that
    atomically). The vaccine and site are kept unless the resident picks others."""
    reservation = _own_reservation(who, code)
    now = timezone.now()
    if not _can_change(reservation, now):
        error = str(ChangeDeadlinePassed.default_message)
        context = {**_base_context(who), "reservation": reservation, "error": error}
        return render(request, "web/too_late.html", context, status=400)
    error = ""
    if request.method == "POST":
        chosen = ChosenSlotForm(request.POST, municipality_id=who.ticket.municipality_id)
        if not chosen.is_valid():
            error = chosen.first_error()
        elif request.POST.get("action") != "confirm":
            return _change_read_back(request, who, reservation, chosen.cleaned_data["slot"], now)
        else:
            try:
                changed = reservation_change(
                    reservation=reservation,
                    slot=chosen.cleaned_data["slot"],
                    requester=who.requester,
                )
            except ReservationError as exc:
                error = resident_message(exc)
            else:
                return redirect(
                    reverse("web:reservation", kwargs={"token": who.token, "code": changed.code})
                    + "?notice=changed"
                )
    picker = _booking_picker(
        who, request.POST if request.method == "POST" else request.GET, changing=reservation
    )
    context = {
        **_base_context(who),
        **picker,
        "mode": "change",
        "reservation": reservation,
        "error": error,
        "chosen_slot": request.POST.get("slot", ""),
    }
    return render(request, "web/book.html", context, status=400 if error else 200)


@dataclass(frozen=True)
class ProposedTime:
    """The time a booking would move to, shaped like a booking for the summary template."""

    slot: Slot
    dose_number: int

    @property
    def vaccine(self) -> Vaccine:
        return self.slot.operating_day.vaccine


def _change_read_back(
    request: HttpRequest, who: SignedIn, reservation: Reservation, slot_id: int, now: dt.datetime
) -> HttpResponse:
    """The change's confirmation step: the booking now, the time chosen, and what else moves."""
    slot = (
        Slot.objects.select_related("operating_day__site", "operating_day__vaccine")
        .filter(pk=slot_id)
        .first()
    )
    if slot is None:  # deleted since the form checked it
        return redirect("web:change", token=who.token, code=reservation.code)
    back = {key: request.POST.get(key, "") for key in ("option", "site", "date")}
    context = {
        **_base_context(who),
        "reservation": reservation,
        "proposed": ProposedTime(slot=slot, dose_number=reservation.dose_number),
        "changeable_online": _changeable_online(slot, now),
        "back": back,
        "back_query": urlencode(back),
    }
    return render(request, "web/change_confirm.html", context)


def _explanations(who: SignedIn) -> list[Explanation]:
    """Why this person can book nothing now, one vaccine at a time, for the booking page."""
    resident = who.ticket.resident
    return [
        explanation
        for prospect in booking_prospects(resident=resident, now=timezone.now())
        if (explanation := explain(prospect, resident=resident)) is not None
    ]


@personal
def cancel(request: HttpRequest, who: SignedIn, code: str) -> HttpResponse:
    """Ask first: a cancelled seat goes to someone else at once and cannot be given back."""
    reservation = _own_reservation(who, code)
    error = ""
    if request.method == "POST":
        try:
            reservation_cancel(reservation=reservation, requester=who.requester)
        except ReservationError as exc:
            error = resident_message(exc)
        else:
            return redirect(
                reverse("web:person", kwargs={"token": who.token}) + "?notice=cancelled"
            )
    context = {
        **_base_context(who),
        "reservation": reservation,
        "series": reservation_series(reservation),
        "error": error,
        "allowed": _can_change(reservation, timezone.now()),
    }
    return render(request, "web/cancel.html", context, status=400 if error else 200)


@personal
def calendar_file(request: HttpRequest, who: SignedIn, code: str) -> HttpResponse:
    reservation = _own_reservation(who, code)
    response = HttpResponse(
        reservation_ics(reservation, host=request.get_host()), content_type="text/calendar"
    )
    response["Content-Disposition"] = f'attachment; filename="yoyaku-{reservation.code}.ics"'
    return response


def health(request: HttpRequest) -> JsonResponse:
    """For load balancers: 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
