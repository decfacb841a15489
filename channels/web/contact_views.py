"""The resident's contact page: the mobile number messages go to, and SMS yes or no.

A new number is theirs only once they type the code sent to it (two pages: the number, then
the code). Each form posts back to its own page and, done, redirects with a notice, so the
pages work without JavaScript and a reload never sends a second code.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from channels.web.contact_forms import (
    SMS_YES,
    CodeForm,
    LanguageChoiceForm,
    PhoneForm,
    SmsChoiceForm,
)
from channels.web.people import SignedIn
from channels.web.views import personal
from reservations.exceptions import ReservationError
from reservations.identifiers import is_mobile_phone
from reservations.models import PhoneVerification
from reservations.services.contact import (
    CODE_LIFETIME,
    VerificationCodeExpired,
    VerificationCodeLocked,
    VerificationNotStarted,
    contact_language_set,
    contact_phone_change_confirm,
    contact_phone_change_start,
    contact_sms_set,
    phone_masked,
    phone_verification_current,
)

NOTICES = {
    "phone_changed": lambda: _(
        "携帯電話の番号を登録しました。予約の確認や前日のお知らせをSMSでお送りします。"
    ),
    "sms_on": lambda: _("SMSでお知らせを受け取る設定にしました。"),
    "sms_off": lambda: _("SMSでのお知らせを止めました。"),
    "resent": lambda: _("新しい確認コードを送りました。前に送ったコードは使えません。"),
    "language": lambda: _(
        "SMSのお知らせの言語を変えました。次のお知らせから、この言語でお送りします。"
    ),
}


def _notice(request: HttpRequest) -> str:
    maker = NOTICES.get(request.GET.get("notice", ""))
    return maker() if maker else ""


def _with_notice(name: str, who: SignedIn, notice: str) -> HttpResponse:
    return redirect(reverse(name, kwargs={"token": who.token}) + f"?notice={notice}")


def _national(e164: str) -> str:
    """The number as the resident typed it, with hyphens (090-1234-5678)."""
    number = phonenumbers.parse(e164, "JP")
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 81
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def _is_usable(verification: PhoneVerification | None) -> bool:
    return (
        verification is not None
        and verification.status == PhoneVerification.Status.PENDING
        and verification.expires_at > timezone.now()
    )


@personal
@require_http_methods(["GET", "POST"])
def contact(request: HttpRequest, who: SignedIn) -> HttpResponse:
    """The number on record (masked), a form to give a new one, SMS yes or no, and the
    language of the SMS."""
    resident = who.ticket.resident
    phone_form = PhoneForm()
    sms_form = SmsChoiceForm(initial={"sms": SMS_YES if resident.sms_consent else "no"})
    language_form = LanguageChoiceForm(initial={"language": resident.preferred_language})
    action = request.POST.get("action", "")
    if request.method == "POST" and action == "phone":
        phone_form = PhoneForm(request.POST)
        if phone_form.is_valid():
            try:
                contact_phone_change_start(
                    resident=resident,
                    phone=phone_form.cleaned_data["phone"],
                    requester=who.requester,
                )
            except ReservationError as exc:
                phone_form.add_error("phone", str(exc.message))
            else:
                return redirect("web:contact_code", token=who.token)
    elif request.method == "POST" and action == "sms":
        sms_form = SmsChoiceForm(request.POST)
        if sms_form.is_valid():
            allowed = sms_form.cleaned_data["sms"] == SMS_YES
            try:
                contact_sms_set(resident=resident, allowed=allowed, requester=who.requester)
            except ReservationError as exc:
                sms_form.add_error("sms", str(exc.message))
            else:
                return _with_notice("web:contact", who, "sms_on" if allowed else "sms_off")
    elif request.method == "POST" and action == "language":
        language_form = LanguageChoiceForm(request.POST)
        if language_form.is_valid():
            try:
                contact_language_set(
                    resident=resident,
                    language=language_form.cleaned_data["language"],
                    requester=who.requester,
                )
            except ReservationError as exc:
                language_form.add_error("language", str(exc.message))
            else:
                return _with_notice("web:contact", who, "language")
    has_mobile = bool(resident.phone) and is_mobile_phone(resident.phone)
    context: dict[str, Any] = {
        "who": who,
        "call_centre_phone": who.ticket.municipality.call_centre_phone,
        "notice": _notice(request),
        "masked": phone_masked(resident.phone),
        "has_mobile": has_mobile,
        "sms_on": has_mobile and resident.sms_consent,
        "code_waiting": _is_usable(phone_verification_current(resident=resident)),
        "phone_form": phone_form,
        "sms_form": sms_form,
        "language_form": language_form,
    }
    failed = phone_form.errors or sms_form.errors or language_form.errors
    return render(request, "web/contact.html", context, status=400 if failed else 200)


@personal
@require_http_methods(["GET", "POST"])
def contact_code(request: HttpRequest, who: SignedIn) -> HttpResponse:
    """Type the code sent to the new number; or have a new one sent."""
    resident = who.ticket.resident
    verification = phone_verification_current(resident=resident)
    if verification is None or verification.status == PhoneVerification.Status.CONFIRMED:
        return redirect("web:contact", token=who.token)
    form = CodeForm()
    error = ""
    # The code just ran out (expired, locked): the error says so, once.
    finished_now = False
    action = request.POST.get("action", "")
    if request.method == "POST" and action == "resend":
        try:
            contact_phone_change_start(
                resident=resident, phone=verification.phone, requester=who.requester
            )
        except ReservationError as exc:
            error = str(exc.message)
        else:
            return _with_notice("web:contact_code", who, "resent")
    elif request.method == "POST":
        form = CodeForm(request.POST)
        if form.is_valid():
            try:
                contact_phone_change_confirm(
                    resident=resident, code=form.cleaned_data["code"], requester=who.requester
                )
            except (VerificationCodeExpired, VerificationCodeLocked, VerificationNotStarted) as exc:
                # This code is finished: the page says so once, and offers a new one.
                error, finished_now = str(exc.message), True
                form = CodeForm()
            except ReservationError as exc:
                form.add_error("code", str(exc.message))
            else:
                return _with_notice("web:contact", who, "phone_changed")
        verification.refresh_from_db()
    context: dict[str, Any] = {
        "who": who,
        "call_centre_phone": who.ticket.municipality.call_centre_phone,
        "notice": _notice(request),
        "error": error,
        "finished_now": finished_now,
        "phone": _national(verification.phone),
        "expires_at": verification.expires_at,
        "minutes": int(CODE_LIFETIME.total_seconds() // 60),
        "usable": _is_usable(verification),
        "locked": verification.status == PhoneVerification.Status.LOCKED,
        "form": form,
    }
    failed = bool(error or form.errors)
    return render(request, "web/contact_code.html", context, status=400 if failed else 200)
