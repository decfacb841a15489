"""The call simulator: a staff page that plays the resident's telephone.

With the console backend (the embedded default) nothing is dialled: a placed call rings here.
A member of staff answers it (or lets a machine answer, or says busy / no answer) and presses
keys; the page asks the same code the provider's webhooks run (channels.voice.answering),
reads the TwiML it returns with the stand-in's reader and shows what would be said. Only with
VOICE_BACKEND=console, and only calls of the municipalities in the user's scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.views.decorators.http import require_POST

from channels.voice.answering import CallClosed, answer_twiml, keys_twiml
from channels.voice.backends import SHORT_NAMES, CallStatus, backend_path
from channels.voice.models import VoiceCall
from channels.voice.services import call_status_record
from channels.voice.twiml_reader import Gather, Pause, Say, TwimlError, read_twiml
from reservations import audit
from reservations.staff_scope import staff_scope

# A key pad, as a telephone lays it out.
KEYPAD = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"]
# What each way of not answering tells the call (the provider's words).
NOT_ANSWERED = {"busy": "busy", "no_answer": "no-answer"}


@dataclass
class Heard:
    """One TwiML answer as the page shows it: the words, then the question (if any) and what
    is said when the question gets no keys."""

    texts: list[str] = field(default_factory=list)
    step: str = ""
    finish_on_key: str = ""
    num_digits: int | None = None
    after_silence: list[str] = field(default_factory=list)
    ended: bool = False


def _allowed(request: HttpRequest) -> None:
    if backend_path() != SHORT_NAMES["console"] or not settings.VOICE_SIMULATOR:
        raise Http404("The call simulator needs VOICE_BACKEND=console and VOICE_SIMULATOR on.")
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm("voice.use_voice_simulator")):
        raise PermissionDenied


def _scoped_calls(request: HttpRequest) -> QuerySet[VoiceCall]:
    scope = staff_scope(request.user)
    return VoiceCall.objects.filter(scope.municipality_q(), provider="console")


def _said_once(verbs: list[Any]) -> list[str]:
    """The texts of a prompt said twice (texts, a pause, the same texts), once: the page says
    that the call repeats them."""
    texts: list[str] = []
    for verb in verbs:
        if isinstance(verb, Pause):
            break
        if isinstance(verb, Say):
            texts.append(verb.text)
    return texts


def _heard(document: str) -> Heard:
    heard = Heard()
    try:
        verbs = read_twiml(document)
    except TwimlError:
        heard.ended = True
        return heard
    gathers = [verb for verb in verbs if isinstance(verb, Gather)]
    if not gathers:
        heard.texts = _said_once(verbs)
        heard.ended = True
        return heard
    gather = gathers[0]
    heard.texts = _said_once(gather.prompts)
    heard.finish_on_key = gather.finish_on_key
    heard.num_digits = gather.num_digits
    try:
        heard.step = resolve(str(urlparse(gather.action or "").path)).kwargs.get("step", "")
    except Resolver404:
        heard.step = ""
    # What is said when the question gets no keys: the Says after the Gather.
    after = verbs[verbs.index(gather) + 1 :]
    heard.after_silence = [verb.text for verb in after if isinstance(verb, Say)]
    heard.ended = not heard.step
    return heard


def _finish(call: VoiceCall, status: str) -> None:
    duration = 0
    if call.answered_at is not None:
        duration = max(1, int((timezone.now() - call.answered_at).total_seconds()))
    call_status_record(call=call, status=CallStatus(status, duration), now=timezone.now())


def _audit(request: HttpRequest, call: VoiceCall) -> None:
    if call.resident_id is None:
        return
    audit.personal_data_shown(
        user=request.user,
        channel=audit.VOICE,
        reads=[audit.ReadOf(resident_id=call.resident_id, municipality_id=call.municipality_id)],
        detail={"page": "voice_simulator", "call": call.pk},
        now=timezone.now(),
        request=request,
    )


@login_required
def calls(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    scoped = _scoped_calls(request)
    ringing = list(scoped.filter(result=VoiceCall.Result.RINGING).order_by("placed_at", "pk")[:50])
    recent = list(
        scoped.exclude(result__in=VoiceCall.OPEN_RESULTS)
        .prefetch_related("keys")
        .order_by("-placed_at", "-pk")[:20]
    )
    return render(request, "voice/simulator.html", {"ringing": ringing, "recent": recent})


@login_required
@require_POST
def play(request: HttpRequest, call_id: int) -> HttpResponse:
    """One move on the telephone: answer (as a person or a machine), refuse (busy, no
    answer), press keys at a question, or let a question go unanswered."""
    _allowed(request)
    call = get_object_or_404(_scoped_calls(request), pk=call_id)
    move = request.POST.get("move", "")
    heard = Heard(ended=True)
    try:
        if move in ("answer", "machine"):
            answered_by = "human" if move == "answer" else "machine_end_beep"
            heard = _heard(answer_twiml(call, answered_by=answered_by))
        elif move == "keys":
            digits = request.POST.get("digits", "").strip()
            heard = _heard(keys_twiml(call, step=request.POST.get("step", ""), digits=digits))
        elif move == "silence":
            heard = Heard(texts=request.POST.getlist("after"), ended=True)
        elif move in NOT_ANSWERED:
            _finish(call, NOT_ANSWERED[move])
            return redirect("voice:simulator")
        else:
            return redirect("voice:simulator")
    except CallClosed:
        heard = Heard(ended=True)
    call.refresh_from_db()
    if heard.ended and call.is_open:
        _finish(call, "completed")
        call.refresh_from_db()
    _audit(request, call)
    return render(
        request, "voice/simulator_call.html", {"call": call, "heard": heard, "keypad": KEYPAD}
    )
