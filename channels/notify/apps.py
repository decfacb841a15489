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

        # Health follow-up: a STOP reply ends it; ended follow-ups are purged with their
        # messages (the hub owns both tables).
        from channels.notify.followups import followups_purge_ended, on_sms_stop_received
        from channels.sms.signals import stop_received
        from reservations.retention import purge_register

        stop_received.connect(on_sms_stop_received, dispatch_uid="notify-followup-stop")
        purge_register("followup.ended_followups", followups_purge_ended)

        # Automated calls: the flows notify's calls play (what is said, what the keys do),
        # and what follows the end of each call.
        from channels.notify.signals import on_call_finished
        from channels.notify.voice_flows import voice_flows_register
        from channels.voice.signals import call_finished

        voice_flows_register()
        call_finished.connect(on_call_finished, dispatch_uid="notify-voice-call")


def _grant_notify_permissions(sender: Any = None, **kwargs: Any) -> None:
    """Approving a venue-cancellation broadcast belongs to municipal administrators (a named
    role, besides superusers); the second person's approval is still enforced by the core."""
    from reservations import roles

    roles.grant_app_permissions(
        "notify",
        {roles.ADMINISTRATORS: ["approve_broadcast", "view_broadcast", "change_broadcast"]},
        using=kwargs.get("using", "default"),
    )
