"""A resident's contact details: the phone number messages go to and the consent to SMS.

One place for every channel: the resident on the web or in LINE, an operator on the phone, a
partner system booking with a phone number, a STOP reply by SMS. Consent changes are stamped
with when and through which channel, and every change of number or consent leaves a
`ContactChange` row.

A resident who gives a number themselves proves they read SMS there: the number becomes theirs
only once they type the code sent to it (`contact_phone_change_start`, then
`contact_phone_change_confirm`). The code leaves the core through the `contact_sms_requested`
signal (the notify channel sends it after the commit); the database keeps only its keyed hash.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import math
import re
import secrets

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from reservations.exceptions import (
    PermissionDenied,
    ReservationError,
    _clock,
    _percent_lazy,
    _sentences,
)
from reservations.identifiers import (
    IdentifierError,
    is_mobile_phone,
    normalize_number_input,
    normalize_phone,
)
from reservations.models import (
    ContactChange,
    PhoneVerification,
    Reservation,
    Resident,
    Slot,
    Ticket,
)
from reservations.services.booking import Requester, reservation_book
from reservations.signals import contact_sms_requested

# What the SMS that leaves through `contact_sms_requested` is for.
SMS_VERIFICATION_CODE = "verification_code"
SMS_STOPPED = "sms_stopped"

CODE_DIGITS = 6
CODE_LIFETIME = dt.timedelta(minutes=10)
# Wrong codes a code survives; the next wrong one locks it (a new code must be sent).
CODE_MAX_WRONG = 5
# Codes sent in any hour: per resident, and per number (a family sharing one mobile number
# verifies it for each of its members; a stranger's number is not flooded).
CODE_RATE_WINDOW = dt.timedelta(hours=1)
CODES_PER_WINDOW_PER_RESIDENT = 3
CODES_PER_WINDOW_PER_PHONE = 5
# A code row outlives its use only as long as the hourly limit counts it (and a day for staff
# answering "my code never came"); then purge_expired_data deletes it. What changed stays in
# ContactChange.
VERIFICATION_KEPT_FOR = dt.timedelta(days=1)
_HASH_SALT = "madoguchi.contact.PhoneVerification"
_CODE_PATTERN = re.compile(rf"[0-9]{{{CODE_DIGITS}}}")


# --- Errors -----------------------------------------------------------------------------------
# Each a ReservationError with a stable code, so every channel maps them as it maps the rest.


class PhoneInvalid(ReservationError):
    """Not a phone number (the normaliser's own sentence says why)."""

    code = "phone_invalid"
    default_message = _("電話番号として読み取れませんでした。数字で入力してください。")


class PhoneNotMobile(ReservationError):
    code = "phone_not_mobile"
    default_message = _(
        "この番号は携帯電話の番号ではないため、SMSが届きません。"
        "070・080・090で始まる携帯電話の番号を入力してください。"
    )


class NoticeLanguageUnknown(ReservationError):
    code = "notice_language_unknown"
    default_message = _("お知らせの言語は、一覧から選んでください。")


class NoMobilePhone(ReservationError):
    code = "no_mobile_phone"
    default_message = _(
        "携帯電話の番号が登録されていないため、SMSを受け取れません。"
        "先に携帯電話の番号を登録してください。"
    )


class VerificationRateLimited(ReservationError):
    """Too many codes sent in the last hour (to this resident or to this number);
    `retry_after` is when the next one may go."""

    code = "verification_rate_limited"
    default_message = _("確認コードを続けて送ったため、いまは送れません。")

    def __init__(self, *, retry_after: dt.datetime, now: dt.datetime) -> None:
        self.retry_after = retry_after
        wait = max(1, math.ceil((retry_after - now).total_seconds() / 60))
        then = _percent_lazy(
            _("%(time)s以降（約%(wait)s分後）にもう一度お試しください。"),
            {"time": _clock(retry_after, now=now), "wait": wait},
        )
        super().__init__(
            _sentences(self.default_message, then),
            detail={"retry_after": retry_after.isoformat()},
        )


class VerificationNotStarted(ReservationError):
    code = "verification_not_started"
    default_message = _(
        "確認コードを送っていません。先に携帯電話の番号を入力して、確認コードを送ってください。"
    )


class VerificationCodeMalformed(ReservationError):
    """Not six digits: a slip of the finger, not a guess, so it is not counted."""

    code = "verification_code_malformed"
    default_message = _percent_lazy(
        _("確認コードは%(digits)sけたの数字です。SMSに書いてある数字を入力してください。"),
        {"digits": CODE_DIGITS},
    )


class VerificationCodeWrong(ReservationError):
    code = "verification_code_wrong"
    default_message = _("確認コードが違います。")

    def __init__(self, *, attempts_left: int) -> None:
        self.attempts_left = attempts_left
        warning = _percent_lazy(
            ngettext_lazy(
                "あと%(count)s回まちがえると、このコードは使えなくなります。",
                "あと%(count)s回まちがえると、このコードは使えなくなります。",
                attempts_left,
            ),
            {"count": attempts_left},
        )
        super().__init__(
            _sentences(self.default_message, warning), detail={"attempts_left": attempts_left}
        )


class VerificationCodeLocked(ReservationError):
    code = "verification_code_locked"
    default_message = _percent_lazy(
        _(
            "確認コードを%(count)s回まちがえたため、このコードは使えなくなりました。"
            "新しいコードを送ってください。"
        ),
        {"count": CODE_MAX_WRONG},
    )


class VerificationCodeExpired(ReservationError):
    code = "verification_code_expired"
    default_message = _percent_lazy(
        _("確認コードの有効期限（%(minutes)s分）が過ぎました。新しいコードを送ってください。"),
        {"minutes": int(CODE_LIFETIME.total_seconds() // 60)},
    )


# --- Reads ------------------------------------------------------------------------------------


def phone_masked(e164: str) -> str:
    """A number as residents may see it on a screen anyone might look at: the first group and
    the last four digits, the rest starred (090-****-5678; 0987-**-3456; "" for none)."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "JP")
    except phonenumbers.NumberParseException:
        return "*" * 4
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 81
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    text = phonenumbers.format_number(number, style)
    first_group = re.match(r"\+?[0-9]+", text)
    keep_from = first_group.end() if first_group else 0
    digits_seen, shown = 0, []
    total = sum(ch.isdigit() for ch in text)
    for index, ch in enumerate(text):
        if ch.isdigit():
            digits_seen += 1
            if index >= keep_from and digits_seen <= total - 4:
                ch = "*"
        shown.append(ch)
    return "".join(shown)


def phone_verification_current(*, resident: Resident) -> PhoneVerification | None:
    """The resident's latest code, unless a newer one replaced it: pending (perhaps expired),
    locked or confirmed. A read, kept beside the writes it serves, so the web and LINE ask the
    same question."""
    return (
        PhoneVerification.objects.filter(resident=resident)
        .exclude(status=PhoneVerification.Status.REPLACED)
        .order_by("-created_at", "-pk")
        .first()
    )


# --- Writes -----------------------------------------------------------------------------------


def _permission_check(requester: Requester) -> None:
    # A resident (web, LINE, an SMS reply) changes their own details, the channel having
    # signed them in; staff need update_contact (operators) or change_resident (administrators).
    if requester.staff_user is not None and not (
        requester.has_perm("reservations.update_contact")
        or requester.has_perm("reservations.change_resident")
    ):
        raise PermissionDenied()


def _contact_store(
    *,
    resident: Resident,
    requester: Requester,
    phone: str | None,
    sms_consent: bool | None,
    now: dt.datetime,
    verified: bool = False,
) -> list[str]:
    # Normalise before the lock: a bad number raises IdentifierError with nothing written.
    new_phone = None if phone is None else (normalize_phone(phone) if phone.strip() else "")
    with transaction.atomic():
        # Lock the row so two edits at once (two operators, a booking and an opt-out) cannot
        # interleave their read and write.
        current = Resident.objects.select_for_update().get(pk=resident.pk)
        changed: list[str] = []
        history: list[ContactChange] = []
        if new_phone is not None and (current.phone != new_phone or verified):
            # A verified number is recorded even when it was already the resident's: the
            # history then says it was proven.
            history.append(
                _change(current, requester, ContactChange.Kind.PHONE, now, new_phone, verified)
            )
        if new_phone is not None and current.phone != new_phone:
            current.phone = new_phone
            changed.append("phone")
        if sms_consent is not None and current.sms_consent != sms_consent:
            current.sms_consent = sms_consent
            current.sms_consent_changed_at = now
            current.sms_consent_changed_via = requester.channel
            changed += ["sms_consent", "sms_consent_changed_at", "sms_consent_changed_via"]
            kind = ContactChange.Kind.SMS_ON if sms_consent else ContactChange.Kind.SMS_OFF
            history.append(_change(current, requester, kind, now))
        if changed:
            current.save(update_fields=[*changed, "updated_at"])
        if history:
            ContactChange.objects.bulk_create(history)
    for name in ("phone", "sms_consent", "sms_consent_changed_at", "sms_consent_changed_via"):
        setattr(resident, name, getattr(current, name))
    return changed


def _change(
    resident: Resident,
    requester: Requester,
    kind: str,
    now: dt.datetime,
    phone: str = "",
    verified: bool = False,
) -> ContactChange:
    return ContactChange(
        resident=resident,
        kind=kind,
        phone=phone,
        verified=verified,
        channel=requester.channel,
        actor=requester.actor,
        actor_user=requester.staff_user,
        created_at=now,
    )


def resident_contact_update(
    *,
    resident: Resident,
    requester: Requester,
    phone: str | None = None,
    sms_consent: bool | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Store a typed phone number (any Japanese notation; empty clears it) and/or the SMS
    consent; None leaves a value as it is. Returns the names of the fields that changed.

    Staff need the change-resident permission; a resident (web, LINE) changes their own
    details, the channel having signed them in. Raises IdentifierError for a bad number.
    Messages already queued are checked against the consent again just before sending."""
    _permission_check(requester)
    return _contact_store(
        resident=resident,
        requester=requester,
        phone=phone,
        sms_consent=sms_consent,
        now=now or timezone.now(),
    )


def reservation_book_with_contact(
    *,
    ticket: Ticket,
    slot: Slot | int,
    requester: Requester,
    phone: str | None = None,
    sms_consent: bool | None = None,
    dose_number: int | None = None,
    book_next_dose: bool = True,
    idempotency_key: str | None = None,
    now: dt.datetime | None = None,
) -> Reservation:
    """Book (confirmed at once) and keep the contact details given with the booking, together:
    a refused booking leaves the resident's phone and consent as they were. The permission to
    book covers the details given with it."""
    keeps_contact = phone is not None or sms_consent is not None
    if phone:
        phone = normalize_phone(phone)
    # With nothing to keep, the booking's own transaction is all there is (no outer one, no
    # resident lock: three round trips fewer for a partner system that sends no contact).
    with transaction.atomic() if keeps_contact else contextlib.nullcontext():
        reservation = reservation_book(
            ticket=ticket,
            slot=slot,
            requester=requester,
            dose_number=dose_number,
            book_next_dose=book_next_dose,
            idempotency_key=idempotency_key,
            now=now,
        )
        if keeps_contact:
            _contact_store(
                resident=ticket.resident,
                requester=requester,
                phone=phone or None,
                sms_consent=sms_consent,
                now=now or timezone.now(),
            )
    return reservation


def _mobile_number(phone: str) -> str:
    try:
        e164 = normalize_phone(phone)
    except IdentifierError as error:
        raise PhoneInvalid(error.message) from None
    if not is_mobile_phone(e164):
        raise PhoneNotMobile()
    return e164


def _code_hash(*, resident_id: int, phone: str, code: str) -> str:
    # Keyed with SECRET_KEY: six digits are a million guesses, which an unkeyed hash in a
    # backup would give away at once.
    value = f"{resident_id}:{phone}:{code}"
    return salted_hmac(_HASH_SALT, value, algorithm="sha256").hexdigest()


def _codes_left_check(*, resident_id: int, phone: str, now: dt.datetime) -> None:
    """Refuse a code when this resident, or this number, has had its hourly share."""
    recent = PhoneVerification.objects.filter(created_at__gt=now - CODE_RATE_WINDOW)
    for rows, limit in (
        (recent.filter(resident_id=resident_id), CODES_PER_WINDOW_PER_RESIDENT),
        (recent.filter(phone=phone), CODES_PER_WINDOW_PER_PHONE),
    ):
        sent = list(rows.order_by("-created_at").values_list("created_at", flat=True)[:limit])
        if len(sent) >= limit:
            # The next code may go once the oldest of these leaves the window.
            raise VerificationRateLimited(retry_after=sent[-1] + CODE_RATE_WINDOW, now=now)


def contact_phone_change_start(
    *, resident: Resident, phone: str, requester: Requester, now: dt.datetime | None = None
) -> PhoneVerification:
    """Send a code by SMS to `phone` (any Japanese notation); the number becomes the
    resident's when they type the code back (`contact_phone_change_confirm`). A newer code
    replaces an older one.

    Raises PhoneInvalid, PhoneNotMobile (SMS cannot reach it) or VerificationRateLimited,
    with nothing written."""
    _permission_check(requester)
    now = now or timezone.now()
    e164 = _mobile_number(phone)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    with transaction.atomic():
        # Lock the resident: two requests at once must not both pass the hourly limit. The
        # limit per number is not locked (two residents sharing a number, at the same moment,
        # may get one code more than it allows), which is fine for its purpose.
        current = Resident.objects.select_for_update().get(pk=resident.pk)
        _codes_left_check(resident_id=current.pk, phone=e164, now=now)
        PhoneVerification.objects.filter(
            resident=current, status=PhoneVerification.Status.PENDING
        ).update(status=PhoneVerification.Status.REPLACED)
        verification = PhoneVerification.objects.create(
            resident=current,
            phone=e164,
            code_hash=_code_hash(resident_id=current.pk, phone=e164, code=code),
            channel=requester.channel,
            actor=requester.actor,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
        contact_sms_requested.send(
            sender=PhoneVerification,
            resident=current,
            phone=e164,
            purpose=SMS_VERIFICATION_CODE,
            code=code,
            expires_at=verification.expires_at,
        )
    return verification


def contact_phone_change_confirm(
    *, resident: Resident, code: str, requester: Requester, now: dt.datetime | None = None
) -> PhoneVerification:
    """Check the code the resident typed against their latest one. Right: the number becomes
    theirs with SMS allowed, recorded as verified, and the code is used up (returned
    confirmed; `resident` is updated in place). Wrong: the try is counted (committed) and
    VerificationCodeWrong says how many are left; the last one locks the code.

    Raises VerificationCodeMalformed (not six digits: not counted), VerificationNotStarted,
    VerificationCodeExpired, VerificationCodeWrong or VerificationCodeLocked."""
    _permission_check(requester)
    now = now or timezone.now()
    typed = "".join(ch for ch in normalize_number_input(code) if ch not in " -")
    if not _CODE_PATTERN.fullmatch(typed):
        raise VerificationCodeMalformed()
    failure: ReservationError | None = None
    with transaction.atomic():
        # The resident's lock orders tries: two at once cannot both be the fifth.
        current = Resident.objects.select_for_update().get(pk=resident.pk)
        verification = phone_verification_current(resident=current)
        Status = PhoneVerification.Status
        if verification is None or verification.status == Status.CONFIRMED:
            raise VerificationNotStarted()
        if verification.status == Status.LOCKED:
            raise VerificationCodeLocked()
        if verification.expires_at <= now:
            raise VerificationCodeExpired()
        expected = _code_hash(resident_id=current.pk, phone=verification.phone, code=typed)
        if not hmac.compare_digest(expected, verification.code_hash):
            verification.wrong_attempts += 1
            left = CODE_MAX_WRONG - verification.wrong_attempts
            if left <= 0:
                verification.status = Status.LOCKED
                failure = VerificationCodeLocked()
            else:
                failure = VerificationCodeWrong(attempts_left=left)
            verification.save(update_fields=["wrong_attempts", "status"])
        else:
            verification.status = Status.CONFIRMED
            verification.confirmed_at = now
            verification.save(update_fields=["status", "confirmed_at"])
            _contact_store(
                resident=current,
                requester=requester,
                phone=verification.phone,
                sms_consent=True,
                now=now,
                verified=True,
            )
    # Raised after the commit, so the wrong try stays counted.
    if failure is not None:
        raise failure
    for name in ("phone", "sms_consent", "sms_consent_changed_at", "sms_consent_changed_via"):
        setattr(resident, name, getattr(current, name))
    return verification


def contact_sms_set(
    *,
    resident: Resident,
    allowed: bool,
    requester: Requester,
    now: dt.datetime | None = None,
) -> bool:
    """Let the resident hear from us by SMS, or stop it. Returns whether anything changed.
    Turning SMS on needs a mobile number on record (NoMobilePhone otherwise). Messages
    already queued are checked against the consent again just before sending."""
    _permission_check(requester)
    if allowed and not (resident.phone and is_mobile_phone(resident.phone)):
        raise NoMobilePhone()
    changed = _contact_store(
        resident=resident,
        requester=requester,
        phone=None,
        sms_consent=allowed,
        now=now or timezone.now(),
    )
    return bool(changed)


def notice_languages() -> list[tuple[str, str]]:
    """The languages messages can be written in (settings.LANGUAGES: 日本語, やさしい日本語,
    English), each named in itself."""
    return list(settings.LANGUAGES)


def contact_language_set(*, resident: Resident, language: str, requester: Requester) -> bool:
    """The language of this resident's SMS and reminders (LINE uses the language chosen in the
    chat). Returns whether it changed. Messages already made keep theirs."""
    _permission_check(requester)
    if language not in dict(notice_languages()):
        raise NoticeLanguageUnknown()
    changed = Resident.objects.filter(pk=resident.pk).exclude(preferred_language=language)
    if not changed.update(preferred_language=language):
        return False
    resident.preferred_language = language
    return True


def contact_sms_stop_for_phone(
    *, phone: str, requester: Requester, now: dt.datetime | None = None
) -> list[Resident]:
    """Someone replied STOP from `phone`: SMS is turned off for every resident with that
    number (a family may share one), and the number gets one SMS saying so. Returns the
    residents whose SMS was on; when none was, nothing is sent (a repeated STOP costs no
    message). Raises PhoneInvalid for a number that is not one."""
    now = now or timezone.now()
    try:
        e164 = normalize_phone(phone)
    except IdentifierError as error:
        raise PhoneInvalid(error.message) from None
    stopped: list[Resident] = []
    with transaction.atomic():
        for resident in Resident.objects.filter(phone=e164).order_by("pk"):
            if contact_sms_set(resident=resident, allowed=False, requester=requester, now=now):
                stopped.append(resident)
        if stopped:
            contact_sms_requested.send(
                sender=Resident,
                resident=stopped[0],
                phone=e164,
                purpose=SMS_STOPPED,
                code="",
                expires_at=None,
            )
    return stopped


__all__ = [
    "CODE_LIFETIME",
    "CODE_MAX_WRONG",
    "CODES_PER_WINDOW_PER_PHONE",
    "CODES_PER_WINDOW_PER_RESIDENT",
    "SMS_STOPPED",
    "SMS_VERIFICATION_CODE",
    "NoMobilePhone",
    "PhoneInvalid",
    "PhoneNotMobile",
    "VerificationCodeExpired",
    "VerificationCodeLocked",
    "VerificationCodeMalformed",
    "VerificationCodeWrong",
    "VerificationNotStarted",
    "VerificationRateLimited",
    "contact_phone_change_confirm",
    "contact_phone_change_start",
    "contact_sms_set",
    "contact_sms_stop_for_phone",
    "phone_masked",
    "phone_verification_current",
    "reservation_book_with_contact",
    "resident_contact_update",
]


def phone_verifications_purge(*, now: dt.datetime, dry_run: bool) -> int:
    """Delete codes that expired more than VERIFICATION_KEPT_FOR ago, whatever became of them
    (registered with reservations.retention)."""
    expired = PhoneVerification.objects.filter(expires_at__lt=now - VERIFICATION_KEPT_FOR)
    if dry_run:
        return expired.count()
    deleted, _by_model = expired.delete()
    return deleted
