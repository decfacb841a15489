"""LINE webhook. Answers 503 until LINE_CHANNEL_SECRET and the access token are configured.

The signature is checked on the raw body (re-encoded JSON would not match), each event is
stored once by its webhookEventId, and the answer is 200 at once: the chat runs in Celery.
A body LINE signed is always answered 200, even when nothing in it can be used: any other
answer makes LINE deliver it again.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels.line.client import channel_secret, is_configured
from channels.line.payloads import signature_valid, webhook_events_read
from channels.line.services import line_events_store
from channels.line.tasks import line_event_process_task


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    if not is_configured():
        return JsonResponse(
            {"code": "line_not_configured", "message": "LINE is not configured"}, status=503
        )
    signature = request.headers.get("X-Line-Signature", "")
    if not signature:
        return JsonResponse({"code": "signature_missing"}, status=400)
    if not signature_valid(body=request.body, signature=signature, secret=channel_secret()):
        return JsonResponse({"code": "signature_invalid"}, status=400)
    # One INSERT statement (autocommit), so on_commit enqueues at once, after the rows are
    # visible to the worker; inside an outer transaction it would wait for that commit.
    for event_id in line_events_store(events=webhook_events_read(request.body)):
        transaction.on_commit(partial(line_event_process_task.delay, event_id))
    return HttpResponse("OK")
