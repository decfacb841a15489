"""Housekeeping for the API: answered Idempotency-Keys are kept for a day, then forgotten."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings

from channels.api.idempotency import idempotency_keys_forget


@shared_task
def idempotency_keys_forget_task() -> int:
    return idempotency_keys_forget(
        older_than=dt.timedelta(hours=settings.API_IDEMPOTENCY_KEEP_HOURS)
    )
