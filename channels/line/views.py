"""LINE webhooks: the settings' account at /line/webhook/ (serving HOME_MUNICIPALITY_CODE; 503
until LINE_CHANNEL_SECRET and the access token are configured), and each municipality's own
official account at /line/m/<code>/webhook/ (404 for a code with no active account).

The signature is checked on the raw body (re-encoded JSON would not match) with the secret of
the account the URL names, so an event signed for another city's account is refused there.
Each event is stored once by its webhookEventId, with the account it came to, and the answer
is 200 at once: the chat runs in Celery. A body LINE signed is always answered 200, even when
nothing in it can be used: any other answer makes LINE deliver it again.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels.line.client import (
    LineCredentials,
    official_credentials,
    settings_account_configured,
    settings_credentials,
)
from channels.line.models import LineOfficialAccount
from channels.line.payloads import signature_valid, webhook_events_read
from channels.line.services import line_events_store
from channels.line.tasks import line_event_process_task


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    if not settings_account_configured():
        return JsonResponse(
            {"code": "line_not_configured", "message": "LINE is not configured"}, status=503
        )
    return _receive(request, settings_credentials())


@csrf_exempt
@require_POST
def municipality_webhook(request: HttpRequest, code: str) -> HttpResponse:
    account = LineOfficialAccount.objects.filter(municipality__code=code, is_active=True).first()
    if account is None:
        return JsonResponse(
            {"code": "line_account_unknown", "message": "No LINE account for this code"},
            status=404,
        )
    return _receive(request, official_credentials(account))


def _receive(request: HttpRequest, credentials: LineCredentials) -> HttpResponse:
    signature = request.headers.get("X-Line-Signature", "")
    if not signature:
        return JsonResponse({"code": "signature_missing"}, status=400)
    if not signature_valid(
        body=request.body, signature=signature, secret=credentials.channel_secret
    ):
        return JsonResponse({"code": "signature_invalid"}, status=400)
    events = webhook_events_read(request.body)
    # One INSERT statement (autocommit), so on_commit enqueues at once, after the rows are
    # visible to the worker; inside an outer transaction it would wait for that commit.
    for event_id in line_events_store(
        events=events, official_account_id=credentials.official_account_id
    ):
        transaction.on_commit(partial(line_event_process_task.delay, event_id))
    return HttpResponse("OK")
