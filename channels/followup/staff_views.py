"""The health-centre staff screens under /followup/: the day's cohort, alerts, the call list, a
person's follow-up with its chart, the doctors' photo review, and the CSV download.

Views parse with a form, call one selector or service, and render. Every page serves the
municipality the member of staff acts for (the staff bar's switch): another municipality's
rows answer 404. Each page that shows people reports them to the audit trail once per load
(staff.people_shown); actions record who and when on the rows they change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels.followup import staff_selectors as selectors
from channels.followup.charts import vital_charts
from channels.followup.exporting import (
    export_answers,
    export_file_name,
    export_people,
    export_write,
)
from channels.followup.models import FollowUp, FollowUpPhoto
from channels.followup.photos import photo_path
from channels.followup.services import FollowUpError, followup_start_for_resident
from channels.followup.staff import (
    alert_acknowledge,
    alert_resolve,
    call_done,
    followup_end_by_staff,
    people_shown,
    photo_review,
)
from channels.followup.staff_forms import (
    CallDoneForm,
    CohortForm,
    ExportForm,
    PhotoReviewForm,
    ResolveForm,
    StartForm,
)
from reservations.models import Municipality
from reservations.staff_areas import NO_MUNICIPALITY_MESSAGE, staff_required
from reservations.staff_scope import acting_municipality

# Image types a reviewed photo is served as (what photos.photo_store writes); anything else
# is sent as a download, never rendered.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})


def _municipality(request: HttpRequest) -> Municipality:
    """The municipality the pages act for; staff_required has refused staff with none."""
    municipality = acting_municipality(request)
    if municipality is None:
        raise PermissionDenied(NO_MUNICIPALITY_MESSAGE)
    return municipality


def _first_error(form: Any) -> str:
    for errors in form.errors.values():
        return str(errors[0])
    return _("入力を確認してください。")


def _back(name: str, anchor: str = "", **kwargs: Any) -> HttpResponseRedirect:
    url = reverse(f"followup_staff:{name}", kwargs=kwargs or None)
    return HttpResponseRedirect(f"{url}#{anchor}" if anchor else url)


# --- The day's cohort and its download -----------------------------------------------------------


@staff_required("followup.view_followup")
@require_GET
def cohort(request: HttpRequest) -> HttpResponse:
    municipality = _municipality(request)
    now = timezone.now()
    form = CohortForm(request.GET or None)
    day, status = selectors.local_today(now), ""
    if form.is_bound and form.is_valid():
        day = form.cleaned_data["day"] or day
        status = form.cleaned_data["status"] or ""
    if not form.is_bound:
        # The picker shows the day listed (today on a first visit).
        form = CohortForm(initial={"day": day})
    found = selectors.cohort_day(municipality=municipality, day=day, now=now, status=status)
    people_shown(
        user=request.user,
        people=[row.person for row in found.rows],
        page="followup_cohort",
        detail={"day": day.isoformat()},
        now=now,
        request=request,
    )
    return render(
        request,
        "followup/staff_cohort.html",
        {
            "form": form,
            "cohort": found,
            "day": day,
            "status": status,
            "export_form": ExportForm(initial={"date_from": day, "date_to": day}),
            "previous_day": day - dt.timedelta(days=1),
            "next_day": day + dt.timedelta(days=1),
        },
    )


@staff_required("followup.view_followupanswer")
@require_GET
def export_csv(request: HttpRequest) -> HttpResponse:
    municipality = _municipality(request)
    form = ExportForm(request.GET)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return _back("cohort")
    date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    answers = export_answers(date_from=date_from, date_to=date_to, municipality=municipality)
    name = export_file_name(date_from=date_from, date_to=date_to, municipality=municipality)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    export_write(response, answers)
    people_shown(
        user=request.user,
        people=export_people(answers),
        page="followup_export",
        detail={"export": "followup_csv", "file": name},
        now=timezone.now(),
        request=request,
    )
    return response


# --- Alerts --------------------------------------------------------------------------------------


@staff_required("followup.view_followupanswer")
@require_GET
def alerts(request: HttpRequest) -> HttpResponse:
    municipality = _municipality(request)
    now = timezone.now()
    answers = selectors.alerts_open(municipality=municipality)
    people_shown(
        user=request.user,
        people=selectors.people_of(answers),
        page="followup_alerts",
        now=now,
        request=request,
    )
    book = selectors.QuestionBook()
    rows = [
        {
            "answer": answer,
            "person": answer.followup.person,
            "age": selectors.age_on(answer.followup.person.birth_date, answer.for_date),
            "phone": selectors.phone_display(answer.followup.person.phone),
            "messages": selectors.alert_messages(answer),
            "values": book.shown(answer.followup.questionnaire, answer.values),
        }
        for answer in answers
    ]
    return render(request, "followup/staff_alerts.html", {"rows": rows, "form": ResolveForm()})


@staff_required("followup.change_followupanswer")
@require_POST
def alert_ack(request: HttpRequest, answer_id: int) -> HttpResponse:
    answer = selectors.alert_answer(municipality=_municipality(request), pk=answer_id)
    if answer is None:
        raise Http404
    try:
        mine = alert_acknowledge(answer=answer, user=request.user, now=timezone.now())
    except FollowUpError as error:
        messages.error(request, error.message)
        return _back("alerts")
    if mine:
        messages.success(
            request,
            _("%(name)sさんのアラートを確認済みにしました。")
            % {"name": answer.followup.person.name},
        )
    else:
        messages.info(request, _("このアラートはすでにほかの職員が確認しています。"))
    return _back("alerts", f"a-{answer.pk}")


@staff_required("followup.change_followupanswer")
@require_POST
def alert_resolve_view(request: HttpRequest, answer_id: int) -> HttpResponse:
    answer = selectors.alert_answer(municipality=_municipality(request), pk=answer_id)
    if answer is None:
        raise Http404
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return _back("alerts", f"a-{answer.pk}")
    try:
        alert_resolve(
            answer=answer, user=request.user, note=form.cleaned_data["note"], now=timezone.now()
        )
    except FollowUpError as error:
        messages.error(request, error.message)
        return _back("alerts")
    messages.success(
        request,
        _("%(name)sさんのアラートを対応済みにしました。") % {"name": answer.followup.person.name},
    )
    return _back("alerts")


# --- Calls ---------------------------------------------------------------------------------------


@staff_required("followup.view_followupcall")
@require_GET
def calls(request: HttpRequest) -> HttpResponse:
    municipality = _municipality(request)
    now = timezone.now()
    open_calls = selectors.calls_open(municipality=municipality)
    done = selectors.calls_done_on(municipality=municipality, day=selectors.local_today(now))
    people_shown(
        user=request.user,
        people=selectors.people_of([*open_calls, *done]),
        page="followup_calls",
        now=now,
        request=request,
    )

    def row(call: Any) -> dict[str, Any]:
        person = call.followup.person
        return {
            "call": call,
            "person": person,
            "phone": selectors.phone_display(person.phone),
            "proxy_phone": selectors.phone_display(person.proxy_phone),
        }

    return render(
        request,
        "followup/staff_calls.html",
        {
            "open_rows": [row(call) for call in open_calls],
            "done_rows": [row(call) for call in done],
            "form": CallDoneForm(),
        },
    )


@staff_required("followup.change_followupcall")
@require_POST
def call_done_view(request: HttpRequest, call_id: int) -> HttpResponse:
    call = selectors.call_for_staff(municipality=_municipality(request), pk=call_id)
    if call is None:
        raise Http404
    form = CallDoneForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return _back("calls", f"c-{call.pk}")
    try:
        call_done(
            call=call,
            user=request.user,
            outcome=form.cleaned_data["outcome"],
            note=form.cleaned_data["note"],
            now=timezone.now(),
        )
    except FollowUpError as error:
        messages.error(request, error.message)
        return _back("calls")
    messages.success(
        request, _("%(name)sさんへの電話を記録しました。") % {"name": call.followup.person.name}
    )
    return _back("calls")


# --- One follow-up -------------------------------------------------------------------------------


def _followup(request: HttpRequest, followup_id: int) -> FollowUp:
    followup = selectors.followup_for_staff(municipality=_municipality(request), pk=followup_id)
    if followup is None:
        raise Http404
    return followup


@staff_required("followup.view_followupanswer")
@require_GET
def followup_detail(request: HttpRequest, followup_id: int) -> HttpResponse:
    followup = _followup(request, followup_id)
    now = timezone.now()
    page = selectors.followup_page(followup, now=now)
    charts = vital_charts(
        questions=page.questions,
        rules=page.rules,
        days=[(row.day, row.answer.values if row.answer else None) for row in page.days],
    )
    people_shown(
        user=request.user,
        people=[followup.person],
        page="followup_person",
        detail={"followup": followup.pk},
        now=now,
        request=request,
    )
    return render(
        request,
        "followup/staff_followup.html",
        {"page": page, "followup": followup, "person": followup.person, "charts": charts},
    )


@staff_required("followup.change_followup")
@require_http_methods(["GET", "POST"])
def followup_end_view(request: HttpRequest, followup_id: int) -> HttpResponse:
    """GET asks to confirm; POST with confirm=yes ends the follow-up (reason 職員が終了)."""
    followup = _followup(request, followup_id)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            followup_end_by_staff(followup=followup, user=request.user, now=timezone.now())
        except FollowUpError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("%(name)sさんの健康観察を終了しました。") % {"name": followup.person.name},
            )
        return _back("followup", followup_id=followup.pk)
    if followup.status == FollowUp.Status.ENDED:
        messages.info(request, _("この健康観察はすでに終了しています。"))
        return _back("followup", followup_id=followup.pk)
    people_shown(
        user=request.user,
        people=[followup.person],
        page="followup_end",
        detail={"followup": followup.pk},
        now=timezone.now(),
        request=request,
    )
    return render(request, "followup/staff_end.html", {"followup": followup})


# --- Photos --------------------------------------------------------------------------------------


def _photo(request: HttpRequest, photo_id: int) -> FollowUpPhoto:
    photo = selectors.photo_for_staff(municipality=_municipality(request), pk=photo_id)
    if photo is None:
        raise Http404
    return photo


@staff_required("followup.review_photo")
@require_GET
def photos(request: HttpRequest) -> HttpResponse:
    municipality = _municipality(request)
    now = timezone.now()
    pending = selectors.photos_pending(municipality=municipality)
    people_shown(
        user=request.user,
        people=selectors.people_of(pending),
        page="followup_photos",
        now=now,
        request=request,
    )
    rows = [
        {
            "photo": photo,
            "person": photo.followup.person,
            "age": selectors.age_on(photo.followup.person.birth_date, photo.for_date),
        }
        for photo in pending
    ]
    return render(request, "followup/staff_photos.html", {"rows": rows, "form": PhotoReviewForm()})


@staff_required("followup.review_photo")
@require_GET
def photo_image(request: HttpRequest, photo_id: int) -> FileResponse:
    photo = _photo(request, photo_id)
    try:
        path = photo_path(photo)
        handle = path.open("rb")
    except (FollowUpError, OSError):
        raise Http404 from None
    people_shown(
        user=request.user,
        people=[photo.followup.person],
        page="followup_photo",
        detail={"photo": photo.pk},
        now=timezone.now(),
        request=request,
    )
    is_image = photo.content_type in IMAGE_TYPES
    response = FileResponse(
        handle,
        content_type=photo.content_type if is_image else "application/octet-stream",
        as_attachment=not is_image,
        filename=f"photo-{photo.pk}{path.suffix}",
    )
    # A patient's test kit: never kept by a browser or a proxy on a shared desk.
    response["Cache-Control"] = "private, no-store"
    return response


@staff_required("followup.review_photo")
@require_POST
def photo_review_view(request: HttpRequest, photo_id: int) -> HttpResponse:
    photo = _photo(request, photo_id)
    form = PhotoReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return _back("photos", f"p-{photo.pk}")
    confirmed = form.cleaned_data["decision"] == PhotoReviewForm.CONFIRM
    try:
        photo_review(
            photo=photo,
            user=request.user,
            confirmed=confirmed,
            reason=form.cleaned_data["reason"],
            now=timezone.now(),
        )
    except FollowUpError as error:
        messages.error(request, error.message)
        return _back("photos")
    messages.success(
        request,
        _("%(name)sさんの写真を「確認済み」にしました。") % {"name": photo.followup.person.name}
        if confirmed
        else _("%(name)sさんの写真を「確認できない」にしました。")
        % {"name": photo.followup.person.name},
    )
    return _back("photos")


# --- Starting a follow-up for a resident -----------------------------------------------------


@staff_required("followup.add_followup")
@require_http_methods(["GET", "POST"])
def followup_start_view(request: HttpRequest) -> HttpResponse:
    """One resident picked by a member of staff, found on the ticket list by ticket number and
    birth date in the municipality acted for. Imported lists and the residents vaccinated on a
    date start from the command line (followup_import, followup_start_vaccinated)."""
    municipality = _municipality(request)
    now = timezone.now()
    form = StartForm(request.POST or None, initial={"start_date": selectors.local_today(now)})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        found = selectors.resident_by_ticket(
            municipality=municipality,
            ticket_number=data["ticket_number"],
            birth_date=data["birth_date"],
        )
        if found is None:
            form.add_error(
                None,
                _("%(city)sの接種券番号と生年月日が一致する住民が見つかりません。")
                % {"city": municipality.name},
            )
        else:
            resident, ticket = found
            try:
                started = followup_start_for_resident(
                    resident=resident,
                    questionnaire=data["questionnaire"],
                    start_date=data["start_date"],
                    days=data["days"],
                    day_offsets=data["day_offsets"],
                    ticket_number=ticket.number,
                    created_by=request.user,
                    now=now,
                )
            except FollowUpError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    _("%(name)sさんの健康観察を始めました。") % {"name": resident.name},
                )
                return _back("followup", followup_id=started.followup.pk)
    return render(request, "followup/staff_start.html", {"form": form})
