"""The local chat simulator: a staff page that plays a resident's phone.

It builds LINE webhook events, signs them with the channel secret and POSTs them to the real
webhook over HTTP, exactly as LINE would. The bot answers through the real SDK to a built-in
stand-in for LINE's API (`standin_api` below, at LINE_SIMULATOR_API_URL), which checks each
request like `channels.line.standin` and stores it for the page to show. Only active while no
real LINE channel is configured (LINE_SIMULATOR=true).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import requests
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels.line.client import SIMULATOR_ACCESS_TOKEN, channel_secret, simulator_active
from channels.line.models import SimulatorDelivery
from channels.line.standin import validate_messages

REPLY_TOKEN_PREFIX = "sim"  # noqa: S105 - a label, not a secret


def _user_id(request: HttpRequest) -> str:
    # One simulated LINE user per staff member, shaped like a real user id.
    digest = hashlib.sha256(f"simulator:{request.user.pk}".encode()).hexdigest()
    return "U" + digest[:32]


def _event(user_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
        **fields,
    }
    if kind != "unfollow":
        event["replyToken"] = f"{REPLY_TOKEN_PREFIX}.{user_id}.{uuid.uuid4().hex}"
    return event


def _event_shown(kind: str) -> str:
    return {"follow": _("（友だち追加）"), "unfollow": _("（ブロック）")}.get(kind, kind)


@staff_member_required
def simulator(request: HttpRequest) -> HttpResponse:
    if not simulator_active():
        raise Http404("The LINE simulator is off (LINE_SIMULATOR) or real LINE is configured.")
    user_id = _user_id(request)
    if request.method == "POST":
        event = _event_from_form(user_id, request.POST)
        if event is not None:
            shown = (
                request.POST.get("shown") or request.POST.get("text") or _event_shown(event["type"])
            )
            SimulatorDelivery.objects.create(
                line_user_id=user_id, kind="user", messages=[{"type": "text", "text": shown}]
            )
            _send_to_webhook(request, event)
        return redirect("line:simulator")
    deliveries = SimulatorDelivery.objects.filter(line_user_id=user_id).order_by("-id")[:40]
    transcript = [_render(d) for d in reversed(list(deliveries))]
    return render(request, "line/simulator.html", {"transcript": transcript, "user_id": user_id})


def _event_from_form(user_id: str, form: Any) -> dict[str, Any] | None:
    kind = form.get("kind")
    if kind == "follow":
        return _event(user_id, "follow", follow={"isUnblocked": False})
    if kind == "unfollow":
        return _event(user_id, "unfollow")
    if kind == "text" and form.get("text", "").strip():
        message = {"type": "text", "id": str(uuid.uuid4().int)[:18], "text": form["text"]}
        return _event(user_id, "message", message={**message, "quoteToken": "sim"})
    if kind == "postback" and form.get("data"):
        postback: dict[str, Any] = {"data": form["data"]}
        if form.get("date"):
            postback["params"] = {"date": form["date"]}
        return _event(user_id, "postback", postback=postback)
    return None


def _send_to_webhook(request: HttpRequest, event: dict[str, Any]) -> None:
    body = json.dumps({"destination": "Usimulator", "events": [event]}, ensure_ascii=False).encode()
    signature = base64.b64encode(
        hmac.new(channel_secret().encode(), body, hashlib.sha256).digest()
    ).decode()
    requests.post(
        request.build_absolute_uri(reverse("line:webhook")),
        data=body,
        headers={"Content-Type": "application/json", "X-Line-Signature": signature},
        timeout=(3, 60),
    )


def _render(delivery: SimulatorDelivery) -> dict[str, Any]:
    """Messages as the page draws them: texts, bubbles (lines + buttons), quick replies."""
    shown = []
    for message in delivery.messages:
        if message.get("type") == "flex":
            contents = message["contents"]
            bubbles = contents["contents"] if contents["type"] == "carousel" else [contents]
            # The alt text is what the phone's notification and chat list show of a card.
            shown.append({"bubbles": [_bubble(b) for b in bubbles], "alt": message.get("altText")})
        else:
            shown.append({"text": message.get("text", "")})
        items = (message.get("quickReply") or {}).get("items", [])
        if items:
            shown[-1]["actions"] = [item["action"] for item in items]
    return {"from_user": delivery.kind == "user", "messages": shown}


def _bubble(bubble: dict[str, Any]) -> dict[str, Any]:
    lines: list[str] = []
    buttons: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "box" and node.get("layout") == "baseline":
                lines.append(" ".join(c.get("text", "") for c in node.get("contents", [])))
                return
            if node.get("type") == "text":
                lines.append(node.get("text", ""))
            if node.get("type") == "button":
                buttons.append(node["action"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk([bubble.get("body"), bubble.get("footer")])
    return {"lines": lines, "buttons": buttons}


@csrf_exempt
@require_POST
def standin_api(request: HttpRequest, kind: str) -> JsonResponse:
    """The built-in stand-in for LINE's reply and push endpoints (simulator only)."""
    if not simulator_active() or kind not in ("reply", "push"):
        raise Http404()
    if request.headers.get("Authorization") != f"Bearer {SIMULATOR_ACCESS_TOKEN}":
        return JsonResponse({"message": "Authentication failed"}, status=401)
    try:
        body = json.loads(request.body)
    except ValueError:
        return JsonResponse({"message": "The request body has 1 error(s)"}, status=400)
    errors = validate_messages(body.get("messages"))
    if errors:
        return JsonResponse(
            {"message": "The request body has errors", "details": errors}, status=400
        )
    if kind == "reply":
        parts = str(body.get("replyToken", "")).split(".")
        if len(parts) != 3 or parts[0] != REPLY_TOKEN_PREFIX:
            return JsonResponse({"message": "Invalid reply token"}, status=400)
        user_id = parts[1]
    else:
        user_id = str(body.get("to", ""))
        key = request.headers.get("X-Line-Retry-Key", "")
        if key and SimulatorDelivery.objects.filter(line_user_id=user_id, retry_key=key).exists():
            return JsonResponse({"message": "The retry key is already accepted"}, status=409)
    SimulatorDelivery.objects.create(
        line_user_id=user_id,
        kind=kind,
        messages=body["messages"],
        retry_key=request.headers.get("X-Line-Retry-Key", "") if kind == "push" else "",
    )
    sent = [{"id": str(uuid.uuid4().int)[:18], "quoteToken": "sim"} for _m in body["messages"]]
    return JsonResponse({"sentMessages": sent})
