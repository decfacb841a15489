"""The Celery app. Configuration comes from Django settings (CELERY_* names)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from celery import Celery, Task
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    task_postrun,
    task_prerun,
    worker_init,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("madoguchi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(task: Task | None = None, **kwargs: Any) -> None:  # type: ignore[type-arg]
    """Around every task, what Django does around every request: close the connection if it
    is older than CONN_MAX_AGE, errored or left in a transaction, and health-check it before
    its next use (CONN_HEALTH_CHECKS). Celery's own Django fixup would close it before and
    after every task instead (it ignores CONN_MAX_AGE, celery#9824), so each task paid for a
    new PostgreSQL connection; CELERY_DB_REUSE_MAX in the settings switches that off. An
    eager task runs inside its caller's request or test transaction: leave that alone."""
    if task is not None and task.request.is_eager:
        return
    from django.db import close_old_connections

    close_old_connections()


@worker_init.connect
@beat_init.connect
def refuse_unsafe_production_settings(**kwargs: Any) -> None:
    """A worker or beat with unsafe production settings (config/checks.py) exits at start with
    the message. SystemExit, because Celery logs and ignores any Exception a signal handler
    raises; the message goes to stderr first, because beat swallows SystemExit's text."""
    import django

    django.setup()  # idempotent; the checks need the apps loaded
    from django.core.exceptions import ImproperlyConfigured

    from config.checks import refuse_unsafe_production_settings as refuse

    try:
        refuse()
    except ImproperlyConfigured as error:
        # The real stderr: Celery has redirected sys.stderr to its logger by now.
        print(error, file=sys.__stderr__, flush=True)
        raise SystemExit(1) from None


@after_setup_logger.connect
@after_setup_task_logger.connect
def redact_worker_logs(logger: logging.Logger | None = None, **kwargs: Any) -> None:
    """A worker replaces the root logger's handlers with its own (worker_hijack_root_logger),
    dropping the redaction settings.LOGGING put on them: put it back on Celery's."""
    from config.logging_filters import RedactPersonalData

    for handler in logger.handlers if logger is not None else []:
        if not any(isinstance(f, RedactPersonalData) for f in handler.filters):
            handler.addFilter(RedactPersonalData())
