from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PhoneConfig(AppConfig):
    name = "channels.phone"
    label = "phone"
    verbose_name = _("コールセンター")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # Runs after the core's ensure_staff_groups (reservations migrates first), which
        # resets each group to the core's permissions; this adds the call centre's own.
        post_migrate.connect(_grant_phone_permissions, sender=self)


def _grant_phone_permissions(sender: Any = None, **kwargs: Any) -> None:
    from channels.phone.roles import ensure_phone_permissions

    ensure_phone_permissions(using=kwargs.get("using", "default"))
