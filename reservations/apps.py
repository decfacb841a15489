from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReservationsConfig(AppConfig):
    name = "reservations"
    verbose_name = _("予約管理")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_migrate, post_save

        from reservations import checks  # noqa: F401  (registers the system checks)
        from reservations.models import Campaign, EligibilityRule, IntervalRule, Program, Vaccine
        from reservations.retention import purge_register
        from reservations.roles import ensure_staff_groups
        from reservations.selectors import rulebook_cache_clear
        from reservations.services.contact import phone_verifications_purge

        # Groups need the permissions, which Django creates in post_migrate as well.
        post_migrate.connect(ensure_staff_groups, sender=self)
        purge_register("reservations.phone_verifications", phone_verifications_purge)
        for model in (EligibilityRule, IntervalRule, Program, Campaign, Vaccine):
            post_save.connect(rulebook_cache_clear, sender=model, dispatch_uid=f"rules-{model}")
            post_delete.connect(rulebook_cache_clear, sender=model, dispatch_uid=f"rules-d-{model}")
