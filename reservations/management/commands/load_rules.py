"""python manage.py load_rules [FILE] — upsert the national rules data file (idempotent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reservations.services.rules import NATIONAL_RULES_PATH, RulesFileError, rules_load


class Command(BaseCommand):
    help = (
        "接種ルール（ワクチン・事業・キャンペーン・対象・間隔）をデータファイルから読み込みます。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", default=str(NATIONAL_RULES_PATH))

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.exists():
            raise CommandError(f"ファイルが見つかりません: {path}")
        try:
            report = rules_load(path=path)
        except RulesFileError as exc:
            raise CommandError(str(exc)) from exc
        for kind in sorted({*report.created, *report.updated, *report.unchanged}):
            self.stdout.write(
                f"{kind}: 新規 {report.created.get(kind, 0)} / 更新 {report.updated.get(kind, 0)}"
                f" / 変更なし {report.unchanged.get(kind, 0)}"
            )
