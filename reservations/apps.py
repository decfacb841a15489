from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReservationsConfig(AppConfig):
    name = "reservations"
    verbose_name = _("予約管理")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from reservations.roles import ensure_staff_groups

        # Groups need the permissions, which Django creates in post_migrate as well.
        post_migrate.connect(ensure_staff_groups, sender=self)
