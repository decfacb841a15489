"""The staff sign-in's failure limit, shared by every door staff come in through.

Staff sign in at one page, settings.LOGIN_URL (/phone/login/), for /phone/, /venue/, /exports/
and /admin/; /admin/login/ only sends them there (admin_login below). django-axes counts failed
sign-ins in the database, so every web process sees the same count, and locks a username and,
separately, a client address: a username after STAFF_LOGIN_FAILURE_LIMIT failures, an address
after STAFF_LOGIN_CLIENT_FAILURE_LIMIT (a call centre signs in from one address), within
STAFF_LOGIN_COOLOFF_MINUTES. config/settings.py points axes at the functions here: who the
client is (our own proxy rule, reservations/client_address.py), how a username is counted, and the
page a locked sign-in gets.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
from collections.abc import Iterable, Mapping
from typing import Any

# django-axes ships no type information.
from axes.handlers.database import AxesDatabaseHandler  # type: ignore[import-untyped]
from axes.helpers import get_cool_off  # type: ignore[import-untyped]
from axes.models import AccessAttempt  # type: ignore[import-untyped]
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from reservations.client_address import IPV6_PREFIX, client_address

# The address counted for a request whose address cannot be read at all: every such request
# shares one count, so a broken proxy makes the limit stricter, never absent. (axes stores the
# address in an IP address column, so client_address's "unknown" key cannot be used.)
UNREADABLE_CLIENT = "0.0.0.0"  # noqa: S104 - a counter's key, never bound to


def client_ip_address(request: HttpRequest) -> str:
    """AXES_CLIENT_IP_CALLABLE: the client by the same rule as every other limit (behind
    TRUSTED_PROXIES proxies), an IPv6 client by its /64 (written as the network's address)."""
    address = client_address(request.META)
    if address is None:
        return UNREADABLE_CLIENT
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False).network_address)
    return str(address)


def username_key(request: HttpRequest, credentials: Mapping[str, Any] | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the name failures are counted by, case-blind, so OPERATOR and
    operator share one count (guessing cannot multiply its tries by changing the case)."""
    if credentials:
        raw = credentials.get("username")
    else:
        raw = getattr(request, "POST", {}).get("username")
    key = str(raw or "").strip().lower()[:150]
    return key or None


def _lock_end(
    attempts: Iterable[tuple[int, dt.datetime]], *, limit: int, cool_off: dt.timedelta
) -> dt.datetime | None:
    """When a lock over these attempts (newest first) ends if nobody tries again, or None if
    they are not locked: failures older than the cool-off stop counting, so the lock lasts
    until the newest attempt that still brings the count to the limit is that old."""
    failures = 0
    for count, at in attempts:
        failures += count
        if failures >= limit:
            return at + cool_off
    return None


class StaffSignInHandler(AxesDatabaseHandler):  # type: ignore[misc]
    """axes' database handler with a limit of its own for the client address.

    axes compares one count, the larger of the username's and the address's, with one limit
    (AXES_FAILURE_LIMIT, the username's). The address's count is put on the username's scale
    first: floor(n × username limit / client limit) reaches the username limit exactly when n
    reaches the client limit."""

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        # One queryset per AXES_LOCKOUT_PARAMETERS entry, in its order: username, ip_address.
        by_username, by_client = (
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        username_limit = settings.STAFF_LOGIN_FAILURE_LIMIT
        client_limit = settings.STAFF_LOGIN_CLIENT_FAILURE_LIMIT
        return int(max(by_username, by_client * username_limit // client_limit))


def lock_ends(
    *, username: str | None, ip_address: str, cool_off: dt.timedelta, now: dt.datetime
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(account's lock end, client's lock end); None where that one is not locked."""
    recent = AccessAttempt.objects.filter(attempt_time__gte=now - cool_off).order_by(
        "-attempt_time"
    )
    fields = ("failures_since_start", "attempt_time")
    account = (
        _lock_end(
            recent.filter(username=username).values_list(*fields),
            limit=settings.STAFF_LOGIN_FAILURE_LIMIT,
            cool_off=cool_off,
        )
        if username
        else None
    )
    client = _lock_end(
        recent.filter(ip_address=ip_address).values_list(*fields),
        limit=settings.STAFF_LOGIN_CLIENT_FAILURE_LIMIT,
        cool_off=cool_off,
    )
    return account, client


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None,
    credentials: Mapping[str, Any] | None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the page a locked sign-in gets, at every door (429)."""
    now = getattr(request, "axes_attempt_time", None) or timezone.now()
    cool_off = get_cool_off(request) or dt.timedelta(minutes=settings.STAFF_LOGIN_COOLOFF_MINUTES)
    account, client = lock_ends(
        username=username_key(request, credentials),
        ip_address=getattr(request, "axes_ip_address", None) or client_ip_address(request),
        cool_off=cool_off,
        now=now,
    )
    # Locked by both: the later end is when signing in works again. Neither (the lock ran out
    # while this page was made): the cool-off is the most it can still last.
    until = max((end for end in (account, client) if end is not None), default=now + cool_off)
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    response = render(
        request,
        "phone/locked.html",
        {
            "account_locked": account is not None,
            "client_locked": client is not None,
            "until": timezone.localtime(until),
            "minutes": minutes,
        },
        status=429,
    )
    response["Retry-After"] = str(minutes * 60)
    return response


def admin_login(request: HttpRequest, extra_context: Any = None) -> HttpResponse:
    """/admin/login/: the staff sign-in page instead, where the one failure limit applies,
    keeping `next` so that signing in leads back to the admin page asked for."""
    if request.user.is_authenticated:
        # Signed in, yet sent here by the admin: this user may not use it. Signing in again
        # would lead straight back (a redirect loop); the 403 page shows their own areas.
        raise PermissionDenied
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"))
