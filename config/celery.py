"""The Celery app. Configuration comes from Django settings (CELERY_* names)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun

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
