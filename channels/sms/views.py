"""SMS delivery receipts, one URL per provider: `POST /sms/receipts/<provider>/`."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels.sms.receipts import ReceiptRejected, receipts_record


@csrf_exempt  # providers cannot send a CSRF token; each provider's own check authenticates
@require_POST
def receipt(request: HttpRequest, provider: str) -> JsonResponse:
    try:
        new = receipts_record(provider=provider, request=request)
    except ReceiptRejected as rejected:
        return JsonResponse({"code": rejected.code}, status=rejected.status)
    return JsonResponse({"recorded": new})
