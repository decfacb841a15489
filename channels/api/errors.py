"""One error shape for the whole API: {"code": ..., "message": ..., "detail": {...}}.

`code` is stable and machine-readable (the booking core's codes, plus a few of the API's own);
`message` is a sentence in the language of Accept-Language; `detail` carries facts such as the
rule that refused a dose and the earliest date that would pass, or the errors per field.
"""

from __future__ import annotations

import math
from typing import Any

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from reservations import exceptions as core

# HTTP status per core error code. Anything not listed is a 422: the request was understood
# but the booking rules refuse it.
CORE_STATUS: dict[str, int] = {
    core.CredentialsInvalid.code: status.HTTP_404_NOT_FOUND,
    core.TooManyAttempts.code: status.HTTP_429_TOO_MANY_REQUESTS,
    core.SlotFull.code: status.HTTP_409_CONFLICT,
    core.AlreadyBooked.code: status.HTTP_409_CONFLICT,
    core.SecondDoseUnavailable.code: status.HTTP_409_CONFLICT,
    core.HoldExpired.code: status.HTTP_409_CONFLICT,
    core.InvalidStateTransition.code: status.HTTP_409_CONFLICT,
    core.PermissionDenied.code: status.HTTP_403_FORBIDDEN,
    core.NotEligible.code: status.HTTP_422_UNPROCESSABLE_ENTITY,
    core.BookingNotOpenYet.code: status.HTTP_422_UNPROCESSABLE_ENTITY,
    core.OutsideBookingWindow.code: status.HTTP_422_UNPROCESSABLE_ENTITY,
    core.ChangeDeadlinePassed.code: status.HTTP_422_UNPROCESSABLE_ENTITY,
    # A rule refusal like the window's: no retry or wait changes it, only another slot.
    core.SlotOtherMunicipality.code: status.HTTP_422_UNPROCESSABLE_ENTITY,
    core.IdempotencyKeyReused.code: status.HTTP_422_UNPROCESSABLE_ENTITY,
    core.VaccinationInvalid.code: status.HTTP_422_UNPROCESSABLE_ENTITY,
    core.ReasonRequired.code: status.HTTP_422_UNPROCESSABLE_ENTITY,
}

# Codes for DRF's own exceptions, whose default codes are less specific than we want.
_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "validation_error",
    exceptions.ParseError: "parse_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


class ApiError(exceptions.APIException):
    """An error of the API itself (not of the booking core), in the common shape."""

    def __init__(
        self, *, status_code: int, code: str, message: Any, detail: dict[str, Any] | None = None
    ) -> None:
        super().__init__(detail=str(message), code=code)
        self.status_code = status_code
        self.error_code = code
        self.message = message
        self.extra = detail or {}


def error_body(code: str, message: Any, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": str(message), "detail": detail or {}}


def _retry_after_seconds(core_error: core.TooManyAttempts) -> int:
    return max(1, math.ceil((core_error.retry_after - timezone.now()).total_seconds()))


def _core_response(error: core.ReservationError) -> Response:
    status_code = CORE_STATUS.get(error.code, status.HTTP_422_UNPROCESSABLE_ENTITY)
    detail = error.detail
    if isinstance(error, core.TooManyAttempts):
        # The same wait in the body as in the header, as for the API's own rate limit.
        detail = {**detail, "retry_after_seconds": _retry_after_seconds(error)}
    response = Response(error_body(error.code, error.message, detail), status=status_code)
    if isinstance(error, core.TooManyAttempts):
        response["Retry-After"] = str(detail["retry_after_seconds"])
    return response


def _drf_code(error: exceptions.APIException) -> str:
    for kind, code in _DRF_CODES.items():
        if isinstance(error, kind):
            return code
    return str(error.default_code)


def _drf_message(error: exceptions.APIException, code: str) -> Any:
    if isinstance(error, exceptions.ValidationError):
        return _("入力内容に誤りがあります。")
    if isinstance(error, exceptions.Throttled):
        return _("リクエストが多すぎます。しばらくしてからお試しください。")
    detail = error.detail
    if isinstance(detail, str):
        return detail
    return error.default_detail


def _field_errors(detail: Any) -> dict[str, Any]:
    """Validation errors per field, as lists of plain strings (nested serializers nest)."""
    if isinstance(detail, dict):
        return {str(name): _plain(value) for name, value in detail.items()}
    return {"non_field_errors": _plain(detail)}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)


def _only_missing_rows(codes: Any) -> bool:
    """Whether every error of a validation error is a related field's does_not_exist."""
    if isinstance(codes, dict):
        return bool(codes) and all(_only_missing_rows(v) for v in codes.values())
    if isinstance(codes, list):
        return bool(codes) and all(_only_missing_rows(v) for v in codes)
    return isinstance(codes, str) and codes == "does_not_exist"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error the API returns goes through here."""
    if isinstance(exc, core.ReservationError):
        return _core_response(exc)
    if isinstance(exc, ApiError):
        return Response(error_body(exc.error_code, exc.message, exc.extra), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    # DRF's handler sets WWW-Authenticate and Retry-After and rolls back the atomic block.
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    code = _drf_code(exc)
    detail: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError) and _only_missing_rows(exc.get_codes()):
        # Well-formed ids of no row (a slot, a site, a vaccine code): the schema can state the
        # form of an id but not which exist, so this is the 404 it promises, with the fields.
        response.status_code = status.HTTP_404_NOT_FOUND
        response.data = error_body(
            "not_found", _("指定されたものが見つかりません。"), _field_errors(exc.detail)
        )
        return response
    if isinstance(exc, exceptions.ValidationError):
        detail = _field_errors(exc.detail)
    elif isinstance(exc, exceptions.Throttled) and getattr(exc, "wait", None) is not None:
        detail = {"retry_after_seconds": math.ceil(exc.wait)}  # type: ignore[attr-defined]
    response.data = error_body(code, _drf_message(exc, code), detail)
    return response
