"""The Celery app's handling of database connections around tasks."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

from config import celery


def _task(*, is_eager: bool) -> SimpleNamespace:
    return SimpleNamespace(request=SimpleNamespace(is_eager=is_eager))


def test_it_closes_only_old_connections_around_a_worker_task() -> None:
    with mock.patch("django.db.close_old_connections") as close_old:
        celery.close_old_database_connections(task=_task(is_eager=False))  # type: ignore[arg-type]
    close_old.assert_called_once_with()


def test_it_leaves_an_eager_task_in_its_callers_transaction() -> None:
    with mock.patch("django.db.close_old_connections") as close_old:
        celery.close_old_database_connections(task=_task(is_eager=True))  # type: ignore[arg-type]
    close_old.assert_not_called()


def test_the_django_fixup_does_not_close_the_connection_after_every_task() -> None:
    # Without CELERY_DB_REUSE_MAX, Celery's fixup calls connection.close() around each task.
    assert celery.app.conf.get("CELERY_DB_REUSE_MAX", 0) >= 100
