from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "channels.notify"
    label = "notify"
    verbose_name = _("通知")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # After the core's ensure_staff_groups (reservations migrates first).
        post_migrate.connect(_grant_notify_permissions, sender=self)

        from channels.notify.contact_sms import on_contact_sms_requested
        from channels.notify.signals import on_events_recorded, on_receipt_recorded
        from channels.sms.signals import receipt_recorded
        from reservations.signals import contact_sms_requested, events_recorded

        events_recorded.connect(on_events_recorded, dispatch_uid="notify-event")
        receipt_recorded.connect(on_receipt_recorded, dispatch_uid="notify-receipt")
        # SMS that belong to no booking (a verification code, the notice of a STOP reply).
        contact_sms_requested.connect(on_contact_sms_requested, dispatch_uid="notify-contact")


def _grant_notify_permissions(sender: Any = None, **kwargs: Any) -> None:
    """Approving a venue-cancellation broadcast belongs to municipal administrators (a named
    role, besides superusers); the second person's approval is still enforced by the core."""
    from reservations import roles

    roles.grant_app_permissions(
        "notify",
        {roles.ADMINISTRATORS: ["approve_broadcast", "view_broadcast", "change_broadcast"]},
        using=kwargs.get("using", "default"),
    )
