"""SMS delivery receipts, one URL per provider. No provider is configured yet: 404."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def receipt(request: HttpRequest, provider: str) -> JsonResponse:
    return JsonResponse(
        {"code": "unknown_provider", "message": f"no SMS provider named {provider!r}"}, status=404
    )
