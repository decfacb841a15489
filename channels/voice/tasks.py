"""Voice's periodic task: free the lines of calls whose end never reached us."""

from __future__ import annotations

from celery import shared_task

from channels.voice.services import lines_sweep


@shared_task(ignore_result=True)
def lines_sweep_task() -> int:
    return lines_sweep()
