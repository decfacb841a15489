"""Reads for the export: doses streamed as `Dose` (VRS) or `RegisterDose` (the municipal
register) values, in the order each file needs."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import CharField, Exists, F, Func, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from reservations.models import Antigen, Campaign, Program, Vaccination
from vrs_export.formats import (
    CHANNEL_LABELS,
    KIND_CANCELLATION,
    KIND_CORRECTION,
    KIND_NEW,
    Dose,
    RegisterDose,
    fold_kana,
)

T = TypeVar("T")

_COLUMNS = (
    "pk",
    "record_id",
    "version",
    "status",
    "resident_id",
    "resident__municipality__code",
    "resident__atena_number",
    "ticket__number",
    "dose_number",
    "on_digits",
    "registered_digits",
    "given_in_municipality_code",
    "site_id",
    "site_name",
    "doctor_name",
    "vaccine__vrs_maker_label",
    "vaccine__name",
    "lot_number",
    "reservation__channel",
    "confirmed",
    "previous_digits",
    "has_duplicate",
)


class DateDigits(Func):
    """A date as YYYYMMDD text, formatted by the database."""

    output_field = CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="to_char(%(expressions)s, 'YYYYMMDD')", **extra
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # %%%% survives Django's template formatting and the driver's as one literal %.
        return self.as_sql(
            compiler, connection, template="strftime('%%%%Y%%%%m%%%%d', %(expressions)s)", **extra
        )


class JstTimestampDigits(Func):
    """A timestamp as YYYYMMDDHHMMSS in JST (VRS timestamps are Japanese time)."""

    output_field = CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="to_char(%(expressions)s AT TIME ZONE 'Asia/Tokyo', 'YYYYMMDDHH24MISS')",
            **extra,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django keeps aware datetimes in SQLite as UTC text; JST has no daylight saving.
        return self.as_sql(
            compiler,
            connection,
            template="strftime('%%%%Y%%%%m%%%%d%%%%H%%%%M%%%%S', %(expressions)s, '+9 hours')",
            **extra,
        )


def _given_doses() -> QuerySet[Vaccination]:
    return Vaccination.objects.filter(
        antigen=Antigen.COVID19,
        status=Vaccination.Status.ACTIVE,
        outcome=Vaccination.Outcome.VACCINATED,
    )


def _with_neighbours(queryset: QuerySet[Vaccination]) -> QuerySet[Vaccination]:
    """Annotate the date of the dose before and whether another active record has this dose
    number: the two sequence checks of vrs.md §8.4, answered in the same query."""
    same_person = _given_doses().filter(resident_id=OuterRef("resident_id")).order_by()
    return queryset.annotate(
        on_digits=DateDigits("vaccinated_on"),
        registered_digits=JstTimestampDigits(Coalesce("registered_at", "created_at")),
        previous_digits=DateDigits(
            Subquery(
                same_person.filter(dose_number=OuterRef("dose_number") - 1).values("vaccinated_on")[
                    :1
                ]
            )
        ),
        has_duplicate=Exists(
            same_person.filter(dose_number=OuterRef("dose_number")).exclude(
                record_id=OuterRef("record_id")
            )
        ),
    )


def latest_vaccination_id() -> int:
    """The highest dose id below which every dose is committed. The next --since-last export
    starts above it, so a dose below it that committed later would never be exported.

    On PostgreSQL a transaction still open can hold an id below the current maximum (ids come
    from a sequence at INSERT time). SHARE mode waits until every open writer of the table has
    ended (they hold ROW EXCLUSIVE until then) and holds new writers off only while max() runs.
    On SQLite one writer at a time takes ids above everything committed: no lock needed."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f'LOCK TABLE "{Vaccination._meta.db_table}" IN SHARE MODE')
        return Vaccination.objects.aggregate(n=Max("pk"))["n"] or 0


def events_queryset(
    *, municipality_code: str, date_from: dt.date, date_to: dt.date, above_id: int, up_to_id: int
) -> QuerySet[Vaccination]:
    """The latest version of every dose given at this municipality's sites in the range (active
    or 取消): what the vaccinating municipality reports. A visitor vaccinated here (住所地外接種)
    is in it, their row carrying their own municipality's code."""
    return _with_neighbours(
        Vaccination.objects.filter(
            site__municipality__code=municipality_code,
            antigen=Antigen.COVID19,
            outcome=Vaccination.Outcome.VACCINATED,
            source=Vaccination.Source.OUR_SITE,
            status__in=[Vaccination.Status.ACTIVE, Vaccination.Status.CANCELLED],
            vaccinated_on__range=(date_from, date_to),
            pk__gt=above_id,
            pk__lte=up_to_id,
        )
    ).order_by("pk")


def ledger_queryset(
    *, municipality_code: str, date_from: dt.date, date_to: dt.date, up_to_id: int
) -> QuerySet[Vaccination]:
    """Every given dose (ours and imported) of each person with a dose in the range who lives
    in this municipality or was vaccinated at its sites, by person and dose number: the ledger
    holds a person's whole history on one row."""
    people = _given_doses().filter(
        Q(resident__municipality__code=municipality_code)
        | Q(site__municipality__code=municipality_code),
        vaccinated_on__range=(date_from, date_to),
        pk__lte=up_to_id,
    )
    return _with_neighbours(
        _given_doses().filter(
            resident_id__in=Subquery(people.values("resident_id")), pk__lte=up_to_id
        )
    ).order_by("resident_id", "dose_number", "pk")


def max_dose_number(queryset: QuerySet[Vaccination]) -> int:
    return queryset.order_by().aggregate(n=Max(F("dose_number")))["n"] or 0


def _kind(status: str, version: int) -> str:
    if status == Vaccination.Status.CANCELLED:
        return KIND_CANCELLATION
    return KIND_CORRECTION if version > 1 else KIND_NEW


def stream_doses(queryset: QuerySet[Vaccination]) -> Iterator[Dose]:
    return _stream(queryset, _COLUMNS, _dose)


def _stream(
    queryset: QuerySet[Vaccination],
    columns: tuple[str, ...],
    make: Callable[[tuple[Any, ...]], T],
) -> Iterator[T]:
    """Rows straight from a server-side cursor, fetched in chunks: memory stays flat whatever
    the file size, and no model instance or ORM converter runs per row."""
    values = queryset.values_list(*columns)
    sql, params = values.query.get_compiler(using=queryset.db).as_sql()
    connection = connections[queryset.db]
    chunk_size = settings.VRS_EXPORT_CHUNK_SIZE
    with transaction.atomic(using=queryset.db), connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            for row in rows:
                yield make(row)


# --- The municipal register (docs/register_export.md) -------------------------------------------

_REGISTER_COLUMNS = (
    "pk",
    "record_id",
    "version",
    "resident__atena_number",
    "resident__name_kana",
    "birth_digits",
    "on_digits",
    "vaccine__name",
    "lot_number",
    "site_name",
    "doctor_name",
    "copay_category",
    "dose_number",
    "source",
)


def register_queryset(
    *,
    program: Program,
    municipality_code: str,
    date_from: dt.date,
    date_to: dt.date,
    up_to_id: int,
) -> QuerySet[Vaccination]:
    """The current version of every dose of `program` given in the range to residents of the
    municipality, wherever it was given, by date, person and dose number.

    A dose recorded without a campaign (imported from VRS, a self-report) belongs to the
    programme of its antigen that had a campaign (national or this municipality's) on its date:
    nothing else says which programme it was given under.
    """
    covering_campaign = Campaign.objects.filter(
        Q(municipality__isnull=True) | Q(municipality__code=municipality_code),
        Q(ends_on__isnull=True) | Q(ends_on__gte=OuterRef("vaccinated_on")),
        program=program,
        starts_on__lte=OuterRef("vaccinated_on"),
    )
    return (
        Vaccination.objects.filter(
            Q(campaign__program=program)
            | (Q(campaign__isnull=True, antigen=program.antigen) & Exists(covering_campaign)),
            status=Vaccination.Status.ACTIVE,
            outcome=Vaccination.Outcome.VACCINATED,
            resident__municipality__code=municipality_code,
            vaccinated_on__range=(date_from, date_to),
            pk__lte=up_to_id,
        )
        .annotate(
            on_digits=DateDigits("vaccinated_on"),
            birth_digits=DateDigits("resident__birth_date"),
        )
        .order_by("vaccinated_on", "resident_id", "dose_number", "pk")
    )


def stream_register_doses(
    queryset: QuerySet[Vaccination], *, program_code: str
) -> Iterator[RegisterDose]:
    def make(row: tuple[Any, ...]) -> RegisterDose:
        (
            pk,
            record_id,
            version,
            atena_number,
            name_kana,
            birth_digits,
            on_digits,
            vaccine_name,
            lot_number,
            site_name,
            doctor_name,
            copay_category,
            dose_number,
            source,
        ) = row
        return RegisterDose(
            pk=pk,
            record_id=_uuid_text(record_id),
            version=version,
            atena_number=atena_number,
            name_kana=fold_kana(name_kana),
            birth_date=birth_digits or "",
            vaccinated_on=on_digits or "",
            vaccine_name=vaccine_name,
            lot_number=lot_number,
            site_name=site_name,
            doctor_name=doctor_name,
            copay_category=copay_category,
            dose_number=dose_number,
            program_code=program_code,
            given_elsewhere=source != Vaccination.Source.OUR_SITE,
        )

    return _stream(queryset, _REGISTER_COLUMNS, make)


def _dose(row: tuple[Any, ...]) -> Dose:
    (
        pk,
        record_id,
        version,
        status,
        resident_id,
        resident_municipality,
        atena_number,
        ticket_number,
        dose_number,
        on_digits,
        registered_digits,
        given_in,
        site_id,
        site_name,
        doctor_name,
        maker,
        brand,
        lot_number,
        channel,
        confirmed,
        previous_digits,
        has_duplicate,
    ) = row
    return Dose(
        pk=pk,
        record_id=_uuid_text(record_id),
        version=version,
        kind=_kind(status, version),
        resident_id=resident_id,
        resident_municipality=resident_municipality,
        atena_number=atena_number,
        ticket_number=ticket_number or "",
        dose_number=dose_number,
        vaccinated_on=on_digits,
        registered_at=registered_digits,
        given_in=given_in,
        site_code=str(site_id) if site_id else "",
        site_name=site_name,
        doctor_name=doctor_name,
        maker=maker,
        brand=brand,
        lot_number=lot_number,
        channel=CHANNEL_LABELS.get(channel or "", ""),
        confirmed=bool(confirmed),
        previous_dose_on=previous_digits or "",
        has_duplicate=bool(has_duplicate),
    )


def _uuid_text(value: Any) -> str:
    # PostgreSQL hands back uuid.UUID; SQLite the 32 hex digits Django stores there.
    return str(value) if isinstance(value, uuid.UUID) else str(uuid.UUID(value))
