"""The staff areas a signed-in member of staff may use, for the shared staff layout's navigation
(reservations/templates/staff/base.html), the 403 and 404 pages' way back, and where the staff
sign-in lands.

An area is shown only when the user holds a permission its pages check, so a link never leads
to a refusal; its address is the first page of the area that this user may open (a call-centre
manager's 電話受付 is the dashboard, not the operators' search)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from reservations.staff_scope import staff_scope

# (permission, URL name): the first one held gives the area's address.
_PHONE_PAGES = (
    ("phone.use_console", "phone:home"),
    ("phone.view_dashboard", "phone:dashboard"),
    ("phone.view_call_metrics", "phone:metrics"),
    ("phone.view_forecast", "phone:forecast"),
    ("phone.view_audit", "phone:audit"),
)
_VENUE_PAGES = (("reservations.add_vaccination", "venue:home"),)
_EXPORT_PAGES = (
    ("reservations.export_vrs", "exports:home"),
    ("reservations.reconcile_vrs", "exports:reconcile"),
)
# Health follow-up (channels/followup): health-centre staff and doctors.
_FOLLOWUP_PAGES = (
    ("followup.view_followup", "followup_staff:cohort"),
    ("followup.review_photo", "followup_staff:photos"),
)
# Every member of staff may sign in to Django's admin, where an operator can only look; the
# link is shown to those who set things up there: administrators (operating days, campaigns),
# call-centre managers (call-volume events, season plans) and superusers.
ADMIN_WORK_PERMISSIONS = (
    "reservations.change_operatingday",
    "reservations.change_campaign",
    "phone.change_callvolumeevent",
    "phone.change_seasonplan",
)


@dataclass(frozen=True)
class StaffArea:
    key: str
    label: str
    url: str
    prefix: str

    def is_current(self, path: str) -> bool:
        return path.startswith(self.prefix)


def _first_page(user: Any, pages: tuple[tuple[str, str], ...]) -> str | None:
    for permission, name in pages:
        if user.has_perm(permission):
            return reverse(name)
    return None


def staff_areas(user: Any) -> list[StaffArea]:
    """The areas this user may use, in the navigation's order."""
    if not getattr(user, "is_authenticated", False) or not user.is_staff:
        return []
    areas = []
    for key, label, pages, prefix in (
        ("phone", _("電話受付"), _PHONE_PAGES, "/phone/"),
        ("venue", _("会場"), _VENUE_PAGES, "/venue/"),
        ("exports", _("出力・突合"), _EXPORT_PAGES, "/exports/"),
        ("followup", _("健康観察"), _FOLLOWUP_PAGES, "/followup/"),
    ):
        url = _first_page(user, pages)
        if url is not None:
            areas.append(StaffArea(key=key, label=str(label), url=url, prefix=prefix))
    if user.is_superuser or any(user.has_perm(p) for p in ADMIN_WORK_PERMISSIONS):
        admin = reverse("admin:index")
        areas.append(StaffArea(key="admin", label=str(_("管理")), url=admin, prefix=admin))
    return areas


def staff_home(user: Any) -> StaffArea | None:
    """The area this user starts in: the venue for venue staff (who may also book on a
    caller's behalf, for walk-ins), else the call centre, the exports, health follow-up, the
    admin; None for anyone without a staff area."""
    areas = {area.key: area for area in staff_areas(user)}
    for key in ("venue", "phone", "exports", "followup", "admin"):
        if key in areas:
            return areas[key]
    return None


def staff_home_url(user: Any) -> str:
    """Where this user starts (staff_home), or "/" (the residents' front page)."""
    home = staff_home(user)
    return home.url if home is not None else "/"


View = Callable[..., HttpResponseBase]

NO_MUNICIPALITY_MESSAGE = _(
    "このアカウントには担当の自治体が設定されていません。自治体の管理者に担当自治体（と会場）の"
    "設定を依頼してください。"
)


def staff_required(permission: str) -> Callable[[View], View]:
    """A staff page's door: signed in (else to the staff sign-in page, settings.LOGIN_URL) and
    holding `permission` (else the 403 page, with the way back to this user's own area).

    Django's permission_required sends a signed-in member of staff who lacks the permission to
    the sign-in page again, where signing in as themselves leads straight back to it."""

    def decorator(view: View) -> View:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.has_perm(permission):
                raise PermissionDenied
            if staff_scope(request.user).is_empty:
                # Shown on the 403 page: an account nobody assigned to a municipality sees no
                # city's data by default (reservations/staff_scope.py).
                raise PermissionDenied(NO_MUNICIPALITY_MESSAGE)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
