"""Staff sign-ins end after STAFF_SESSION_IDLE_MINUTES without a request.

Staff desks are shared and staff pages show residents' records, so a sign-in left open on an
unattended screen must not stay usable. After the limit the next request is made signed out:
every staff page then sends it to the sign-in page (settings.LOGIN_URL), which says why.

Only requests of a signed-in member of staff are touched. A resident's session (channels/web
people.py, with its own idle limit) holds no signed-in user, so for residents this costs no
query and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext as _

# The session key of the last request's time (seconds since the epoch).
LAST_SEEN_KEY = "staff_last_seen"
# How stale the stored time may get before a request writes it again, as the residents' idle
# limit does (channels/web/people.py): writing on every request would save the session on every
# console click. A member of staff is signed out after between the limit minus this and the
# full limit of inactivity: never later than the limit, at most this much earlier.
SEEN_WRITE_INTERVAL = dt.timedelta(minutes=1)
# Where staff work (reservations/staff_areas.py) and the admin.
STAFF_PATH_PREFIXES = ("/phone/", "/venue/", "/exports/", "/admin/", "/staff/")


class StaffIdleTimeoutMiddleware:
    """After AuthenticationMiddleware and MessageMiddleware (it signs out and leaves a notice)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # Only the staff areas: a static file, the favicon or a resident's page never loads
        # the session here (the browser fetches those beside a staff page, at the same time).
        # Then the session: a request without a signed-in user never loads a user.
        if (
            request.path_info.startswith(STAFF_PATH_PREFIXES)
            and SESSION_KEY in request.session
            and request.user.is_staff
        ):
            self._note_activity_or_sign_out(request)
        return self.get_response(request)

    def _note_activity_or_sign_out(self, request: HttpRequest) -> None:
        now = timezone.now().timestamp()
        last_seen = request.session.get(LAST_SEEN_KEY)
        idle_limit = settings.STAFF_SESSION_IDLE_MINUTES * 60
        if isinstance(last_seen, int | float) and now - last_seen > idle_limit:
            logout(request)
            # The notice outlives the flushed session (the message store falls back to a
            # cookie) and is shown on the sign-in page the staff page now redirects to.
            messages.info(request, _("一定時間操作がなかったためログアウトしました。"))
            return
        # A sign-in from before this clock existed has no stored time: it starts now.
        if not isinstance(last_seen, int | float) or (
            now - last_seen > SEEN_WRITE_INTERVAL.total_seconds()
        ):
            request.session[LAST_SEEN_KEY] = now


def idle_clock_start(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """user_logged_in (connected in channels/phone/apps.py): the idle clock starts at signing
    in, in the session that the sign-in saves anyway, so the first page after it saves none."""
    if request is not None and hasattr(request, "session") and user.is_staff:
        request.session[LAST_SEEN_KEY] = timezone.now().timestamp()
