"""`--from DATE --to DATE [--municipality CODE] [--output FILE]` for commands that write a
period's records as a file (the audit trail, follow-up answers): one parser, so a date is read
and refused the same way everywhere."""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _


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
