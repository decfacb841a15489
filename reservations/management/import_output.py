"""What the list imports (import_residents, followup_import) share on the command line: opening
the file with a Japanese message when it cannot be, and writing the warnings and bad rows.

One home, so every import reports a missing file and its bad rows the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from reservations.services.residents import RowError

# A list with a wrong column mapping can make every row bad; past this many lines the terminal
# is no longer useful, and the count of the rest is enough.
MAX_ERRORS_SHOWN = 1000


def import_file_open(path: str) -> BinaryIO:
    """The file opened for reading, or a CommandError saying why it cannot be. Opened apart
    from the caller's with block (which closes it) so that only a failure to open is reported
    as such, not a read error in the middle of the import."""
    try:
        return open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise CommandError(
            _("ファイルを開けません: %(path)s（%(reason)s）")
            % {"path": path, "reason": exc.strerror}
        ) from None


def import_problems_write(
    command: BaseCommand, *, warnings: Sequence[str], errors: Sequence[RowError]
) -> None:
    """The file's warnings, then its bad rows by line (at most MAX_ERRORS_SHOWN), on stderr."""
    for warning in warnings:
        command.stderr.write(command.style.WARNING(warning))
    for error in errors[:MAX_ERRORS_SHOWN]:
        command.stderr.write(
            _("%(line)d行目: %(message)s") % {"line": error.line, "message": error.message}
        )
    hidden = len(errors) - MAX_ERRORS_SHOWN
    if hidden > 0:
        command.stderr.write(_("ほか%(count)d行のエラーは省略しました。") % {"count": hidden})
