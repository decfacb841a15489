"""Row mapping for the booking statements (`booking_sql`): raw rows in, model instances out, and
new instances out as the values of an INSERT, exactly as the ORM would read and write them.

Columns come from the models' metadata (`ModelColumns`), values go through each field's own
converters on the way in and its `get_db_prep_save` on the way out, so a row read or written by
a hand-written statement is the row the ORM would have read or written. `SlotColumns` reads the
slot with its day and site (vaccine and campaign from the rule-data cache); `HistoryColumns`
reads the resident's history (`History`), from rows or from PostgreSQL's JSON of the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.utils import timezone

from reservations.models import OperatingDay, Reservation, Site, Slot, Vaccination
from reservations.rules.engine import HistoryDose
from reservations.selectors import campaign_cached, vaccine_cached


def converters_for(db: BaseDatabaseWrapper, field: Field[Any, Any], alias: str) -> list[Any]:
    """What the ORM applies to this column's raw value (SQLite's text datetimes, JSON …)."""
    column = field.get_col(alias)
    found = [*db.ops.get_db_converters(column), *field.get_db_converters(db)]  # type: ignore[attr-defined]  # not in django-stubs
    return [(converter, column) for converter in found]


def convert(db: BaseDatabaseWrapper, value: Any, converters: list[Any]) -> Any:
    for converter, column in converters:
        value = converter(value, column, db)
    return value


class ModelColumns:
    """The concrete columns of one model under a table alias (all, or `only` these, the rest
    deferred as with QuerySet.only), and instances built from them."""

    def __init__(
        self, db: BaseDatabaseWrapper, model: type[Model], alias: str, only: tuple[str, ...] = ()
    ) -> None:
        quote = db.ops.quote_name
        self.model = model
        self.fields = [
            field
            for field in model._meta.concrete_fields
            if not only or field.name in only or field.primary_key
        ]
        self.width = len(self.fields)
        self.attnames = [field.attname for field in self.fields]
        self.select = ", ".join(f"{alias}.{quote(field.column)}" for field in self.fields)
        self.table = f"{quote(model._meta.db_table)} {alias}"
        self._converters = [converters_for(db, field, alias) for field in self.fields]

    def build(self, db: BaseDatabaseWrapper, row: Sequence[Any], start: int = 0) -> Any:
        values = [
            convert(db, value, converters) if converters else value
            for value, converters in zip(
                row[start : start + self.width], self._converters, strict=True
            )
        ]
        return self.model.from_db(db.alias, self.attnames, values)


class SlotColumns:
    """A slot with its operating day and site, under the aliases s, d and st, in that order."""

    def __init__(self, db: BaseDatabaseWrapper) -> None:
        self.slot = ModelColumns(db, Slot, "s")
        self.day = ModelColumns(db, OperatingDay, "d")
        self.site = ModelColumns(db, Site, "st")
        self.width = self.slot.width + self.day.width + self.site.width
        self.select = f"{self.slot.select}, {self.day.select}, {self.site.select}"

    def build(self, db: BaseDatabaseWrapper, row: Sequence[Any]) -> Slot:
        """The slot from the start of `row`; the day's vaccine and campaign (and its
        programme) come from the rule-data cache, not from the row."""
        slot: Slot = self.slot.build(db, row)
        day = self.day.build(db, row, self.slot.width)
        day.site = self.site.build(db, row, self.slot.width + self.day.width)
        day.vaccine = vaccine_cached(day.vaccine_id)
        day.campaign = campaign_cached(day.campaign_id)
        slot.operating_day = day
        return slot


def insert_fields(model: type[Model]) -> list[Field[Any, Any]]:
    """The columns an INSERT of a new row writes (every local column but the serial key)."""
    meta = model._meta
    return [field for field in meta.local_concrete_fields if field is not meta.auto_field]


def prepared_values(
    db: BaseDatabaseWrapper, instance: Model, fields: list[Field[Any, Any]]
) -> list[Any]:
    """What Model.save() would send for a new row: auto_now values, each field's preparation."""
    return [field.get_db_prep_save(field.pre_save(instance, True), db) for field in fields]


def mark_saved(db: BaseDatabaseWrapper, instance: Model, pk: int) -> None:
    """Mark a new row saved, as Model.save() does. No post_save: the core announces its events
    with its own signal (reservations.signals.events_recorded), whichever path wrote them."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = db.alias


@dataclass(frozen=True)
class ActiveBooking:
    """A held or confirmed booking of the resident, as far as a new booking must know it."""

    pk: int
    code: str
    held_until: dt.datetime | None
    dose: HistoryDose


@dataclass(frozen=True)
class History:
    """What a new booking must know of the resident: their active bookings, and every dose given
    or booked as the rules see it (doses given first, then bookings, as selectors.dose_history
    orders them).

    `seen` is set when the history came with the statement that locked the resident
    (booking_context, PostgreSQL). Under READ COMMITTED a statement sees the rows committed when
    it began, so one that waited for the lock may have missed a booking the lock holder had just
    committed. booking_write therefore writes only if the history, read again in its own
    statement (which began after the lock was ours), is still exactly `seen`; otherwise the
    caller reads it again with history_read and decides again. That costs nothing in the
    common case, where the two are equal, and saves the booking a round trip."""

    active: list[ActiveBooking]
    doses: list[HistoryDose]
    seen: str | None = None


class HistoryColumns:
    """The rows of booking_sql's history statement: (kind, id, code, held_until, campaign_id,
    dose_number, vaccine_id, antigen, starts_at, vaccinated_on), kind 0 a dose given, 1 an
    active booking. The columns only one half has are NULL in the other, so their values are
    converted here by field, not by the driver."""

    # Where the columns hold times, and how to read them from PostgreSQL's JSON, which gives
    # them as ISO 8601 text: held_until, starts_at, vaccinated_on.
    JSON_TIMES = (
        (3, dt.datetime.fromisoformat),
        (8, dt.datetime.fromisoformat),
        (9, dt.date.fromisoformat),
    )

    def __init__(self, db: BaseDatabaseWrapper) -> None:
        self.held_until = converters_for(db, Reservation._meta.get_field("held_until"), "r")
        self.starts_at = converters_for(db, Slot._meta.get_field("starts_at"), "s")
        self.vaccinated_on = converters_for(db, Vaccination._meta.get_field("vaccinated_on"), "x")

    def build(self, db: BaseDatabaseWrapper, rows: Sequence[Any]) -> History:
        active: list[ActiveBooking] = []
        given: list[HistoryDose] = []
        for (
            kind,
            pk,
            code,
            held_until,
            campaign_id,
            dose_number,
            vaccine_id,
            antigen,
            starts,
            on,
        ) in rows:
            if kind == 0:
                given.append(
                    HistoryDose(
                        antigen=antigen,
                        vaccine_id=vaccine_id,
                        dose_number=dose_number,
                        on=convert(db, on, self.vaccinated_on),
                        campaign_id=campaign_id,
                    )
                )
                continue
            dose = HistoryDose(
                antigen=vaccine_cached(vaccine_id).antigen,
                vaccine_id=vaccine_id,
                dose_number=dose_number,
                on=timezone.localdate(convert(db, starts, self.starts_at)),
                campaign_id=campaign_id,
                planned=True,
            )
            active.append(
                ActiveBooking(
                    pk=pk,
                    code=code,
                    held_until=convert(db, held_until, self.held_until),
                    dose=dose,
                )
            )
        return History(active=active, doses=[*given, *(booking.dose for booking in active)])

    def from_json(self, db: BaseDatabaseWrapper, text: str) -> History:
        """The same rows as PostgreSQL's JSON text (History.seen keeps the text)."""
        rows = json.loads(text)
        for row in rows:
            for index, parse in self.JSON_TIMES:
                if row[index] is not None:
                    row[index] = parse(row[index])
        history = self.build(db, rows)
        return History(active=history.active, doses=history.doses, seen=text)
