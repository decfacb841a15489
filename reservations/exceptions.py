"""The booking core's errors: one hierarchy, each with a stable machine code.

Channels map these once each (an HTML form error, a LINE reply, a JSON body). `message` is a
translatable sentence meant for the person who caused it; `detail` carries machine-readable
facts such as the earliest date that would pass.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any, cast

from django.utils import timezone
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from reservations.identifiers import format_wareki
from reservations.localized import localized

if TYPE_CHECKING:
    from reservations.models import Municipality


class ReservationError(Exception):
    """Base class. Subclasses set `code` and `default_message`."""

    code: str = "reservation_error"
    default_message: str | Promise = _("予約を処理できませんでした。")

    def __init__(
        self, message: str | Promise | None = None, *, detail: dict[str, Any] | None = None
    ) -> None:
        self.message = message if message is not None else self.default_message
        self.detail = detail or {}
        super().__init__(str(self.message))

    def __str__(self) -> str:
        return str(self.message)


# What a TooManyAttempts locked: one ticket number, or one client (an address, a LINE user).
LOCKED_TICKET = "ticket"
LOCKED_CLIENT = "client"


def _percent_lazy(message: str | Promise, params: dict[str, Any]) -> Promise:
    """`message % params`, translated when it is shown (in the reader's language), not when
    it is raised."""
    # django-stubs types lazy()'s result as the class it stands in for; it is a Promise.
    return cast(Promise, lazy(lambda: str(message) % params, str)())


def _sentences(first: str | Promise, second: str | Promise) -> Promise:
    # Translators: two sentences in a row; Japanese writes them with no space between.
    return _percent_lazy(_("%(first)s%(second)s"), {"first": first, "second": second})


def _clock(moment: dt.datetime, *, now: dt.datetime) -> str:
    """A lock's end as residents read it: 09:45, with the date when it is not today."""
    local, today = timezone.localtime(moment), timezone.localtime(now).date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%m/%d %H:%M")


def _lock_sentences(
    *,
    locked: str,
    lock_minutes: int,
    retry_after: dt.datetime,
    now: dt.datetime,
    call_centre_phone: str,
) -> Promise:
    """What is locked, for how long, until when, and where else to turn."""
    what = (
        _("この接種券番号での確認に続けて失敗したため、%(minutes)s分間ロックしました。")
        if locked == LOCKED_TICKET
        else _("この接続元からの確認に続けて失敗したため、%(minutes)s分間受け付けを停止しました。")
    )
    wait = max(1, math.ceil((retry_after - now).total_seconds() / 60))
    times = {"time": _clock(retry_after, now=now), "wait": wait, "phone": call_centre_phone}
    then = (
        _(
            "%(time)s以降（約%(wait)s分後）にもう一度お試しいただくか、"
            "コールセンター（%(phone)s）にお電話ください。"
        )
        if call_centre_phone
        else _("%(time)s以降（約%(wait)s分後）にもう一度お試しください。")
    )
    return _sentences(_percent_lazy(what, {"minutes": lock_minutes}), _percent_lazy(then, times))


class CredentialsInvalid(ReservationError):
    """Unknown ticket or wrong birth date: deliberately the same error for both.

    With `attempts_left` (the ticket number's limit, counted per number whether or not such a
    ticket exists, so it tells nothing about existence) the message also says how many more
    wrong tries lock the number and for how long; at 0 this failure has just locked it, and
    `retry_after` says until when.
    """

    code = "credentials_invalid"
    default_message = _("接種券番号または生年月日が正しくありません。接種券をご確認ください。")

    def __init__(
        self,
        *,
        attempts_left: int | None = None,
        lock_minutes: int | None = None,
        retry_after: dt.datetime | None = None,
        call_centre_phone: str = "",
        now: dt.datetime | None = None,
    ) -> None:
        self.attempts_left = attempts_left
        self.lock_minutes = lock_minutes
        self.retry_after = retry_after
        if attempts_left is None or lock_minutes is None:
            super().__init__()
            return
        detail: dict[str, Any] = {"attempts_left": attempts_left, "lock_minutes": lock_minutes}
        if attempts_left > 0 or retry_after is None:
            warning = _percent_lazy(
                ngettext_lazy(
                    "あと%(count)s回間違えると、この接種券番号は%(minutes)s分間ロックされます。",
                    "あと%(count)s回間違えると、この接種券番号は%(minutes)s分間ロックされます。",
                    attempts_left,
                ),
                {"count": attempts_left, "minutes": lock_minutes},
            )
        else:
            warning = _lock_sentences(
                locked=LOCKED_TICKET,
                lock_minutes=lock_minutes,
                retry_after=retry_after,
                now=now or timezone.now(),
                call_centre_phone=call_centre_phone,
            )
            detail |= {
                "retry_after": retry_after.isoformat(),
                "call_centre_phone": call_centre_phone,
            }
        super().__init__(_sentences(self.default_message, warning), detail=detail)


class TooManyAttempts(ReservationError):
    """A sign-in refused, right or wrong, while a limit is used up: `locked` says which
    (LOCKED_TICKET or LOCKED_CLIENT), `retry_after` when it ends, `lock_minutes` how long a
    lock lasts."""

    code = "too_many_attempts"
    default_message = _(
        "確認に続けて失敗したため、しばらく受け付けを停止しています。"
        "時間をおいてお試しいただくか、コールセンターにお電話ください。"
    )

    def __init__(
        self,
        *,
        retry_after: dt.datetime,
        lock_minutes: int,
        locked: str = LOCKED_TICKET,
        call_centre_phone: str = "",
        now: dt.datetime | None = None,
    ) -> None:
        message = _lock_sentences(
            locked=locked,
            lock_minutes=lock_minutes,
            retry_after=retry_after,
            now=now or timezone.now(),
            call_centre_phone=call_centre_phone,
        )
        super().__init__(
            message,
            detail={
                "retry_after": retry_after.isoformat(),
                "lock_minutes": lock_minutes,
                "locked": locked,
                "call_centre_phone": call_centre_phone,
            },
        )
        self.retry_after = retry_after
        self.lock_minutes = lock_minutes
        self.locked = locked


class SlotFull(ReservationError):
    code = "slot_full"
    default_message = _("申し訳ありません。この時間は満席になりました。別の時間をお選びください。")


class AlreadyBooked(ReservationError):
    code = "already_booked"
    default_message = _("この回の予約はすでにあります。予約内容をご確認ください。")

    def __init__(self, *, existing_code: str | None = None) -> None:
        # Every channel shows the message to the resident or their operator, who own the
        # booking: naming its 予約番号 tells them where to look.
        message = (
            _percent_lazy(
                _("この回の予約はすでにあります（予約番号 %(code)s）。予約内容をご確認ください。"),
                {"code": existing_code},
            )
            if existing_code
            else None
        )
        detail = {"existing_code": existing_code} if existing_code else {}
        super().__init__(message, detail=detail)
        self.existing_code = existing_code


class NotEligible(ReservationError):
    """A rule refuses the dose on that date. Names the rule and the earliest date that passes."""

    code = "not_eligible"

    def __init__(
        self,
        message: str | Promise,
        *,
        rule_code: str,
        earliest_date: dt.date | None = None,
        reason_would_allow: bool = False,
    ) -> None:
        # The rule's own sentence, before the earliest date is added: a venue says "接種できます"
        # where a booking channel says "予約できます".
        self.reason = message
        if earliest_date is not None:
            message = _("%(reason)s %(date)s（%(wareki)s）以降であれば予約できます。") % {
                "reason": message,
                "date": earliest_date.isoformat(),
                "wareki": format_wareki(earliest_date),
            }
        super().__init__(
            message,
            detail={
                "rule": rule_code,
                "earliest_date": earliest_date.isoformat() if earliest_date else None,
                "reason_would_allow": reason_would_allow,
            },
        )
        self.rule_code = rule_code
        self.earliest_date = earliest_date
        self.reason_would_allow = reason_would_allow


class BookingNotOpenYet(ReservationError):
    """Eligible, but this group's booking opens later (not the same as ineligible)."""

    code = "booking_not_open_yet"

    def __init__(self, *, rule_code: str, opens_on: dt.date) -> None:
        message = _("対象の方の予約受付は %(date)s（%(wareki)s）から始まります。") % {
            "date": opens_on.isoformat(),
            "wareki": format_wareki(opens_on),
        }
        super().__init__(message, detail={"rule": rule_code, "opens_on": opens_on.isoformat()})
        self.opens_on = opens_on


class CohortNotOpenYet(ReservationError):
    """The municipality opens booking by birth-date band, and this person's door is still shut
    (`opens_at` None: no opening has been set for their band yet)."""

    code = "cohort_not_open_yet"

    def __init__(self, *, opens_at: dt.datetime | None) -> None:
        local = timezone.localtime(opens_at) if opens_at is not None else None
        if local is None:
            message: str | Promise = _(
                "この方の年代の予約受付開始日時はまだ決まっていません。市町村からのお知らせをお待ちください。"
            )
        else:
            message = _("この方の予約受付は %(year)s年%(month)s月%(day)s日 %(time)s からです。") % {
                "year": local.year,
                "month": local.month,
                "day": local.day,
                "time": f"{local.hour}:{local.minute:02d}",
            }
        # In local time (JST), like every date the API returns.
        super().__init__(message, detail={"opens_at": local.isoformat() if local else None})
        self.opens_at = opens_at


class OpeningBlocked(ReservationError):
    """This person's door has reached its time, but the pre-opening check found errors in the
    municipality's set-up that no administrator has accepted (reservations.season_check), so
    it stays shut until they are fixed."""

    code = "opening_blocked"
    default_message = _(
        "この方の年代の予約受付は、準備の確認が終わるまで開始を見合わせています。"
        "しばらくお待ちいただくか、コールセンターにお電話ください。"
    )


class SlotOtherMunicipality(ReservationError):
    """The slot's venue belongs to another municipality than the one that issued the ticket,
    and that municipality does not accept its residents (住所地外接種,
    Municipality.accepts_residents_of). Staff cannot override it: the accepting municipality
    decides, as data. Given both municipalities, the message names them in the reader's
    language."""

    code = "slot_other_municipality"
    default_message = _(
        "この会場は別の市町村の会場のため、お持ちの接種券では予約できません。"
        "接種券を発行した市町村の会場をお選びいただくか、コールセンターにお電話ください。"
    )

    def __init__(
        self,
        *,
        slot_municipality: Municipality | None = None,
        ticket_municipality: Municipality | None = None,
    ) -> None:
        message: Promise | None = None
        detail: dict[str, Any] = {}
        if slot_municipality is not None and ticket_municipality is not None:
            template = _(
                "この会場は%(site_city)sの会場のため、%(ticket_city)sの接種券では予約できません。"
                "%(ticket_city)sの会場をお選びいただくか、コールセンターにお電話ください。"
            )

            def names_when_read() -> str:
                # In the language of whoever reads the message, not of whoever raised it.
                return str(template) % {
                    "site_city": localized(slot_municipality),
                    "ticket_city": localized(ticket_municipality),
                }

            message = cast(Promise, lazy(names_when_read, str)())
            detail = {
                "slot_municipality": slot_municipality.code,
                "ticket_municipality": ticket_municipality.code,
            }
        super().__init__(message, detail=detail)


class OutsideBookingWindow(ReservationError):
    code = "outside_booking_window"
    default_message = _(
        "この日の予約は受付期間外です。受付期間内にお申し込みいただくか、"
        "コールセンターにお電話ください。"
    )

    def __init__(
        self,
        message: str | Promise | None = None,
        *,
        opens_on: dt.date | None = None,
        closed_after: dt.date | None = None,
    ) -> None:
        super().__init__(
            message,
            detail={
                "opens_on": opens_on.isoformat() if opens_on else None,
                "closed_after": closed_after.isoformat() if closed_after else None,
            },
        )


class ChangeDeadlinePassed(ReservationError):
    code = "change_deadline_passed"
    default_message = _(
        "変更・キャンセルの受付期限を過ぎています。コールセンターにお電話ください。"
    )


class HoldExpired(ReservationError):
    code = "hold_expired"
    default_message = _(
        "仮押さえの有効時間が過ぎたため、この枠は解放されました。もう一度時間をお選びください。"
    )


class SecondDoseUnavailable(ReservationError):
    code = "second_dose_unavailable"
    default_message = _(
        "2回目の予約枠が見つからないため、セットで予約できませんでした。"
        "別の日時をお選びいただくか、コールセンターにお電話ください。"
    )


class InvalidStateTransition(ReservationError):
    code = "invalid_state"
    default_message = _("この予約はすでに変更できない状態です。")


class ReasonRequired(ReservationError):
    code = "reason_required"
    default_message = _("この操作には理由の記録が必要です。")


class IdempotencyKeyReused(ReservationError):
    code = "idempotency_key_reused"
    default_message = _("同じ受付キーで別の内容が送信されました。")


class CapacityBelowBooked(ReservationError):
    code = "capacity_below_booked"
    default_message = _("定員を予約数より少なくすることはできません。")


class VaccinationInvalid(ReservationError):
    code = "vaccination_invalid"
    default_message = _("接種記録の内容が正しくありません。")


class SecondApproverRequired(ReservationError):
    """Four eyes: the person who asked for a day's cancellation cannot approve it."""

    code = "second_approver_required"
    default_message = _("作成者とは別の職員が承認してください。")


class PermissionDenied(ReservationError):
    code = "permission_denied"
    default_message = _("この操作を行う権限がありません。")
