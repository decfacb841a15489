"""The provider's webhooks for a call: its first words (`answer`), the keys pressed at a
question (`keys`) and its end (`status`). Each is signed by the provider (X-Twilio-Signature
over the address it called and the form it posted); an unsigned or forged request is refused
with 403 and changes nothing."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from channels.voice.answering import CallClosed, answer_twiml, keys_twiml
from channels.voice.backends import CallStatus, get_backend
from channels.voice.models import VoiceCall
from channels.voice.services import call_status_record

logger = logging.getLogger(__name__)


def _signed(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    # The address exactly as the provider called it: our public base and the path asked for.
    url = f"{settings.VOICE_CALLBACK_BASE_URL}{request.get_full_path()}"
    params = {key: request.POST.get(key, "") for key in request.POST}
    validator = RequestValidator(get_backend().signing_key())
    return bool(validator.validate(url, params, signature))


def _twiml(document: str) -> HttpResponse:
    return HttpResponse(document, content_type="text/xml; charset=utf-8")


def _refused() -> JsonResponse:
    return JsonResponse({"code": "signature_invalid"}, status=403)


def _hang_up() -> HttpResponse:
    response = VoiceResponse()
    response.hangup()
    return _twiml(str(response))


def _call(call_id: int) -> VoiceCall | None:
    return VoiceCall.objects.filter(pk=call_id).first()


@csrf_exempt  # the provider cannot send a CSRF token; its signature authenticates
@require_POST
def answer(request: HttpRequest, call_id: int) -> HttpResponse:
    if not _signed(request):
        return _refused()
    call = _call(call_id)
    call_sid = request.POST.get("CallSid", "")
    if call is None or (call.provider_call_id and call_sid and call_sid != call.provider_call_id):
        return _hang_up()  # not the call we placed on this address
    try:
        return _twiml(answer_twiml(call, answered_by=request.POST.get("AnsweredBy", "")))
    except CallClosed:
        return _hang_up()


@csrf_exempt  # as above
@require_POST
def keys(request: HttpRequest, call_id: int, step: str) -> HttpResponse:
    if not _signed(request):
        return _refused()
    call = _call(call_id)
    if call is None:
        return _hang_up()
    digits = request.POST.get("Digits", "")
    try:
        return _twiml(keys_twiml(call, step=step, digits=digits))
    except CallClosed:
        return _hang_up()


@csrf_exempt  # as above
@require_POST
def status(request: HttpRequest, call_id: int) -> HttpResponse:
    if not _signed(request):
        return _refused()
    call = _call(call_id)
    if call is None:
        # Nothing to retry for the provider: the call is not ours (any more).
        return JsonResponse({"recorded": False})
    try:
        duration = max(0, int(request.POST.get("CallDuration", "0") or 0))
    except ValueError:
        return JsonResponse(
            {"code": "duration_invalid", "message": _("通話時間が数ではありません。")}, status=400
        )
    recorded = call_status_record(
        call=call,
        status=CallStatus(
            status=request.POST.get("CallStatus", ""),
            duration_seconds=duration,
            answered_by=request.POST.get("AnsweredBy", ""),
        ),
        provider_call_id=request.POST.get("CallSid", ""),
    )
    return JsonResponse({"recorded": recorded})
