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

        from channels.phone.services import call_memos_purge, personal_data_read_recorded
        from reservations.audit import personal_data_read

        # The one audit trail: every surface's reads of personal data (reservations/audit.py).
        personal_data_read.connect(
            personal_data_read_recorded, dispatch_uid="phone.personal_data_read_recorded"
        )
        from reservations.retention import purge_register

        purge_register("phone.call_memos", call_memos_purge)

        from channels.phone.demo import demo_season_plan
        from reservations.signals import demo_seeded

        demo_seeded.connect(demo_season_plan, dispatch_uid="phone.demo_season_plan")

        from channels.phone.season_checks import (
            check_mailouts,
            check_phone_lines,
            check_phone_reserve,
        )
        from reservations.season_check import check_register

        check_register("phone.reserve", check_phone_reserve)
        check_register("phone.lines", check_phone_lines)
        check_register("phone.mailouts", check_mailouts)

        from django.contrib.auth.signals import user_logged_in

        from channels.phone.middleware import idle_clock_start

        user_logged_in.connect(idle_clock_start, dispatch_uid="phone.idle_clock_start")


def _grant_phone_permissions(sender: Any = None, **kwargs: Any) -> None:
    from channels.phone.roles import ensure_phone_permissions

    ensure_phone_permissions(using=kwargs.get("using", "default"))
