"""Purge personal data past its retention period (the daily beat task runs the same service)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from reservations.retention import purge_expired_data


class Command(BaseCommand):
    help = (
        "Delete personal data kept past its retention period (RETENTION_* settings): LINE "
        "webhook payloads, idle LINE chat state, call-centre memos. Prints the count per kind."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be purged, change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        counts = purge_expired_data(now=timezone.now(), dry_run=dry_run)
        verb = "would purge" if dry_run else "purged"
        for name, count in counts.items():
            self.stdout.write(f"{name}: {verb} {count}")
        self.stdout.write(f"total: {verb} {sum(counts.values())}")
