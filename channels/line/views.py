"""LINE webhook. Answers 503 until LINE_CHANNEL_SECRET and the access token are configured."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"code": "line_not_configured", "message": "LINE is not configured"}, status=503
    )
