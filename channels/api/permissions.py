"""Permissions from the core's staff roles (reservations/roles.py), per view.

A view names the Django permissions it needs in `required_perms`; the roles grant them
(operators book and change, venue staff record doses, administrators and superusers do all).
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle


class HasStaffPermissions(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        required: tuple[str, ...] = getattr(view, "required_perms", ())
        return bool(user.has_perms(required))


class AnonymousPerAddressThrottle(AnonRateThrottle):
    """Anonymous requests per client address; staff tokens are never counted here.

    The rate is read on every request (not once at import) so a changed setting applies.
    Not a security boundary on its own: failed ticket checks are limited in the core.
    """

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return rate if isinstance(rate, str) else None
