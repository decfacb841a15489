"""The statements of the booking hot path, written out once instead of built by the ORM per call.

Why: at ticket-mailing peaks every booking pays for its statements. On the two-core machines we
run on, compiling the ORM's queries cost more CPU than PostgreSQL spent executing them (a wide
select_related compiled in ~0.7 ms), planning them cost PostgreSQL more than running them, and
each round trip costs both sides a context switch. So a booking here is four round trips on
PostgreSQL, one fewer than the raw-SQL baseline of bench/booking_contention.py
(docs/benchmarks.md): BEGIN; the slot, the resident locked and their history; seat +
reservation + event, written only if that history is still current; COMMIT. (History explains
why the history is checked again.)

Tables, and the columns of every whole row read or written, come from the models' metadata;
values go through the fields' own preparation and conversion (`booking_rows`, the row mapping
beside these statements), so the rows written and read are the ones the ORM would write and
read. The SQL is plain enough for PostgreSQL and SQLite, except
the history, which PostgreSQL hands over as one JSON value, and the one data-modifying WITH,
which SQLite lacks: there the history is a statement of its own and the seat and the two rows
are three, in the same transaction, with the same result. Everything that is not the
per-booking path stays on the ORM.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

from reservations.models import (
    Reservation,
    ReservationEvent,
    Resident,
    Slot,
    Vaccination,
)
from reservations.services.booking_rows import (
    History,
    HistoryColumns,
    ModelColumns,
    SlotColumns,
    insert_fields,
    mark_saved,
    prepared_values,
)

_ACTIVE = tuple(str(status) for status in Reservation.ACTIVE_STATUSES)
_TYPE_MODIFIERS = re.compile(r"\(.*\)")  # varchar(12) -> varchar


def _db() -> BaseDatabaseWrapper:
    # The wrapper itself, not django.db.connection: every attribute read through that proxy
    # costs a context-local lookup, and a booking makes dozens of them.
    return connections[DEFAULT_DB_ALIAS]


class _Statements:
    """Built on first use for one kind of database, then kept for the life of the process."""

    def __init__(self, db: BaseDatabaseWrapper) -> None:
        quote = db.ops.quote_name
        self.context = SlotColumns(db)
        # What the rules need of the resident; their name, address and phone stay unread.
        self.resident = ModelColumns(
            db, Resident, "r", only=("municipality", "birth_date", "high_risk_attested")
        )
        # The day's vaccine and campaign come from the rule-data cache (selectors).
        context = self.context.select
        joins = (
            f"JOIN {self.context.day.table} ON d.id = s.operating_day_id "
            f"JOIN {self.context.site.table} ON st.id = d.site_id"
        )
        slots = self.context.slot.table
        self.slot_context = f"SELECT {context} FROM {slots} {joins} WHERE s.id = %s"
        statuses = ", ".join("%s" for _status in _ACTIVE)
        # Both halves of the history in one statement: doses given (kind 0), then active
        # bookings (kind 1), each in id order. The columns only one half has are NULL in the
        # other (booking_rows.HistoryColumns converts them by field). A booking's antigen is
        # its vaccine's, from the rule-data cache. Parameters: _history_params.
        history = (
            "SELECT 1 AS kind, hr.id, hr.code, hr.held_until, hr.campaign_id, hr.dose_number, "
            "hr.vaccine_id, NULL AS antigen, hs.starts_at, NULL AS vaccinated_on "
            f"FROM {quote(Reservation._meta.db_table)} hr "
            f"JOIN {quote(Slot._meta.db_table)} hs ON hs.id = hr.slot_id "
            f"WHERE hr.resident_id = %s AND hr.status IN ({statuses}) "
            "UNION ALL "
            "SELECT 0, hx.id, NULL, NULL, hx.campaign_id, hx.dose_number, hx.vaccine_id, "
            "hx.antigen, NULL, hx.vaccinated_on "
            f"FROM {quote(Vaccination._meta.db_table)} hx "
            "WHERE hx.resident_id = %s AND hx.status = %s AND hx.outcome = %s"
        )
        self.history = f"{history} ORDER BY 1, 2"
        self.history_as_json = ""
        history_column = ""
        if db.vendor == "postgresql":
            # The same rows as one text value: it rides along with the statement that takes
            # the lock, and the write compares it with the history as it is by then (History).
            # Ordered, so that equal rows always give equal text.
            self.history_as_json = (
                "SELECT coalesce(json_agg(json_build_array(h.kind, h.id, h.code, h.held_until, "
                "h.campaign_id, h.dose_number, h.vaccine_id, h.antigen, h.starts_at, "
                "h.vaccinated_on) ORDER BY h.kind, h.id), "
                f"'[]')::text FROM ({history}) h"
            )
            history_column = f", ({self.history_as_json})"
        # FOR UPDATE OF r: the resident row only. SQLite has no row locks; its IMMEDIATE
        # transactions already let one writer in at a time.
        lock = " FOR UPDATE OF r" if db.features.has_select_for_update_of else ""
        self.booking_context = (
            f"SELECT {context}, {self.resident.select}{history_column} "
            f"FROM {slots} {joins} CROSS JOIN {self.resident.table} "
            f"WHERE s.id = %s AND r.id = %s{lock}"
        )
        self.history_rows = HistoryColumns(db)

        booked, booked_staff = quote("booked"), quote("booked_staff")
        capacity = quote("capacity")
        seat_take = (
            f"UPDATE {quote(Slot._meta.db_table)} "
            f"SET {booked} = {booked} + 1, {booked_staff} = {booked_staff} + %s "
            f"WHERE id = %s AND {booked} < {capacity}"
        )
        # booked + unused reserve < capacity, with unused reserve = max(0, reserved - staff):
        # equivalently booked < capacity and booked < capacity - reserved + booked_staff. The
        # same arithmetic as Slot.seats_left(staff=False) > 0, which pages show; the two must
        # change together (tests/reservations/test_booking.py checks them against each other).
        seat_take_public = (
            f"{seat_take} AND {booked} < {capacity} - {quote('phone_reserved')} + {booked_staff}"
        )
        self.seat_take = {False: seat_take, True: seat_take_public}

        self.reservation_fields = insert_fields(Reservation)
        self.event_fields = insert_fields(ReservationEvent)
        # In the WITH, an event's reservation_id comes from the reservation just inserted.
        self.event_fields_after_booking = [
            field for field in self.event_fields if field.attname != "reservation_id"
        ]
        self.reservation_insert = self.insert(db, Reservation, skip_on_conflict="code")
        self.event_insert = self.insert(db, ReservationEvent)
        # Keyed by (phone reserve applies, history to compare).
        self.booking_write: dict[tuple[bool, bool], str] = {}
        if db.features.can_return_columns_from_insert and db.vendor == "postgresql":
            self.booking_write = {
                (public, guarded): self._booking_write(db, seat, guarded=guarded)
                for public, seat in self.seat_take.items()
                for guarded in (False, True)
            }

    def insert(
        self, db: BaseDatabaseWrapper, model: type[Model], skip_on_conflict: str = ""
    ) -> str:
        quote = db.ops.quote_name
        fields = insert_fields(model)
        statement = (
            f"INSERT INTO {quote(model._meta.db_table)} "
            f"({', '.join(quote(field.column) for field in fields)}) "
            f"VALUES ({', '.join('%s' for _field in fields)})"
        )
        if skip_on_conflict:
            statement += f" ON CONFLICT ({quote(skip_on_conflict)}) DO NOTHING"
        if db.features.can_return_columns_from_insert:
            statement += f" RETURNING {quote(model._meta.pk.column)}"
        return statement

    def _booking_write(self, db: BaseDatabaseWrapper, seat_take: str, *, guarded: bool) -> str:
        """Seat, reservation and event in one statement (PostgreSQL). The reservation is
        inserted only if the seat was taken, the event only if the reservation was; a taken
        予約番号 inserts neither row and is answered by the caller. `guarded`: the seat is taken
        only if the resident's history, as this statement sees it, is the text given first."""
        quote = db.ops.quote_name

        def typed(field: Field[Any, Any]) -> str:
            # INSERT … SELECT does not give parameters the target column's type as VALUES
            # does, so each is cast; without a length, so an over-long value is an error
            # (as it is for the ORM) rather than cut short.
            cast_type = field.cast_db_type(db)  # type: ignore[attr-defined]  # not in django-stubs
            base_type = _TYPE_MODIFIERS.sub("", cast_type or "")
            return f"CAST(%s AS {base_type})"

        reservation_columns = ", ".join(quote(f.column) for f in self.reservation_fields)
        event_fields = self.event_fields_after_booking
        event_columns = ", ".join(quote(f.column) for f in event_fields)
        fresh, current = "", "true"
        if guarded:
            fresh = f"fresh AS (SELECT ({self.history_as_json}) = %s AS same), "
            seat_take = f"{seat_take} AND (SELECT same FROM fresh)"
            current = "(SELECT same FROM fresh)"
        return (
            f"WITH {fresh}seat AS ({seat_take} RETURNING id), "
            f"booking AS (INSERT INTO {quote(Reservation._meta.db_table)} ({reservation_columns}) "
            f"SELECT {', '.join(typed(f) for f in self.reservation_fields)} FROM seat "
            f"ON CONFLICT ({quote('code')}) DO NOTHING RETURNING id), "
            f"event AS (INSERT INTO {quote(ReservationEvent._meta.db_table)} "
            f"({quote('reservation_id')}, {event_columns}) "
            f"SELECT booking.id, {', '.join(typed(f) for f in event_fields)} FROM booking "
            "RETURNING id) "
            f"SELECT {current}, (SELECT count(*) FROM seat), (SELECT id FROM booking), "
            "(SELECT id FROM event)"
        )


_statements: dict[str, _Statements] = {}


def _sql(db: BaseDatabaseWrapper) -> _Statements:
    statements = _statements.get(db.vendor)
    if statements is None:
        statements = _statements[db.vendor] = _Statements(db)
    return statements


def _cursor(db: BaseDatabaseWrapper) -> Any:
    """A cursor for the statements here. On PostgreSQL it binds parameters on the server, so
    that psycopg prepares each statement after a few runs on a connection (prepare_threshold,
    config/settings.py) and PostgreSQL stops planning it for every booking: planning the slot
    read alone took 0.7 ms, ten times its execution. The rest of the project keeps Django's
    client-side binding, which prepares nothing.

    While queries are being recorded (DEBUG, assertNumQueries) the ordinary cursor is used,
    because Django can only write down the SQL of client-side bound statements."""
    if db.vendor != "postgresql" or db.queries_logged:
        return db.cursor()
    from django.db.backends.postgresql.base import (  # type: ignore[attr-defined]
        ServerBindingCursor,  # Django 4.2+, not in django-stubs
    )

    db.ensure_connection()
    db.validate_thread_sharing()
    return db.make_cursor(ServerBindingCursor(db.connection))


# --- Reads --------------------------------------------------------------------------------------


def slot_with_day(slot_id: int) -> Slot:
    """The slot with its operating day and site (one statement), vaccine, campaign and
    programme (rule data, cached per process)."""
    db = _db()
    sql = _sql(db)
    with _cursor(db) as cursor:
        cursor.execute(sql.slot_context, [slot_id])
        row = cursor.fetchone()
    if row is None:
        raise Slot.DoesNotExist(f"Slot {slot_id} does not exist")
    return sql.context.build(db, row)


def _history_params(resident_id: int) -> list[Any]:
    return [
        resident_id,
        *_ACTIVE,
        resident_id,
        str(Vaccination.Status.ACTIVE),
        str(Vaccination.Outcome.VACCINATED),
    ]


def booking_context(slot_id: int, resident_id: int) -> tuple[Slot, Resident, History]:
    """slot_with_day, the resident read FOR UPDATE, and the resident's history. Inside a
    transaction. One statement on PostgreSQL (see History for why that is safe), two on SQLite,
    whose IMMEDIATE transactions let one writer in at a time."""
    db = _db()
    sql = _sql(db)
    history_params = _history_params(resident_id) if sql.history_as_json else []
    with _cursor(db) as cursor:
        cursor.execute(sql.booking_context, [*history_params, slot_id, resident_id])
        row = cursor.fetchone()
    if row is None:
        # Tickets always name a resident, so the slot is what is missing.
        raise Slot.DoesNotExist(f"Slot {slot_id} does not exist")
    width = sql.context.width
    resident: Resident = sql.resident.build(db, row, width)
    slot = sql.context.build(db, row)
    if sql.history_as_json:
        history = sql.history_rows.from_json(db, row[width + sql.resident.width])
    else:
        history = history_read(resident_id)
    return slot, resident, history


def history_read(resident_id: int) -> History:
    """The resident's history, current as of this statement (`seen` is not set)."""
    db = _db()
    sql = _sql(db)
    with _cursor(db) as cursor:
        cursor.execute(sql.history, _history_params(resident_id))
        rows = cursor.fetchall()
    return sql.history_rows.build(db, rows)


# --- Writes -------------------------------------------------------------------------------------


def seat_take(slot_id: int, *, staff: bool, phone_reserve_applies: bool) -> bool:
    """Take one seat if one is free for this kind of channel: check and increment in one
    statement, so the row lock lives for that statement only and two takers cannot both pass."""
    db = _db()
    with _cursor(db) as cursor:
        cursor.execute(_sql(db).seat_take[phone_reserve_applies], [1 if staff else 0, slot_id])
        return bool(cursor.rowcount == 1)


def _insert(db: BaseDatabaseWrapper, statement: str, instance: Model, fields: list[Any]) -> bool:
    with _cursor(db) as cursor:
        cursor.execute(statement, prepared_values(db, instance, fields))
        if db.features.can_return_columns_from_insert:
            # Not rowcount: SQLite sets it for INSERT … RETURNING only once rows are fetched.
            returned = cursor.fetchone()
            if returned is None:
                return False
            (pk,) = returned
        elif cursor.rowcount == 1:
            pk = cursor.lastrowid
        else:
            return False
    mark_saved(db, instance, pk)
    return True


def reservation_insert(reservation: Reservation) -> bool:
    """INSERT a new reservation; False, and nothing written, if its 予約番号 is taken. Other
    constraint violations raise IntegrityError as they would from save()."""
    db = _db()
    sql = _sql(db)
    return _insert(db, sql.reservation_insert, reservation, sql.reservation_fields)


def event_insert(event: ReservationEvent) -> None:
    db = _db()
    sql = _sql(db)
    _insert(db, sql.event_insert, event, sql.event_fields)


class Write(enum.Enum):
    """What booking_write did."""

    DONE = "done"  # seat, reservation and event written
    SLOT_FULL = "slot_full"  # no seat was free; nothing written
    # The seat is taken but neither row is written: the caller inserts them (reservation_insert,
    # then event_insert). On PostgreSQL when the reservation's 予約番号 was already in use; on
    # SQLite always, as it has no data-modifying WITH.
    ROWS_LEFT = "rows_left"
    HISTORY_CHANGED = "history_changed"  # not History.seen any more; nothing written


def booking_write(
    reservation: Reservation,
    event: ReservationEvent,
    *,
    staff: bool,
    phone_reserve_applies: bool,
    history: History,
) -> Write:
    """Take a seat in the reservation's slot, then insert the reservation and its event; if
    the history was read with the lock (History.seen), only while it is unchanged."""
    db = _db()
    sql = _sql(db)
    if not sql.booking_write:
        if not seat_take(
            reservation.slot_id, staff=staff, phone_reserve_applies=phone_reserve_applies
        ):
            return Write.SLOT_FULL
        return Write.ROWS_LEFT
    guarded = history.seen is not None
    params = [
        *([*_history_params(reservation.resident_id), history.seen] if guarded else []),
        1 if staff else 0,
        reservation.slot_id,
        *prepared_values(db, reservation, sql.reservation_fields),
        *prepared_values(db, event, sql.event_fields_after_booking),
    ]
    with _cursor(db) as cursor:
        cursor.execute(sql.booking_write[phone_reserve_applies, guarded], params)
        current, seats, reservation_pk, event_pk = cursor.fetchone()
    if not current:
        return Write.HISTORY_CHANGED
    if not seats:
        return Write.SLOT_FULL
    if reservation_pk is None:
        return Write.ROWS_LEFT
    mark_saved(db, reservation, reservation_pk)
    event.reservation = reservation
    mark_saved(db, event, event_pk)
    return Write.DONE
