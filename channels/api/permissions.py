"""Permissions from the core's staff roles (reservations/roles.py), per view.

A view names the Django permissions it needs in `required_perms`; the roles grant them
(operators book and change, venue staff record doses, administrators and superusers do all).

Django reads a user's permissions (their own and their groups': two queries) once per request.
A partner system books many times a second with one token, so they are kept in the cache for
API_PERMISSION_CACHE_SECONDS. Staleness: a change through Django (the admin, `ensure_staff_groups`)
drops the cached sets at once and again when it commits (the m2m signals below) in the shared
cache; a change that sends no m2m signal (deleting a group, raw SQL) or one made while each
process keeps its own local cache (the default without CACHE_URL) applies within that many
seconds. The
token and its user are still read on every request, so a revoked token, a deactivated user or
a withdrawn superuser flag is refused at once; the groups are not a single source (the call
centre app adds its own permissions to them), so the set is read from the database, not
computed from reservations/roles.py.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed
from django.dispatch import receiver
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle

from channels.api.errors import ApiError
from channels.api.models import PartnerKey, Scope
from reservations.client_address import client_key


def _cache_key(user_id: int) -> str:
    return f"api:permissions:{user_id}"


def staff_permissions_load(user: Any) -> None:
    """Give `user` its permission set from the cache, so `has_perm` (here and in the core)
    answers without queries; read it from the database when the cache has none."""
    if not user.is_active or user.is_superuser:
        return  # has_perm answers these from the user row alone
    if hasattr(user, "_perm_cache"):
        return  # already read for this request
    timeout = settings.API_PERMISSION_CACHE_SECONDS
    key = _cache_key(user.pk)
    # The entry names its user by id and date joined: an id used again (a rolled-back sign-up
    # on SQLite) is another person and gets nothing of the first one's.
    identity = user.date_joined.isoformat()
    cached = cache.get(key) if timeout else None
    if cached is not None and cached[0] == identity:
        # The attribute ModelBackend.get_all_permissions keeps for the life of the user object.
        user._perm_cache = set(cached[1])
        return
    permissions = ModelBackend().get_all_permissions(user)  # sets user._perm_cache too
    if timeout:
        cache.set(key, (identity, sorted(permissions)), timeout)


def staff_permissions_forget(user_ids: list[int]) -> None:
    keys = [_cache_key(user_id) for user_id in user_ids]
    cache.delete_many(keys)
    # The change that called this may not have committed yet: a request reading the old rows
    # meanwhile would cache them again, so they are dropped once more after the commit.
    transaction.on_commit(lambda: cache.delete_many(keys))


# m2m_changed actions after which the cached sets are dropped; a clear is caught before it
# runs, while the rows still say whom it concerns.
_CHANGES = {"post_add", "post_remove", "pre_clear"}


@receiver(m2m_changed, sender=User.groups.through)
@receiver(m2m_changed, sender=User.user_permissions.through)
def _forget_users(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    if action not in _CHANGES:
        return
    if not reverse:  # user.groups / user.user_permissions changed
        staff_permissions_forget([instance.pk])
    elif pk_set:  # group.user_set / permission.user_set: these users
        staff_permissions_forget(list(pk_set))
    elif isinstance(instance, Group):  # group.user_set.clear()
        staff_permissions_forget(list(instance.user_set.values_list("pk", flat=True)))
    else:  # permission.user_set.clear()
        staff_permissions_forget(
            list(User.objects.filter(user_permissions=instance).values_list("pk", flat=True))
        )


@receiver(m2m_changed, sender=Group.permissions.through)
def _forget_group_members(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    if action not in _CHANGES:
        return
    if not reverse:  # group.permissions changed
        groups = [instance.pk]
    elif pk_set:  # permission.group_set: these groups
        groups = list(pk_set)
    else:  # permission.group_set.clear()
        groups = list(instance.group_set.values_list("pk", flat=True))
    staff_permissions_forget(
        list(User.objects.filter(groups__in=groups).values_list("pk", flat=True).distinct())
    )


class HasStaffPermissions(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        required: tuple[str, ...] = getattr(view, "required_perms", ())
        staff_permissions_load(user)
        return bool(user.has_perms(required))


class PartnerKeyHasScope(BasePermission):
    """A partner key must hold the view's `required_scope` (403 scope_missing otherwise).

    Staff tokens and anonymous callers pass: scopes are the partner keys' own narrowing, on
    top of the user's permissions, which the other permission classes still check.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, PartnerKey):
            return True
        scope: str = view.required_scope
        if key.has_scope(scope):
            return True
        raise ApiError(
            status_code=status.HTTP_403_FORBIDDEN,
            code="scope_missing",
            message=_("このAPIキーには、この操作の権限（{scope}）がありません。").format(
                scope=Scope(scope).label
            ),
            detail={"required_scope": scope},
        )


class AnonymousPerAddressThrottle(AnonRateThrottle):
    """Anonymous requests per client address; staff tokens are never counted here.

    The rate is read on every request (not once at import) so a changed setting applies.
    Not a security boundary on its own: failed ticket checks are limited in the core.
    """

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return rate if isinstance(rate, str) else None

    def get_ident(self, request: Request) -> str:
        # The web pages' rule (TRUSTED_PROXIES, IPv6 by /64), not DRF's NUM_PROXIES one, which
        # gives each IPv6 address its own count and passes a malformed header on as the key.
        return client_key(request.META)
