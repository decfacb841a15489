"""SMS provider callbacks: delivery receipts (`POST /sms/receipts/<provider>/`) and residents'
replies (`POST /sms/inbound/<provider>/`, for providers that forward them)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels.sms.inbound import InboundRejected, inbound_receive
from channels.sms.receipts import ReceiptRejected, receipts_record

# What Twilio expects back from an incoming-message webhook: TwiML, here saying "no reply"
# (the confirmation of a STOP goes out as its own message).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt  # providers cannot send a CSRF token; each provider's own check authenticates
@require_POST
def receipt(request: HttpRequest, provider: str) -> JsonResponse:
    try:
        new = receipts_record(provider=provider, request=request)
    except ReceiptRejected as rejected:
        return JsonResponse({"code": rejected.code}, status=rejected.status)
    return JsonResponse({"recorded": new})


@csrf_exempt  # as above: the provider's signature authenticates
@require_POST
def inbound(request: HttpRequest, provider: str) -> HttpResponse:
    try:
        inbound_receive(provider=provider, request=request)
    except InboundRejected as rejected:
        return JsonResponse({"code": rejected.code}, status=rejected.status)
    # The same answer whatever the text said: a provider has nothing to retry.
    return HttpResponse(EMPTY_TWIML, content_type="text/xml; charset=utf-8")
