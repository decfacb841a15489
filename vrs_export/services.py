"""Writing an export file (the VRS layouts, the municipal register): validate every record,
stream rows, publish the file atomically, audit.

A refused export leaves nothing behind: rows go to a temporary file beside the target, which is
renamed into place only when every record passed (or `skip_invalid` was asked for).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import itertools
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from reservations import audit
from reservations.models import Municipality, Program, Site, Vaccination
from reservations.staff_scope import staff_scope
from vrs_export.formats import (
    EVENTS_HEADER,
    LEDGER_BLOCK_FIELDS,
    REGISTER_HEADER,
    Dose,
    RegisterDose,
    dose_problems,
    encoding_problems,
    format_timestamp,
    ledger_header,
    maker_labels,
    register_problems,
)
from vrs_export.models import ExportBatch
from vrs_export.selectors import (
    events_queryset,
    latest_vaccination_id,
    ledger_queryset,
    max_dose_number,
    register_queryset,
    stream_doses,
    stream_register_doses,
)

T = TypeVar("T")

# How many problem lines an audited batch keeps (all of them are reported to the caller).
PROBLEMS_KEPT = 200


class ExportRefused(Exception):
    """Some records failed validation and `skip_invalid` was not given: nothing was written."""

    def __init__(self, batch: ExportBatch) -> None:
        super().__init__(f"{batch.invalid_count} invalid records")
        self.batch = batch


class ExportOptionsInvalid(ValueError):
    pass


@dataclass
class ExportRequest:
    format: str
    date_from: dt.date
    date_to: dt.date
    encoding: str = ExportBatch.Encoding.UTF8
    since_last: bool = False
    skip_invalid: bool = False
    via: str = ExportBatch.Via.COMMAND
    user: Any = None
    user_name: str = ""
    now: dt.datetime = field(default_factory=timezone.now)
    # The register only: whose programme (Program.code).
    program_code: str = ""
    # Whose residents (every format): blank means the deployment's only municipality; check()
    # fills it in.
    municipality_code: str = ""
    # Where a web export was asked from (the audit trail's 接続元); blank for a command.
    client_address: str = ""

    def check(self) -> Program | None:
        """Refuse impossible options; the register's programme when the format is register."""
        if self.format not in ExportBatch.Format.values:
            raise ExportOptionsInvalid(_("形式は ledger, events, register のいずれかです。"))
        if self.encoding not in ExportBatch.Encoding.values:
            raise ExportOptionsInvalid(_("文字コードは utf-8, utf-8-sig, cp932 のいずれかです。"))
        if self.date_from > self.date_to:
            raise ExportOptionsInvalid(_("期間の開始日が終了日より後です。"))
        if self.since_last and self.format != ExportBatch.Format.EVENTS:
            raise ExportOptionsInvalid(_("前回からの差分は events 形式でのみ出力できます。"))
        self.municipality_code = self._municipality()
        if self.format != ExportBatch.Format.REGISTER:
            if self.program_code:
                raise ExportOptionsInvalid(_("接種事業は台帳（register）形式でのみ指定できます。"))
            return None
        if not self.program_code:
            raise ExportOptionsInvalid(_("台帳（register）形式には接種事業の指定が必要です。"))
        program = Program.objects.filter(code=self.program_code).first()
        if program is None:
            raise ExportOptionsInvalid(
                _("接種事業「%(code)s」は登録されていません。") % {"code": self.program_code}
            )
        return program

    def _municipality(self) -> str:
        """Whose residents the file holds: one municipality per file, always. Named, or the
        only one the deployment serves (HOME_MUNICIPALITY_CODE); serving several, it must be
        named, so a file never mixes two cities under one code."""
        code = self.municipality_code
        if not code:
            # Served: it has sites here (a municipality row may also exist only as a visitor's
            # home, or as where a dose was given elsewhere).
            if Site.objects.exclude(municipality__code=settings.HOME_MUNICIPALITY_CODE).exists():
                raise ExportOptionsInvalid(
                    _(
                        "この環境には複数の自治体があります。1つのファイルには1つの自治体だけを"
                        "出力するため、自治体の団体コードを指定してください（コマンドの "
                        "--municipality）。"
                    )
                )
            code = settings.HOME_MUNICIPALITY_CODE
        municipality = Municipality.objects.filter(code=code).first()
        if municipality is None:
            raise ExportOptionsInvalid(_("自治体 %(code)s は登録されていません。") % {"code": code})
        # A named member of staff (the page's user, a command's --user) exports only the
        # municipalities they work for (reservations/staff_scope.py).
        if getattr(self.user, "pk", None) is not None and not staff_scope(
            self.user
        ).covers_municipality(municipality.pk):
            raise ExportOptionsInvalid(
                _("%(user)s は自治体 %(code)s の担当ではないため、出力できません。")
                % {"user": self.user.get_username(), "code": code}
            )
        return code


def file_name_for(request: ExportRequest) -> str:
    stamp = format_timestamp(request.now)
    if request.format == ExportBatch.Format.REGISTER:
        return f"register_{request.program_code}_{request.municipality_code}_{stamp}.csv"
    prefix = "vrs_ledger" if request.format == ExportBatch.Format.LEDGER else "dose_events"
    return f"{prefix}_{request.municipality_code}_{stamp}.csv"


def _previous_high_water(municipality_code: str) -> int:
    """The mark of this municipality's last written events file (each city has its own
    deltas). A batch from before files were per municipality (blank code) was the home
    city's: the only one then."""
    codes = [municipality_code]
    if municipality_code == settings.HOME_MUNICIPALITY_CODE:
        codes.append("")
    last = (
        ExportBatch.objects.filter(
            format=ExportBatch.Format.EVENTS,
            status=ExportBatch.Status.WRITTEN,
            municipality_code__in=codes,
        )
        .order_by("-id")
        .values_list("high_water_id", flat=True)
        .first()
    )
    return last or 0


Problem = Callable[[str], None]


class _Rows:
    """Turns doses into validated rows and keeps the counts."""

    def __init__(self, request: ExportRequest, on_problem: Problem) -> None:
        self.request = request
        self.today = timezone.localdate(request.now).strftime("%Y%m%d")
        self.on_problem = on_problem
        self.invalid = 0
        self.written = 0
        self.kept: list[str] = []
        self.makers = maker_labels()
        self.copay_codes = frozenset(Vaccination.CopayCategory.values)

    def _report(self, label: str, problems: list[str]) -> None:
        self.invalid += 1
        line = f"{label}: {'; '.join(problems)}"
        if len(self.kept) < PROBLEMS_KEPT:
            self.kept.append(line)
        self.on_problem(line)

    def _check(self, dose: Dose, values: list[str], *, strict: bool) -> bool:
        problems = dose_problems(dose, today=self.today, strict_sequence=strict, makers=self.makers)
        problems += encoding_problems(values, self.request.encoding)
        if problems:
            self._report(dose.label, problems)
            return False
        return True

    def events(self, doses: Iterable[Dose]) -> Iterator[list[str]]:
        for dose in doses:
            row = dose.events_row()
            if self._check(dose, row, strict=False):
                if dose.dose_number > 1 and not dose.previous_dose_on:
                    # Earlier doses may have been given elsewhere (vrs.md §8.4 rule 5): say so,
                    # but the dose itself is valid and goes out.
                    self.on_problem(
                        _("注意（出力します）: %(label)s: 前の回の記録が本システムにありません")
                        % {"label": dose.label}
                    )
                self.written += 1
                yield row

    def register(self, doses: Iterable[RegisterDose]) -> Iterator[list[str]]:
        for dose in doses:
            row = dose.register_row()
            problems = register_problems(dose, today=self.today, copay_codes=self.copay_codes)
            problems += encoding_problems(row, self.request.encoding)
            if problems:
                self._report(dose.label, problems)
                continue
            self.written += 1
            yield row

    def ledger(self, doses: Iterable[Dose], blocks: int) -> Iterator[list[str]]:
        for _resident_id, group in itertools.groupby(doses, key=lambda d: d.resident_id):
            person = list(group)  # one person's doses: a handful, never the whole file
            row = [person[0].atena_number]
            ok = True
            for expected, dose in enumerate(person, start=1):
                block = dose.ledger_block()
                ok = self._check(dose, [row[0], *block], strict=True) and ok
                if dose.dose_number != expected:
                    self._report(dose.label, [_("接種回数が1から連続していません")])
                    ok = False
                row.extend(block)
            if ok:
                row.extend([""] * (len(LEDGER_BLOCK_FIELDS) * blocks + 1 - len(row)))
                self.written += 1
                yield row


def vrs_export_write(
    *,
    request: ExportRequest,
    target: Path,
    on_problem: Problem = lambda line: None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ExportBatch:
    """Write the file (any format) to `target` and record the batch, or raise ExportRefused
    (no file)."""
    program = request.check()
    up_to_id = latest_vaccination_id()
    rows = _Rows(request, on_problem)
    header: list[str]
    lines: Iterable[list[str]]
    if program is not None:
        register = register_queryset(
            program=program,
            municipality_code=request.municipality_code,
            date_from=request.date_from,
            date_to=request.date_to,
            up_to_id=up_to_id,
        )
        source = register
        header = list(REGISTER_HEADER)
        doses = stream_register_doses(register, program_code=program.code)
        lines = rows.register(_counting(doses, register, on_progress))
    elif request.format == ExportBatch.Format.EVENTS:
        events = events_queryset(
            municipality_code=request.municipality_code,
            date_from=request.date_from,
            date_to=request.date_to,
            above_id=_previous_high_water(request.municipality_code) if request.since_last else 0,
            up_to_id=up_to_id,
        )
        source = events
        header = list(EVENTS_HEADER)
        lines = rows.events(_counting(stream_doses(events), events, on_progress))
    else:
        ledger = ledger_queryset(
            municipality_code=request.municipality_code,
            date_from=request.date_from,
            date_to=request.date_to,
            up_to_id=up_to_id,
        )
        source = ledger
        blocks = max(settings.VRS_LEDGER_MIN_DOSE_BLOCKS, max_dose_number(ledger))
        header = ledger_header(blocks)
        lines = rows.ledger(_counting(stream_doses(ledger), ledger, on_progress), blocks)

    digest = _publish(
        target,
        header,
        lines,
        encoding=request.encoding,
        # Asked only once every row went through: until then nobody knows.
        refuse=lambda: rows.invalid > 0 and not request.skip_invalid,
    )
    refused = digest is None
    batch = ExportBatch.objects.create(
        format=request.format,
        encoding=request.encoding,
        date_from=request.date_from,
        date_to=request.date_to,
        program_code=request.program_code,
        municipality_code=request.municipality_code,
        since_last=request.since_last,
        skip_invalid=request.skip_invalid,
        status=ExportBatch.Status.REFUSED if refused else ExportBatch.Status.WRITTEN,
        row_count=0 if refused else rows.written,
        invalid_count=rows.invalid,
        sha256=digest or "",
        file_name="" if refused else file_name_for(request),
        high_water_id=up_to_id,
        problems=rows.kept,
        via=request.via,
        requested_by=request.user if getattr(request.user, "pk", None) else None,
        requested_by_name=request.user_name,
        started_at=request.now,
    )
    if refused:
        raise ExportRefused(batch)
    _export_audit(request, batch, source)
    return batch


def _export_audit(
    request: ExportRequest, batch: ExportBatch, source: QuerySet[Vaccination]
) -> None:
    """A written file is a read of every resident whose doses it drew on: one audit row each
    (reservations/audit.py), so "who saw my record" finds the export. A command run without
    --user names nobody to attribute rows to; its batch still records the account that ran it."""
    if getattr(request.user, "pk", None) is None:
        return
    residents = source.order_by().values_list("resident_id", "resident__municipality_id").distinct()
    audit.personal_data_shown(
        user=request.user,
        channel=audit.EXPORTS if request.via == ExportBatch.Via.WEB else audit.COMMAND,
        reads=(
            audit.ReadOf(resident_id=resident_id, municipality_id=municipality_id)
            for resident_id, municipality_id in residents.iterator()
        ),
        detail={"export": batch.format, "batch": batch.pk, "file": batch.file_name},
        now=request.now,
        client_address=request.client_address,
    )


def _publish(
    target: Path,
    header: list[str],
    lines: Iterable[list[str]],
    *,
    encoding: str,
    refuse: Callable[[], bool],
) -> str | None:
    """Write the rows to a temporary file beside `target` and rename it into place, unless
    `refuse()` says otherwise once they are written. The file's SHA-256, or None if refused."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".vrs-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as raw:
            digest = _HashingWriter(raw)
            text = io.TextIOWrapper(
                io.BufferedWriter(digest, buffer_size=1 << 16),
                encoding=encoding,
                errors="strict",
                newline="",
            )
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(header)
            writer.writerows(lines)
            text.flush()
            text.detach().flush()
        if refuse():
            os.unlink(temporary)
            return None
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return digest.hexdigest()


def _counting(
    doses: Iterator[T],
    queryset: QuerySet[Vaccination],
    on_progress: Callable[[int, int], None] | None,
) -> Iterator[T]:
    """The doses, reporting progress when asked (which costs one COUNT first)."""
    if on_progress is None:
        yield from doses
        return
    total = queryset.count()
    for done, dose in enumerate(doses, start=1):
        if done % 1000 == 0 or done == total:
            on_progress(done, total)
        yield dose


class _HashingWriter(io.RawIOBase):
    """A binary sink that hashes what passes through, so the checksum costs no second read."""

    def __init__(self, raw: io.BufferedWriter | Any) -> None:
        self._raw = raw
        self._sha = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._sha.update(chunk)
        self._raw.write(chunk)
        return len(chunk)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()
