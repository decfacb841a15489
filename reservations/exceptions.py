"""The booking core's errors: one hierarchy, each with a stable machine code.

Channels map these once each (an HTML form error, a LINE reply, a JSON body). `message` is a
translatable sentence meant for the person who caused it; `detail` carries machine-readable
facts such as the earliest date that would pass.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from reservations.identifiers import format_wareki


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


class CredentialsInvalid(ReservationError):
    """Unknown ticket or wrong birth date: deliberately the same error for both."""

    code = "credentials_invalid"
    default_message = _("接種券番号または生年月日が正しくありません。接種券をご確認ください。")


class TooManyAttempts(ReservationError):
    code = "too_many_attempts"
    default_message = _(
        "確認に続けて失敗したため、しばらく受け付けを停止しています。"
        "時間をおいてお試しいただくか、コールセンターにお電話ください。"
    )

    def __init__(self, *, retry_after: dt.datetime, call_centre_phone: str = "") -> None:
        message: str | Promise = self.default_message
        if call_centre_phone:
            message = _(
                "確認に続けて失敗したため、しばらく受け付けを停止しています。"
                "時間をおいてお試しいただくか、コールセンター（%(phone)s）にお電話ください。"
            ) % {"phone": call_centre_phone}
        super().__init__(
            message,
            detail={"retry_after": retry_after.isoformat(), "call_centre_phone": call_centre_phone},
        )
        self.retry_after = retry_after


class SlotFull(ReservationError):
    code = "slot_full"
    default_message = _("申し訳ありません。この時間は満席になりました。別の時間をお選びください。")


class AlreadyBooked(ReservationError):
    code = "already_booked"
    default_message = _("この回の予約はすでにあります。予約内容をご確認ください。")

    def __init__(self, *, existing_code: str | None = None) -> None:
        detail = {"existing_code": existing_code} if existing_code else {}
        super().__init__(detail=detail)
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
