"""Wiring: a committed ReservationEvent becomes messages; a stored SMS receipt is applied."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from channels.sms.models import SmsReceipt
from reservations.models import ReservationEvent


def on_event_saved(sender: Any, instance: ReservationEvent, created: bool, **kwargs: Any) -> None:
    if not created:
        return
    from channels.notify.services import NOTIFIABLE_KINDS
    from channels.notify.tasks import notify_event_task

    if instance.kind not in NOTIFIABLE_KINDS:
        return
    # After commit only: a rolled-back booking must not be announced. If the process dies
    # before this runs, the sweep finds the event. robust: a broker outage must not turn a
    # committed booking into an error page.
    transaction.on_commit(lambda: notify_event_task.delay(instance.pk), robust=True)


def on_receipt_recorded(sender: Any, receipt: SmsReceipt, **kwargs: Any) -> None:
    from channels.notify.services import receipt_apply

    receipt_apply(receipt=receipt)
