"""Keeping only what is needed: personal data that serves only for a while is purged after
its retention period, by one command (`manage.py purge_expired_data`) and one daily beat task.

The core names no channel, yet most of this data lives in the channels (LINE webhook payloads,
the chat's half-finished answers, call-centre memos). So each app registers its own purges here
from its `AppConfig.ready()`, and this module only runs whatever is registered: the core keeps
the schedule, each app knows its tables and its setting.

A purge takes the clock and `dry_run` and returns how many rows it purged (or, dry, would
purge). It must be safe to run twice and at any time: it only ever acts on rows older than its
period, counted back from `now`.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from django.db import transaction


class Purge(Protocol):
    def __call__(self, *, now: dt.datetime, dry_run: bool) -> int: ...


_purges: dict[str, Purge] = {}


def purge_register(name: str, purge: Purge) -> None:
    """Register `purge` under `name` (`<app>.<what>`, shown in the command's report).

    Keyed by name, so registering again (an app's ready() run twice) replaces, never doubles.
    """
    _purges[name] = purge


def purges_registered() -> list[str]:
    return sorted(_purges)


def purge_expired_data(*, now: dt.datetime, dry_run: bool = False) -> dict[str, int]:
    """Run every registered purge; return the rows each purged (or would purge), by name.

    Each runs in its own transaction, so one app's purge never waits on another's.
    """
    counts: dict[str, int] = {}
    for name in purges_registered():
        with transaction.atomic():
            counts[name] = _purges[name](now=now, dry_run=dry_run)
    return counts
