"""The Idempotency-Key header: the same key and body get the first answer again.

A request claims (user, key) by inserting an IdempotentRequest row before it runs; the unique
constraint lets exactly one of several concurrent duplicates in. The others wait a moment for
its answer, then replay it, or answer 409 request_in_progress. A different body under a used
key is 422 idempotency_key_reused. Answers that a retry should not repeat (429, 5xx) are not
kept: the claim is released so the retry runs again. A claim left behind by a crashed process
can be taken over after API_IDEMPOTENCY_STALE_SECONDS; the booking core's own idempotency key
(derived from this one) then returns the booking the crashed request made, never a second one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from channels.api.errors import ApiError
from channels.api.models import IdempotentRequest
from reservations.exceptions import IdempotencyKeyReused

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,80}")
# How long a duplicate waits for the first request's answer before it says "in progress".
WAIT_SECONDS = 2.0
POLL_SECONDS = 0.05


def request_key(request: Request) -> str | None:
    """The header's key, or None when absent. A malformed key is a 400."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY_PATTERN.fullmatch(key):
        raise ApiError(
            status_code=status.HTTP_400_BAD_REQUEST,
            code="validation_error",
            message=_("入力内容に誤りがあります。"),
            detail={HEADER: [str(_("受付キーは1〜80文字の英数字・記号で指定してください。"))]},
        )
    return key


def core_key(request: Request, key: str) -> str:
    """The key handed to the booking core: unique per API user, never clashing with others."""
    return f"api:{request.user.pk}:{key}"


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, ensure_ascii=False, default=str)
    raw = f"{request.method}\n{request.path}\n{body}".encode()
    return hashlib.sha256(raw).hexdigest()


def _replay(record: IdempotentRequest) -> Response:
    assert record.response_status is not None
    return Response(json.loads(record.response_body), status=record.response_status)


def _claim(request: Request, key: str, fingerprint: str) -> IdempotentRequest | Response:
    """Our own claim row to fill in, or the answer for a duplicate."""
    user_id = request.user.pk
    assert user_id is not None  # the views that run this require a token
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            with transaction.atomic():
                return IdempotentRequest.objects.create(
                    user_id=user_id, key=key, fingerprint=fingerprint, claimed_at=timezone.now()
                )
        except IntegrityError:
            pass
        record = IdempotentRequest.objects.filter(user_id=user_id, key=key).first()
        if record is None:
            continue  # the first request gave its claim back (429, 5xx): claim it afresh
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if record.state == IdempotentRequest.State.DONE:
            return _replay(record)
        if _take_over_if_stale(record):
            return record
        if time.monotonic() >= deadline:
            raise ApiError(
                status_code=status.HTTP_409_CONFLICT,
                code="request_in_progress",
                message=_("同じ受付キーの要求を処理中です。少し待ってから再送してください。"),
                detail={"retry_after_seconds": 1},
            )
        time.sleep(POLL_SECONDS)


def _take_over_if_stale(record: IdempotentRequest) -> bool:
    """A claim older than the stale limit belongs to a request that died; take it over.
    Conditional on the old claim time, so of several retries exactly one succeeds."""
    stale_before = timezone.now() - dt.timedelta(seconds=settings.API_IDEMPOTENCY_STALE_SECONDS)
    if record.claimed_at > stale_before:
        return False
    now = timezone.now()
    taken = IdempotentRequest.objects.filter(
        pk=record.pk, state=IdempotentRequest.State.IN_PROGRESS, claimed_at=record.claimed_at
    ).update(claimed_at=now)
    record.claimed_at = now
    return taken == 1


def idempotency_keys_forget(*, older_than: dt.timedelta) -> int:
    """Delete answered keys older than `older_than` (a periodic task); returns how many."""
    cutoff = timezone.now() - older_than
    deleted, _per_model = IdempotentRequest.objects.filter(
        state=IdempotentRequest.State.DONE, finished_at__lt=cutoff
    ).delete()
    return deleted


def _keep(response: Response) -> bool:
    return response.status_code < 500 and response.status_code != status.HTTP_429_TOO_MANY_REQUESTS


def run_idempotently(
    request: Request,
    handler: Callable[[], Response],
    handle_exception: Callable[[Exception], Response],
) -> Response:
    """Run `handler` once per (user, Idempotency-Key); without the header, just run it."""
    key = request_key(request)
    if key is None:
        return handler()
    claim = _claim(request, key, _fingerprint(request))
    if isinstance(claim, Response):
        return claim
    try:
        try:
            response = handler()
        except Exception as error:  # noqa: BLE001 - turned into the API's error response
            response = handle_exception(error)
    except BaseException:
        IdempotentRequest.objects.filter(pk=claim.pk).delete()
        raise
    if not _keep(response):
        IdempotentRequest.objects.filter(pk=claim.pk).delete()
        return response
    body = JSONRenderer().render(response.data).decode()
    IdempotentRequest.objects.filter(pk=claim.pk).update(
        state=IdempotentRequest.State.DONE,
        response_status=response.status_code,
        response_body=body,
        finished_at=timezone.now(),
    )
    return response
