"""Cache-Control for answers that may carry personal data: all of them, unless they say otherwise.

Almost every page here shows someone's data (the resident pages, the call-centre console, venue
lists, exports, the API's JSON, .ics files), and a shared computer's browser cache or a proxy
must keep none of it. Marking the few public answers as cacheable is safer than remembering to
mark every personal one: a view that sets its own Cache-Control (never_cache, cache_control)
keeps it, and static files keep theirs.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase


class NoStoreByDefaultMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not response.has_header("Cache-Control") and not _is_static(request):
            response["Cache-Control"] = "no-store"
        return response


def _is_static(request: HttpRequest) -> bool:
    # Served by the proxy in production; by Django only when someone routes them through a view.
    return bool(settings.STATIC_URL) and request.path.startswith(str(settings.STATIC_URL))
