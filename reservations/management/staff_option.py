"""`--user STAFF` for commands that export or import personal data: the run is attributed to
that member of staff (ExportBatch.requested_by, ReconcileRun.user, the audit log) instead of
the operating-system account that happened to run it.

One parser for every such command, so a name is refused the same way everywhere.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.utils.translation import gettext as _


def add_staff_argument(parser: ArgumentParser, *, help: str) -> None:
    parser.add_argument("--user", metavar="STAFF", help=help)


def staff_from_option(
    username: str | None, *, permission: str = "", refusal: str = ""
) -> Any | None:
    """The active member of staff named by --user, or None when the option was not given.

    With `permission` ("app.codename"), a member without it is refused with `refusal`
    (a sentence with %(user)s) or a general one. Each refusal is a Japanese CommandError.
    """
    if not username:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(_("職員 %(user)s がいません。") % {"user": username})
    if not (user.is_active and user.is_staff):
        raise CommandError(
            _("%(user)s は有効な職員アカウントではありません（無効または職員ではありません）。")
            % {"user": username}
        )
    if permission and not user.has_perm(permission):
        message = refusal or _("%(user)s にはこの操作の権限がありません。")
        raise CommandError(message % {"user": username})
    return user
