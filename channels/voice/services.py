"""Placing calls, recording what the provider tells us, and freeing lines. Every function is
safe to run twice or concurrently: each write is conditional on the state it was read in.

The simultaneous-call limit is kept by the database: a call takes a line by being written with
its number (0 … VOICE_MAX_CONCURRENT_CALLS-1), and the partial unique index on (provider,
line) refuses a second open call on the same line, whichever worker writes it. No lock is
held while the provider is called.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone

from channels.voice.backends import (
    AmbiguousVoiceError,
    CallStatus,
    OutboundCall,
    PermanentVoiceError,
    TransientVoiceError,
    VoiceBackend,
    get_backend,
)
from channels.voice.flows import Reply
from channels.voice.models import VoiceCall, VoiceKeyPress
from channels.voice.selectors import lines_in_use
from channels.voice.signals import call_finished

logger = logging.getLogger(__name__)

Result = VoiceCall.Result

# How many free lines one placing tries before it says all are taken (each try that loses a
# race to another worker moves to another free line).
_LINE_TRIES = 5
# A call still open this long after its ring and talk time could have ended lost its status
# callback: the sweep asks the provider.
_STALE_MARGIN = dt.timedelta(minutes=2)


class LinesBusy(Exception):
    """Every line of the provider is in a call: nothing was placed; try again shortly."""


class AlreadyPlaced(Exception):
    """Another delivery placed this attempt first."""


@dataclass(frozen=True)
class CallRequest:
    """A call someone wants placed. `reference` is theirs (notify: the message's retry key);
    the flow named must be registered (channels.voice.flows)."""

    reference: str
    flow: str
    to_e164: str
    language: str = "ja"
    municipality_id: int | None = None
    resident_id: int | None = None


def _absolute(path: str) -> str:
    return f"{settings.VOICE_CALLBACK_BASE_URL}{path}"


def _outbound(call: VoiceCall) -> OutboundCall:
    return OutboundCall(
        reference=f"{call.reference}:{call.attempt}",
        to_e164=call.to,
        answer_url=_absolute(reverse("voice:answer", args=[call.pk])),
        status_url=_absolute(reverse("voice:status", args=[call.pk])),
        ring_seconds=settings.VOICE_RING_SECONDS,
        max_seconds=settings.VOICE_CALL_MAX_SECONDS,
        placed_at=call.placed_at,
    )


def _take_line(request: CallRequest, provider: str, attempt: int, now: dt.datetime) -> VoiceCall:
    """Write the attempt with a free line, or raise LinesBusy / AlreadyPlaced."""
    taken = lines_in_use(provider)
    free = [line for line in range(settings.VOICE_MAX_CONCURRENT_CALLS) if line not in taken]
    # Spread over the free lines so that workers racing for lines rarely pick the same one.
    random.shuffle(free)
    for line in free[:_LINE_TRIES]:
        try:
            with transaction.atomic():
                return VoiceCall.objects.create(
                    reference=request.reference,
                    attempt=attempt,
                    flow=request.flow,
                    language=request.language,
                    to=request.to_e164,
                    municipality_id=request.municipality_id,
                    resident_id=request.resident_id,
                    provider=provider,
                    line=line,
                    placed_at=now,
                )
        except IntegrityError:
            if VoiceCall.objects.filter(reference=request.reference, attempt=attempt).exists():
                raise AlreadyPlaced(request.reference) from None
            continue  # another worker took this line between our read and our write
    raise LinesBusy(provider)


def call_place(*, request: CallRequest, now: dt.datetime | None = None) -> VoiceCall:
    """Place the next attempt of `request.reference` on a free line.

    Raises LinesBusy (nothing placed), PermanentVoiceError / TransientVoiceError (the attempt
    is recorded as failed and its line freed) or AmbiguousVoiceError (the attempt keeps its
    line until `call_find_previous` or the sweep learns whether it was placed)."""
    now = now or timezone.now()
    backend = get_backend()
    last = VoiceCall.objects.filter(reference=request.reference).aggregate(n=Max("attempt"))["n"]
    call = _take_line(request, backend.name, (last or 0) + 1, now)
    try:
        provider_call_id = backend.place(_outbound(call))
    except AmbiguousVoiceError as error:
        VoiceCall.objects.filter(pk=call.pk).update(last_error=str(error)[:500])
        raise
    except (PermanentVoiceError, TransientVoiceError) as error:
        _end(call, Result.FAILED, now, error=str(error))
        raise
    VoiceCall.objects.filter(pk=call.pk, result=Result.PLACING).update(
        provider_call_id=provider_call_id, result=Result.RINGING
    )
    call.provider_call_id, call.result = provider_call_id, Result.RINGING
    return call


def call_find_previous(*, reference: str) -> VoiceCall | None:
    """After an attempt whose outcome we lost: the call placed for `reference`'s last
    attempt, if the provider placed it (recorded now if it was not); None if surely not.
    Raises TransientVoiceError when the provider cannot tell."""
    call = VoiceCall.objects.filter(reference=reference).order_by("-attempt").first()
    if call is None:
        return None
    if call.provider_call_id:
        return call
    if call.result != Result.PLACING:
        return None
    backend = _backend_for(call)
    provider_call_id = backend.find_placed(_outbound(call))
    if provider_call_id is None:
        _end(call, Result.FAILED, timezone.now(), error="not placed")
        return None
    VoiceCall.objects.filter(pk=call.pk, result=Result.PLACING).update(
        provider_call_id=provider_call_id, result=Result.RINGING
    )
    call.refresh_from_db()
    return call


def _backend_for(call: VoiceCall) -> VoiceBackend:
    backend = get_backend()
    if backend.name != call.provider:
        # VOICE_BACKEND changed while this call was open: its provider is asked by its name.
        backend = get_backend(call.provider)
    return backend


def call_answered(*, call: VoiceCall, answered_by: str, now: dt.datetime | None = None) -> None:
    """The provider fetched the call's first words: someone (or a machine, `answered_by`)
    answered. The call stays open either way until its end (`call_status_record`), which
    makes a machine's call `machine`."""
    now = now or timezone.now()
    VoiceCall.objects.filter(pk=call.pk, result__in=VoiceCall.OPEN_RESULTS).update(
        result=Result.IN_PROGRESS, answered_by=answered_by[:30], answered_at=now
    )
    call.refresh_from_db()


def answered_by_machine(answered_by: str) -> bool:
    """Twilio's AnsweredBy for an answering machine or a fax (machine_start,
    machine_end_beep, machine_end_silence, machine_end_other, fax)."""
    return answered_by.startswith("machine") or answered_by == "fax"


_FINAL = {
    "busy": Result.BUSY,
    "no-answer": Result.NO_ANSWER,
    "failed": Result.FAILED,
    "canceled": Result.FAILED,
}


def call_status_record(
    *,
    call: VoiceCall,
    status: CallStatus,
    provider_call_id: str = "",
    now: dt.datetime | None = None,
) -> bool:
    """The provider says how the call ended. Frees its line and tells the caller's app
    (`call_finished`), once: a repeated or late callback changes nothing. Returns whether
    this one ended the call. Statuses that are not an end (ringing, in-progress) are ignored."""
    now = now or timezone.now()
    if status.status == "completed":
        answered_by = status.answered_by or call.answered_by
        result = Result.MACHINE if answered_by_machine(answered_by) else Result.ANSWERED
    elif status.status in _FINAL:
        result = _FINAL[status.status]
    else:
        return False
    return _end(
        call,
        result,
        now,
        duration=status.duration_seconds,
        provider_call_id=provider_call_id,
        answered_by=status.answered_by,
    )


def _end(
    call: VoiceCall,
    result: str,
    now: dt.datetime,
    *,
    duration: int = 0,
    error: str = "",
    provider_call_id: str = "",
    answered_by: str = "",
) -> bool:
    changes: dict[str, object] = {
        "result": result,
        "line": None,
        "ended_at": now,
        "duration_seconds": max(0, duration),
    }
    if error:
        changes["last_error"] = error[:500]
    if provider_call_id and not call.provider_call_id:
        changes["provider_call_id"] = provider_call_id
    if answered_by:
        changes["answered_by"] = answered_by[:30]
    with transaction.atomic():
        # Conditional on the call still being open: of two callbacks, one ends it.
        ended = VoiceCall.objects.filter(pk=call.pk, result__in=VoiceCall.OPEN_RESULTS).update(
            **changes
        )
        if not ended:
            return False
        call.refresh_from_db()
        call_finished.send(sender=VoiceCall, call=call)
    return True


def key_press_record(
    *, call: VoiceCall, step: str, digits: str, reply: Reply, now: dt.datetime | None = None
) -> VoiceKeyPress:
    return VoiceKeyPress.objects.create(
        call=call,
        step=step[:40],
        digits=digits[:20],
        action=reply.action,
        detail=reply.detail[:200],
        pressed_at=now or timezone.now(),
    )


def lines_sweep(*, now: dt.datetime | None = None) -> int:
    """Calls open long after they must have ended (a status callback lost, a worker killed
    while placing): ask the provider and end them, freeing their lines. Returns how many
    ended."""
    now = now or timezone.now()
    stale_before = (
        now
        - dt.timedelta(seconds=settings.VOICE_RING_SECONDS + settings.VOICE_CALL_MAX_SECONDS)
        - _STALE_MARGIN
    )
    ended = 0
    for call in VoiceCall.objects.filter(
        result__in=VoiceCall.OPEN_RESULTS, placed_at__lt=stale_before
    ).order_by("pk")[:500]:
        try:
            if not call.provider_call_id:
                found = call_find_previous(reference=call.reference)
                if found is None or found.pk != call.pk:
                    ended += 1
                    continue
                call = found
            status = _backend_for(call).status(call.provider_call_id)
        except TransientVoiceError as error:
            logger.warning("voice: cannot ask about call %s: %s", call.pk, error)
            continue
        if status is None:
            status = CallStatus("failed")
        if call_status_record(call=call, status=status, now=now):
            ended += 1
    return ended


def voice_calls_purge(*, now: dt.datetime, dry_run: bool) -> int:
    """Forget who was called and what they pressed on calls placed more than
    RETENTION_VOICE_CALL_DAYS ago: the number and the resident are emptied and the key presses
    deleted; the call's municipality, day, result and length stay for the cost figures.
    (Registered with reservations.retention in VoiceConfig.ready.)"""
    cutoff = now - dt.timedelta(days=settings.RETENTION_VOICE_CALL_DAYS)
    # Not yet forgotten: a number, a resident or a key press left.
    expired = VoiceCall.objects.filter(placed_at__lt=cutoff).filter(
        ~Q(to="") | Q(resident__isnull=False) | Q(keys__isnull=False)
    )
    # Open calls are the sweep's to end first; a call this old is never open for long.
    expired = expired.exclude(result__in=VoiceCall.OPEN_RESULTS).distinct()
    if dry_run:
        return expired.count()
    ids = list(expired.values_list("pk", flat=True))
    with transaction.atomic():
        VoiceKeyPress.objects.filter(call_id__in=ids).delete()
        VoiceCall.objects.filter(pk__in=ids).update(to="", resident=None)
    return len(ids)
