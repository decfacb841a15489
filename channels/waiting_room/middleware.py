"""The waiting room in front of the resident booking pages (channels.web).

Off unless WAITING_ROOM_ADMIT_PER_SECOND > 0. It sits right after LocaleMiddleware: the
language is known, and nothing that reads the database (sessions, authentication, the views)
has run, so a queued request costs one Redis round trip and a template, never a query.

Gated: every page of the `web` URL namespace (the front page, sign-in, /p/... and its forms),
except `/health/` (load balancers), sign-out and forgetting a person (a shared phone must be
able to leave at the peak). Never gated: everything outside it (/phone/ operators, /venue/,
/admin/, /api/, the LINE webhook, SMS receipts, /exports/, /i18n/, static files).

A POST without an admission (say, the hold form sent after the admission ran out) gets the
queue page like any arrival: the form is not processed (nothing is booked or lost on the
server), the page says so, and when the turn comes the page reloads the same address by GET,
where the resident fills the form in again. The ticket cookie keeps its number across those
re-sends, so the resident loses their place once (when the admission ran out), never again.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from functools import cache

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from channels.waiting_room.queue import MemoryQueue, QueueStore, RedisQueue
from channels.waiting_room.room import COOKIE_NAME, Verdict, WaitingRoom

logger = logging.getLogger(__name__)

GATED_NAMESPACE = "web"
NEVER_GATED = frozenset({"health", "signout", "forget"})
# After Redis fails, the room stays open without asking it for this long: a Redis that hangs
# would otherwise cost every arrival the client's timeout.
REDIS_RETRY_SECONDS = 5.0


_rooms_lock = threading.Lock()


@cache
def _room(rate: float, burst: int, minutes: int, url: str) -> WaitingRoom:
    store: QueueStore = RedisQueue(url) if url else MemoryQueue()
    return WaitingRoom(store=store, rate=rate, burst=burst, admission_minutes=minutes)


def _room_once(rate: float, burst: int, minutes: int, url: str) -> WaitingRoom:
    # The first requests of a threaded server arrive together; two memory queues built at
    # once would hand out clashing numbers, so the room is built under a lock.
    with _rooms_lock:
        return _room(rate, burst, minutes, url)


def waiting_room() -> WaitingRoom:
    """The room for the current settings (one per process; the memory queue lives in it)."""
    return _room_once(
        float(settings.WAITING_ROOM_ADMIT_PER_SECOND),
        int(settings.WAITING_ROOM_BURST),
        int(settings.WAITING_ROOM_ADMISSION_MINUTES),
        str(settings.WAITING_ROOM_REDIS_URL),
    )


def waiting_room_reset(**kwargs: object) -> None:
    """Forget the rooms (and their memory queues): for tests, and when settings change."""
    _room.cache_clear()
    _outage.until = 0.0


setting_changed.connect(waiting_room_reset, dispatch_uid="waiting-room-settings")


class _Outage:
    """When Redis last failed, per process, so its warning is logged once per outage window."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.until = 0.0

    def active(self) -> bool:
        return time.monotonic() < self.until

    def begin(self, error: Exception) -> None:
        with self.lock:
            if self.active():
                return
            self.until = time.monotonic() + REDIS_RETRY_SECONDS
        logger.warning(
            "Waiting room: Redis failed (%s); admitting everyone for %.0f s",
            error,
            REDIS_RETRY_SECONDS,
        )


_outage = _Outage()


def is_gated(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.namespace == GATED_NAMESPACE and match.url_name not in NEVER_GATED


def estimate_text(seconds: int) -> str:
    """A wait in words: seconds under a minute, minutes and seconds under ten minutes, then
    whole minutes (rounded up: the estimate is the time until the turn, never less)."""
    if seconds < 60:
        return _("約%(seconds)s秒") % {"seconds": seconds}
    if seconds < 600:
        minutes, rest = divmod(seconds, 60)
        if rest == 0:
            return _("約%(minutes)s分") % {"minutes": minutes}
        return _("約%(minutes)s分%(seconds)s秒") % {"minutes": minutes, "seconds": rest}
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return _("約%(minutes)s分") % {"minutes": minutes}
    hours, minutes = divmod(minutes, 60)
    return _("約%(hours)s時間%(minutes)s分") % {"hours": hours, "minutes": minutes}


def queue_page(request: HttpRequest, verdict: Verdict) -> HttpResponse:
    """The light page of someone waiting: no query, no JavaScript, refreshes itself.

    200, not 503: the page is the answer the resident asked for, and a 5xx is what proxies
    replace with their own error pages and monitors count as an outage. Search engines are
    kept off it with noindex; nobody caches it (no-store), so every refresh reaches the room.
    """
    html = render_to_string(
        "waiting_room/queue.html",
        {
            "number": verdict.number,
            "position": verdict.position,
            "estimate_seconds": verdict.estimate_seconds,
            "estimate_text": estimate_text(verdict.estimate_seconds),
            "refresh_seconds": verdict.refresh_seconds,
            # The turn's reload is a GET of the same address, whatever the method was.
            "refresh_url": request.get_full_path(),
            "resubmit": request.method == "POST",
        },
    )
    response = HttpResponse(html)
    add_never_cache_headers(response)
    response["X-Robots-Tag"] = "noindex"
    response["X-Waiting-Room-Position"] = str(verdict.position)
    response["X-Waiting-Room-Estimate-Seconds"] = str(verdict.estimate_seconds)
    return response


class WaitingRoomMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.WAITING_ROOM_ADMIT_PER_SECOND <= 0 or not is_gated(request.path_info):
            return self.get_response(request)
        room = waiting_room()
        cookie = request.COOKIES.get(COOKIE_NAME)
        try:
            if _outage.active():
                raise _StillDown()
            verdict = room.enter(cookie)
        except (redis.RedisError, OSError, _StillDown) as error:
            # Fail open. The room protects the pages' speed, not correctness: the booking core
            # never overbooks whatever the load, so without Redis the worst case is the slow
            # pages of 2021, while failing closed would turn a Redis outage into nobody being
            # able to book at all. Admissions granted meanwhile are ordinary signed cookies,
            # so residents in the middle of the flow stay in once Redis is back.
            if not isinstance(error, _StillDown):
                _outage.begin(error)
            verdict = room.admit_unqueued(cookie)
        response = self.get_response(request) if verdict.admitted else queue_page(request, verdict)
        if verdict.cookie is not None:
            response.set_cookie(
                COOKIE_NAME,
                verdict.cookie,
                max_age=verdict.cookie_max_age,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response


class _StillDown(Exception):
    """Redis failed a moment ago; not asked again until REDIS_RETRY_SECONDS have passed."""
