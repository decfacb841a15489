"""`--from DATE --to DATE [--municipality CODE] [--output FILE]` for commands that write a
period's records as a file (the audit trail, follow-up answers): one parser, so a date, a
municipality and an output file are read and refused the same way everywhere, and one way of
writing the file and logging the run."""

from __future__ import annotations

import datetime as dt
import getpass
import logging
from argparse import ArgumentParser
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from reservations.models import Municipality


def add_period_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--from", dest="date_from", required=True, metavar="DATE")
    parser.add_argument("--to", dest="date_to", required=True, metavar="DATE")
    parser.add_argument(
        "--municipality", metavar="CODE", help="自治体コード（省略するとすべての自治体）"
    )
    parser.add_argument("--output", type=Path, help="出力先のファイル（省略すると標準出力）")


def day_from_option(value: str, option: str) -> dt.date:
    """A YYYY-MM-DD option's date, or a Japanese CommandError naming the option."""
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(
            _("%(option)s の日付は YYYY-MM-DD の形で指定してください（指定: %(value)s）。")
            % {"option": option, "value": value}
        ) from None


def municipality_from_option(value: str | None) -> Municipality | None:
    """`--municipality CODE`'s municipality (None when not given), or a CommandError."""
    if not value:
        return None
    code = value.strip()
    municipality = Municipality.objects.filter(code=code).first()
    if municipality is None:
        raise CommandError(_("自治体 %(code)s は登録されていません。") % {"code": code})
    return municipality


def output_from_option(value: Path | None) -> Path | None:
    """`--output`'s path (None = standard output); a directory is refused before any work."""
    if value is not None and value.is_dir():
        raise CommandError(_("--output にはファイルのパスを指定してください。"))
    return value


def write_to_file(output: Path, write: Callable[[IO[str]], int]) -> int:
    """Open `output` for the CSV writer (UTF-8; newline="" so its CRLF reaches the file as
    it is) and run `write`, which returns the rows written; a file that cannot be written is
    a CommandError naming it and why."""
    try:
        with output.open("w", encoding="utf-8", newline="") as stream:
            return write(stream)
    except OSError as error:
        raise CommandError(
            _("出力先に書き込めません: %(path)s（%(reason)s）")
            % {"path": output, "reason": error.strerror or error}
        ) from None


def export_finished(
    command: BaseCommand,
    logger: logging.Logger,
    *,
    user: Any,
    date_from: dt.date,
    date_to: dt.date,
    municipality: Municipality | None,
    count: int,
    output: Path | None,
) -> None:
    """Log the run (who, the range, the municipality, the rows; the staff member by id, since
    names never go into the logs) and tell the person at the terminal where the file went."""
    logger.info(
        "%s by %s: %s..%s, municipality %s, %d rows, to %s",
        command.__module__.rsplit(".", 1)[-1],
        f"user {user.pk}" if user is not None else f"os:{getpass.getuser()}",
        date_from.isoformat(),
        date_to.isoformat(),
        municipality.code if municipality is not None else "all",
        count,
        output or "stdout",
    )
    if output is not None:
        command.stderr.write(
            _("%(count)s行を出力しました: %(path)s") % {"count": count, "path": output}
        )
