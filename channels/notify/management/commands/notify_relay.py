"""python manage.py notify_relay [--poll SECONDS] [--batch N] — hand committed events to the
notification workers until stopped (SIGTERM or SIGINT: the pass under way finishes first).
Run one or more beside the workers when NOTIFY_HANDOFF is "relay" (channels/notify/relay.py)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from channels.notify.relay import RelayPass, relay_run
from config.checks import refuse_unsafe_production_settings

logger = logging.getLogger("channels.notify.relay")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Command(BaseCommand):
    help = "確定した予約履歴を通知ワーカーへまとめて引き渡します（停止するまで動き続けます）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--poll",
            type=float,
            default=None,
            help="seconds between polls of an empty outbox (default NOTIFY_RELAY_POLL_SECONDS)",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=None,
            help="events claimed per transaction (default NOTIFY_RELAY_BATCH)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # A long-running production process: refuse unsafe settings as gunicorn does.
        try:
            refuse_unsafe_production_settings()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        poll, batch = options["poll"], options["batch"]
        if poll is None:
            poll = settings.NOTIFY_RELAY_POLL_SECONDS
        if batch is None:
            batch = settings.NOTIFY_RELAY_BATCH
        if not 0.01 <= poll <= 60:
            raise CommandError(_("--poll は 0.01〜60 秒で指定してください。"))
        if not 1 <= batch <= 10_000:
            raise CommandError(_("--batch は 1〜10000 件で指定してください。"))
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            # Only a flag: the pass under way commits (or rolls back) as usual, then the loop
            # ends; nothing is handed over twice or left half-marked.
            logger.info("notify relay: %s received, stopping", signal.Signals(signum).name)
            stop.set()

        previous = {signum: signal.signal(signum, request_stop) for signum in STOP_SIGNALS}
        totals = {"claimed": 0, "handed_over": 0}

        def count(done: RelayPass) -> None:
            totals["claimed"] += done.claimed
            totals["handed_over"] += done.handed_over

        logger.info("notify relay: started (poll %.2f s, batch %d)", poll, batch)
        try:
            relay_run(poll=poll, batch=batch, stop=stop, on_pass=count)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        logger.info(
            "notify relay: stopped after %d events, %d handed to the workers",
            totals["claimed"],
            totals["handed_over"],
        )
