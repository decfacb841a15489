from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "channels.notify"
    label = "notify"
    verbose_name = _("通知")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from channels.notify.signals import on_event_saved, on_receipt_recorded
        from channels.sms.signals import receipt_recorded
        from reservations.models import ReservationEvent

        post_save.connect(on_event_saved, sender=ReservationEvent, dispatch_uid="notify-event")
        receipt_recorded.connect(on_receipt_recorded, dispatch_uid="notify-receipt")
