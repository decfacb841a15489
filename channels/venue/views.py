"""Venue reception (tablet): find the booking, check in, record the outcome, close the day.

Each view parses a form, calls one core service and redirects back to the day, where a message
says what happened. Core errors arrive as ReservationError with a message written for staff.

Every page starts from a day at a site in the member of staff's scope (_day; another city's or
another clinic's day is a 404, as if it did not exist), and what hangs under a day — bookings by
code, dose records, walk-ins — is looked up through that day. Pages that show residents report
the read to the audit trail (channels/venue/services.py).
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from channels.venue.forms import (
    CorrectionForm,
    FindForm,
    LotForm,
    NoShowConfirmForm,
    OutcomeForm,
    RecordCancelForm,
)
from channels.venue.references import (
    ReferenceExpired,
    ReferenceInvalid,
    walk_in_ticket_id,
    walk_in_url,
)
from channels.venue.selectors import (
    day_list_dates,
    day_lots,
    day_records,
    day_reservations,
    history_days,
    operating_day_in_scope,
    operating_days_at,
    operating_days_on,
    record_current,
    record_day_lots,
    record_is_of_day,
    record_version,
    record_versions,
    status_counts,
    vial_count,
    walk_in_ticket,
)
from channels.venue.services import (
    close_preview_read,
    correction_page_read,
    day_list_read,
    day_page_read,
    reception_find,
    record_page_read,
)
from reservations.csv_safety import SafeWriter
from reservations.exceptions import NotEligible, ReservationError
from reservations.identifiers import IdentifierError, format_reservation_code, format_wareki
from reservations.models import Actor, Channel, OperatingDay, Reservation, Ticket, Vaccination
from reservations.selectors import no_show_candidates, vaccination_list_for_resident
from reservations.services.booking import (
    Requester,
    operating_day_mark_no_shows,
    reservation_check_in,
    reservation_mark_no_show,
    reservation_undo_no_show,
)
from reservations.services.vaccinations import (
    day_lot_add,
    vaccination_cancel,
    vaccination_correct,
    vaccination_record,
)
from reservations.staff_areas import staff_required
from reservations.staff_scope import staff_scope

staff_only = staff_required("reservations.add_vaccination")
correctors_only = staff_required("reservations.correct_vaccination")


def _requester(request: HttpRequest) -> Requester:
    return Requester(channel=Channel.COUNTER, actor=Actor.OPERATOR, user=request.user)


def _day(request: HttpRequest, day_id: int) -> OperatingDay:
    """The day every venue page works on, if it is at a site this member of staff works for;
    404 otherwise (never 403: staff of one city must not learn another's days exist)."""
    operating_day = operating_day_in_scope(day_id, scope=staff_scope(request.user))
    if operating_day is None:
        raise Http404(_("この会場・日付は見つかりません。"))
    return operating_day


def _back(day: OperatingDay, anchor: str = "") -> HttpResponse:
    url = reverse("venue:day", args=[day.pk])
    return redirect(f"{url}#{anchor}" if anchor else url)


def _without_rule_code(text: str, rule_code: str) -> str:
    """The rule's sentence without its internal id, which means nothing to staff or residents
    (the engine appends it in brackets for the audit trail and the API)."""
    for bracketed in (f"（{rule_code}）", f" ({rule_code})", f"({rule_code})"):
        text = text.replace(bracketed, "")
    return text


def _refusal_for_staff(refusal: NotEligible) -> str:
    """A walk-in or booking the rules refuse today: the rule in plain words, the first date
    that would pass, and what the desk can do now."""
    reason = _without_rule_code(str(refusal.reason), refusal.rule_code)
    if refusal.earliest_date is not None:
        when = _("%(date)s（%(wareki)s）以降であれば接種できます。") % {
            "date": refusal.earliest_date.isoformat(),
            "wareki": format_wareki(refusal.earliest_date),
        }
    else:
        when = _("今後3年以内に接種できる日はありません。")
    if refusal.reason_would_allow:
        then = _(
            "例外として接種する場合は、例外を認める権限のある職員が理由を入力して記録してください。"
        )
    else:
        then = _("接種しない場合は、結果を「予診のみ」または「接種せず」にして記録してください。")
    # Translators: sentences in a row; Japanese writes them with no space between.
    return _("本日は接種できません。%(reason)s%(when)s%(then)s") % {
        "reason": reason,
        "when": when,
        "then": then,
    }


@staff_only
def home(request: HttpRequest) -> HttpResponse:
    today, tomorrow = day_list_dates(timezone.localdate())
    scope = staff_scope(request.user)
    days = list(operating_days_on(today, scope=scope))
    if len(days) == 1:
        return _back(days[0])
    return render(
        request,
        "venue/home.html",
        {
            "days": days,
            "today": today,
            "tomorrow": tomorrow,
            "tomorrow_days": list(operating_days_on(tomorrow, scope=scope)),
        },
    )


@staff_only
def day(request: HttpRequest, day_id: int) -> HttpResponse:
    operating_day = _day(request, day_id)
    form = FindForm(request.GET or None)
    now = timezone.now()
    if form.is_valid():
        try:
            found = reception_find(
                user=request.user,
                operating_day=operating_day,
                query=form.cleaned_data["q"],
                now=now,
                request=request,
            )
        except IdentifierError as error:
            form.add_error("q", str(error.message))
        else:
            if found.reservation is not None:
                return redirect(
                    "venue:reservation", day_id=operating_day.pk, code=found.reservation.code
                )
            assert found.ticket is not None
            return redirect(walk_in_url(day_id=operating_day.pk, ticket_id=found.ticket.pk))
    today, tomorrow = day_list_dates(timezone.localdate(now))
    reservations = list(day_reservations(operating_day))
    records = list(day_records(operating_day))
    day_page_read(
        user=request.user,
        operating_day=operating_day,
        reservations=reservations,
        records=records,
        now=now,
        request=request,
    )
    return render(
        request,
        "venue/day.html",
        {
            "day": operating_day,
            "form": form,
            "reservations": reservations,
            "counts": status_counts(operating_day),
            "vials": vial_count(operating_day),
            "lots": day_lots(operating_day),
            "lot_form": LotForm(),
            "records": records,
            "now": now,
            "is_today": operating_day.date == today,
            "list_days": _list_days(operating_day, today=today, tomorrow=tomorrow),
        },
    )


def _list_days(
    operating_day: OperatingDay, *, today: dt.date, tomorrow: dt.date
) -> list[OperatingDay]:
    """The booking lists this day's page offers: this day's when it is today or tomorrow, and
    tomorrow's at the same site (every vaccine), to prepare."""
    days = [operating_day] if operating_day.date in (today, tomorrow) else []
    if operating_day.date == today:
        days += list(operating_days_at(site_id=operating_day.site_id, date=tomorrow))
    return days


def _outcome_page(
    request: HttpRequest,
    operating_day: OperatingDay,
    *,
    ticket: Ticket,
    reservation: Reservation | None,
    form: OutcomeForm,
) -> HttpResponse:
    record_page_read(
        user=request.user,
        operating_day=operating_day,
        ticket=ticket,
        reservation=reservation,
        now=timezone.now(),
        request=request,
    )
    history = list(vaccination_list_for_resident(resident=ticket.resident))
    # Each earlier dose opens its correction page through the day it was given on, when that
    # day is in scope: a record is only ever reached through its own day.
    days = history_days(history, scope=staff_scope(request.user))
    return render(
        request,
        "venue/record.html",
        {
            "day": operating_day,
            "ticket": ticket,
            "resident": ticket.resident,
            "reservation": reservation,
            "display_code": format_reservation_code(reservation.code) if reservation else "",
            "history": [(v, days.get(v.record_id)) for v in history],
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
        vaccinated = data["outcome"] == Vaccination.Outcome.VACCINATED
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
                vaccinated_at=form.vaccinated_at_or_now(),
                outcome=data["outcome"],
                # The preselected lot means nothing when no dose was given.
                lot_number=data["lot_number"] if vaccinated else "",
                doctor_name=data["doctor_name"],
                override_reason=data["override_reason"],
                copay_category=data["copay_category"],
            )
        except NotEligible as refusal:
            form.add_error(None, _refusal_for_staff(refusal))
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
    operating_day = _day(request, day_id)
    booking = get_object_or_404(day_reservations(operating_day), code=code)
    return _record(request, operating_day, ticket=booking.ticket, reservation=booking)


@staff_only
def walk_in(request: HttpRequest, day_id: int, reference: str) -> HttpResponse:
    operating_day = _day(request, day_id)
    try:
        ticket_id = walk_in_ticket_id(day_id=operating_day.pk, reference=reference)
    except ReferenceExpired:
        messages.error(
            request,
            _("この当日来場の画面は有効期限が切れました。接種券をもう一度読み取ってください。"),
        )
        return _back(operating_day)
    except ReferenceInvalid:
        raise Http404(_("この当日来場の画面は見つかりません。")) from None
    ticket = walk_in_ticket(operating_day, ticket_id)
    if ticket is None:
        raise Http404(_("この当日来場の画面は見つかりません。"))
    return _record(request, operating_day, ticket=ticket, reservation=None)


@staff_only
@require_POST
def check_in(request: HttpRequest, day_id: int, code: str) -> HttpResponse:
    operating_day = _day(request, day_id)
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
    operating_day = _day(request, day_id)
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
def mark_no_show(request: HttpRequest, day_id: int, code: str) -> HttpResponse:
    operating_day = _day(request, day_id)
    booking = get_object_or_404(day_reservations(operating_day), code=code)
    try:
        reservation_mark_no_show(reservation=booking, requester=_requester(request))
    except ReservationError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request,
            _(
                "%(name)s さんを未来院（来場なし）にしました。"
                "間違いなら「取り消す」を押してください。"
            )
            % {"name": booking.resident.name},
        )
    return _back(operating_day, f"r-{booking.code}")


@staff_only
@require_POST
def undo_no_show(request: HttpRequest, day_id: int, code: str) -> HttpResponse:
    operating_day = _day(request, day_id)
    booking = get_object_or_404(day_reservations(operating_day), code=code)
    try:
        reservation_undo_no_show(reservation=booking, requester=_requester(request))
    except ReservationError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request,
            _("%(name)s さんの来場なしを取り消し、予約に戻しました。")
            % {"name": booking.resident.name},
        )
    return _back(operating_day, f"r-{booking.code}")


@staff_only
def close_day(request: HttpRequest, day_id: int) -> HttpResponse:
    """End of day in two steps: the list of who would become a no-show, then the button that
    marks exactly them."""
    operating_day = _day(request, day_id)
    now = timezone.now()
    candidates = list(no_show_candidates(operating_day=operating_day, now=now))
    form = NoShowConfirmForm(request.POST or None, candidates=candidates)
    if request.method == "POST":
        if form.is_valid():
            marked = operating_day_mark_no_shows(
                operating_day=operating_day,
                requester=_requester(request),
                only=form.cleaned_data["reservation"],
            )
            messages.success(
                request, _("来場なし %(count)s 件を記録しました。") % {"count": len(marked)}
            )
            return _back(operating_day)
        # Someone checked in (or was recorded) since the preview: show the list as it is now.
        form = NoShowConfirmForm(candidates=candidates)
        messages.error(request, _("一覧が変わりました。もう一度確認してください。"))
    close_preview_read(
        user=request.user,
        operating_day=operating_day,
        candidates=candidates,
        now=now,
        request=request,
    )
    return render(
        request,
        "venue/close.html",
        {"day": operating_day, "candidates": candidates, "form": form},
    )


# --- Booking lists to print or download ---------------------------------------------------------


def _list_refused(request: HttpRequest, operating_day: OperatingDay) -> HttpResponse | None:
    if operating_day.date in day_list_dates(timezone.localdate()):
        return None
    messages.error(request, _("名簿は本日と翌日の分だけ印刷・ダウンロードできます。"))
    return _back(operating_day)


@staff_only
def day_list(request: HttpRequest, day_id: int) -> HttpResponse:
    operating_day = _day(request, day_id)
    if refused := _list_refused(request, operating_day):
        return refused
    now = timezone.now()
    rows = list(day_reservations(operating_day))
    day_list_read(
        user=request.user,
        operating_day=operating_day,
        rows=rows,
        how="print",
        now=now,
        request=request,
    )
    return render(
        request,
        "venue/day_list.html",
        {
            "day": operating_day,
            "rows": [(row, format_reservation_code(row.code)) for row in rows],
            "printed_at": now,
        },
    )


@staff_only
def day_list_csv(request: HttpRequest, day_id: int) -> HttpResponse:
    operating_day = _day(request, day_id)
    if refused := _list_refused(request, operating_day):
        return refused
    rows = list(day_reservations(operating_day))
    day_list_read(
        user=request.user,
        operating_day=operating_day,
        rows=rows,
        how="csv",
        now=timezone.now(),
        request=request,
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"venue-{operating_day.date:%Y%m%d}-{operating_day.pk}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    # A BOM so Excel on Japanese Windows opens the file as UTF-8; CRLF as Windows expects.
    response.write("\ufeff")
    writer = SafeWriter(response, lineterminator="\r\n", numeric_columns=[5])
    writer.writerow(
        [
            _("接種日"),
            _("時刻"),
            _("予約番号"),
            _("氏名"),
            _("フリガナ"),
            _("回"),
            _("ワクチン"),
            _("会場"),
            _("状態"),
            _("受付"),
        ]
    )
    for row in rows:
        writer.writerow(
            [
                operating_day.date.isoformat(),
                timezone.localtime(row.slot.starts_at).strftime("%H:%M"),
                format_reservation_code(row.code),
                row.resident.name,
                row.resident.name_kana,
                row.dose_number,
                operating_day.vaccine.name,
                operating_day.site.name,
                row.get_status_display(),
                timezone.localtime(row.checked_in_at).strftime("%H:%M")
                if row.checked_in_at
                else "",
            ]
        )
    return response


# --- Corrections (訂正) and cancellations (取消) of recorded doses -------------------------------


def _record_page(
    request: HttpRequest,
    operating_day: OperatingDay,
    record_id: uuid.UUID,
    *,
    form: CorrectionForm | None = None,
    cancel_form: RecordCancelForm | None = None,
) -> HttpResponse:
    versions = record_versions(operating_day, record_id)
    if not versions:
        raise Http404(_("この接種記録は見つかりません。"))
    correction_page_read(
        user=request.user,
        operating_day=operating_day,
        versions=versions,
        now=timezone.now(),
        request=request,
    )
    current = next((v for v in versions if v.status == Vaccination.Status.ACTIVE), None)
    may_change = current is not None and (
        not current.confirmed or request.user.has_perm("reservations.confirm_vaccination")
    )
    if current is not None and may_change:
        lots = record_day_lots(current)
        form = form or CorrectionForm(record=current, lots=lots)
        cancel_form = cancel_form or RecordCancelForm(initial={"version": current.version})
    return render(
        request,
        "venue/correct.html",
        {
            "day": operating_day,
            "versions": versions,
            "current": current,
            "latest": versions[-1],
            "may_change": may_change,
            "form": form if may_change else None,
            "cancel_form": cancel_form if may_change else None,
        },
    )


def _version(operating_day: OperatingDay, record_id: uuid.UUID, version: int) -> Vaccination:
    seen = record_version(operating_day, record_id, version)
    if seen is None:
        raise Http404(_("この接種記録は見つかりません。"))
    return seen


@correctors_only
def correct(request: HttpRequest, day_id: int, record_id: uuid.UUID) -> HttpResponse:
    operating_day = _day(request, day_id)
    if request.method != "POST":
        return _record_page(request, operating_day, record_id)
    if not record_is_of_day(operating_day, record_id):
        raise Http404(_("この接種記録は見つかりません。"))
    current = record_current(operating_day, record_id)
    if current is None:
        messages.error(request, _("この接種記録はすでに取り消されています。"))
        return redirect("venue:correct", day_id=operating_day.pk, record_id=record_id)
    form = CorrectionForm(request.POST, record=current, lots=record_day_lots(current))
    if form.is_valid():
        seen = _version(operating_day, record_id, form.cleaned_data["version"])
        try:
            successor = vaccination_correct(
                record=seen,
                requester=_requester(request),
                reason=form.cleaned_data["reason"],
                **form.changes(),
            )
        except ReservationError as error:
            form.add_error(None, str(error.message))
        else:
            messages.success(
                request,
                _("%(name)s さんの接種記録を訂正しました（第%(version)s版）。")
                % {"name": successor.resident.name, "version": successor.version},
            )
            return redirect("venue:correct", day_id=operating_day.pk, record_id=record_id)
    return _record_page(request, operating_day, record_id, form=form)


@correctors_only
@require_POST
def cancel_record(request: HttpRequest, day_id: int, record_id: uuid.UUID) -> HttpResponse:
    operating_day = _day(request, day_id)
    form = RecordCancelForm(request.POST)
    if form.is_valid():
        seen = _version(operating_day, record_id, form.cleaned_data["version"])
        try:
            cancelled = vaccination_cancel(
                record=seen,
                requester=_requester(request),
                reason=form.cleaned_data["cancel_reason"],
            )
        except ReservationError as error:
            form.add_error(None, str(error.message))
        else:
            messages.success(
                request,
                _("%(name)s さんの接種記録を取り消しました（第%(version)s版）。")
                % {"name": cancelled.resident.name, "version": cancelled.version},
            )
            return redirect("venue:correct", day_id=operating_day.pk, record_id=record_id)
    return _record_page(request, operating_day, record_id, cancel_form=form)
