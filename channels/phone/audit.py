"""Reads for the audit page (/phone/audit/): the rows a supervisor filters, and each row's
details in words (予約番号 698-428-787、2026年12月8日（火）10:00 日南市文化センター …) instead of
the JSON the services store (services.audit_record)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.phone.models import RecordAccess
from reservations.exceptions import ReservationError
from reservations.identifiers import IdentifierError, format_reservation_code
from reservations.localized import localized
from reservations.models import Municipality, Reservation, Resident, Slot, Ticket
from reservations.staff_panels import panel_title

T = TypeVar("T")


def audit_rows(
    *,
    municipality: Municipality,
    user_id: int | None = None,
    resident_id: int | None = None,
    ticket_number: str = "",
    action: str = "",
    channel: str = "",
    role: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[RecordAccess]:
    """The audit rows of the municipality's residents (and of the people it knows without a
    Resident row: a health centre's follow-up list), newest first, narrowed by each filter
    given. Days are local days; the range is compared on the stored instant (indexed)."""
    rows = RecordAccess.objects.filter(_of_municipality(municipality)).select_related(
        "user", "resident", "call", "municipality"
    )
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    if resident_id is not None:
        rows = rows.filter(resident_id=resident_id)
    if ticket_number:
        rows = rows.filter(
            resident__in=Resident.objects.filter(
                municipality=municipality, tickets__number=ticket_number
            )
        )
    if action:
        rows = rows.filter(action=action)
    if channel:
        rows = rows.filter(channel=channel)
    if role:
        # The stored role joins a member's role groups with "・" (channels/phone/services.py
        # staff_role): a role is one of the parts.
        rows = rows.filter(
            Q(role=role)
            | Q(role__startswith=f"{role}・")
            | Q(role__endswith=f"・{role}")
            | Q(role__contains=f"・{role}・")
        )
    tz = timezone.get_current_timezone()
    if date_from is not None:
        rows = rows.filter(at__gte=dt.datetime.combine(date_from, dt.time.min, tzinfo=tz))
    if date_to is not None:
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        rows = rows.filter(at__lt=end)
    return rows


def _of_municipality(municipality: Municipality) -> Q:
    """Rows of the municipality's residents, and rows naming someone else (no resident) that
    the municipality's own read stored."""
    return Q(resident__municipality=municipality) | Q(
        resident__isnull=True, municipality=municipality
    )


def audit_staff(*, municipality: Municipality) -> list[Any]:
    """The members of staff who appear in the municipality's audit trail (the staff filter)."""
    from django.contrib.auth import get_user_model

    ids = (
        RecordAccess.objects.filter(_of_municipality(municipality))
        .values("user_id")
        .distinct()
        .order_by()
    )
    return list(get_user_model().objects.filter(pk__in=ids).order_by("username"))


def role_label(role: str) -> str:
    """The stored role in words: staff roles are stored as their groups' (Japanese) names."""
    if role == RecordAccess.SUPERUSER_ROLE:
        return _("システム管理者")
    # Rows written before roles were recorded (migration 0005) have none.
    return role or _("（記録なし）")


@dataclass(frozen=True)
class AuditLine:
    row: RecordAccess
    text: str

    @property
    def role(self) -> str:
        return role_label(self.row.role)

    @property
    def subject(self) -> str:
        """Who was read, when it was not a resident (the 住民 column is empty then)."""
        return subject_label(self.row.subject) if self.row.resident_id is None else ""


# The kinds of person a row's subject names ("followup.person:12"), as staff call them.
SUBJECT_KINDS = {"followup.person": gettext_lazy("健康観察の対象者")}


def subject_label(subject: str) -> str:
    """A stored subject in words: 健康観察の対象者（No. 12）."""
    kind, _sep, number = subject.partition(":")
    if kind not in SUBJECT_KINDS:
        return subject
    return _("%(kind)s（No. %(number)s）") % {"kind": SUBJECT_KINDS[kind], "number": number}


def _refusal_messages() -> dict[str, str]:
    """Each core error's code and its sentence, for rows that kept only the code."""
    found: dict[str, str] = {}
    pending: list[type[ReservationError]] = [ReservationError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        message = str(cls.default_message)
        # A message filled in when raised (dates, names) cannot be shown without its values.
        if "%(" not in message:
            found.setdefault(cls.code, message)
    return found


def _lookup(mapping: dict[int, T], value: Any) -> T | None:
    """The row a detail names by id; None for an id that is gone or was never an id."""
    return mapping.get(value) if isinstance(value, int) else None


def _number(code: Any) -> str:
    try:
        return format_reservation_code(str(code))
    except IdentifierError:
        return str(code)


def _slot_text(slot: Slot | None) -> str:
    if slot is None:
        return _("（削除された枠）")
    start = timezone.localtime(slot.starts_at)
    day = slot.operating_day
    return _("%(date)s（%(weekday)s）%(time)s %(site)s（%(vaccine)s）") % {
        "date": date_format(start.date(), "DATE_FORMAT"),
        "weekday": date_format(start.date(), "D"),
        "time": start.strftime("%H:%M"),
        "site": localized(day.site),
        "vaccine": localized(day.vaccine),
    }


def _ids(rows: Iterable[RecordAccess], *keys: str) -> set[int]:
    found = set()
    for row in rows:
        for key in keys:
            value = row.detail.get(key) if isinstance(row.detail, dict) else None
            if isinstance(value, int) and not isinstance(value, bool):
                found.add(value)
    return found


def audit_lines(rows: Iterable[RecordAccess]) -> Iterator[AuditLine]:
    """Each row with its details in words. The slots, reservations and tickets the page's rows
    name are read in three queries, whatever the number of rows."""
    rows = list(rows)
    reservations = {
        r.pk: r
        for r in Reservation.objects.filter(pk__in=_ids(rows, "next_dose")).only(
            "pk", "code", "slot_id"
        )
    }
    slot_ids = _ids(rows, "slot", "from_slot", "to_slot") | {
        r.slot_id for r in reservations.values()
    }
    slots = {
        s.pk: s
        for s in Slot.objects.filter(pk__in=slot_ids).select_related(
            "operating_day__site", "operating_day__vaccine"
        )
    }
    tickets = dict(Ticket.objects.filter(pk__in=_ids(rows, "ticket")).values_list("pk", "number"))
    refusals = _refusal_messages()
    for row in rows:
        detail = row.detail if isinstance(row.detail, dict) else {}
        yield AuditLine(
            row=row, text=_describe(row.action, detail, slots, reservations, tickets, refusals)
        )


def _describe(
    action: str,
    detail: dict[str, Any],
    slots: dict[int, Slot],
    reservations: dict[int, Reservation],
    tickets: dict[int, str],
    refusals: dict[str, str],
) -> str:
    parts: list[str] = []
    if action == RecordAccess.Action.VIEWED:
        parts.append(_viewed_what(detail))
    if "code" in detail and action != RecordAccess.Action.REFUSED:
        parts.append(_("予約番号 %(code)s") % {"code": _number(detail["code"])})
    if action == RecordAccess.Action.BOOKED:
        parts.append(_slot_text(_lookup(slots, detail.get("slot"))))
        following = _lookup(reservations, detail.get("next_dose"))
        if following is not None:
            parts.append(
                _("セットの次の回 予約番号 %(code)s %(slot)s")
                % {
                    "code": _number(following.code),
                    "slot": _slot_text(slots.get(following.slot_id)),
                }
            )
    elif action == RecordAccess.Action.CHANGED:
        parts.append(
            _("%(old)s → %(new)s")
            % {
                "old": _slot_text(_lookup(slots, detail.get("from_slot"))),
                "new": _slot_text(_lookup(slots, detail.get("to_slot"))),
            }
        )
    elif action == RecordAccess.Action.CONTACT_UPDATED:
        fields = detail.get("fields") or []
        names = [_field_name(f) for f in fields if isinstance(f, str)]
        parts.append(_("変更した項目：%(fields)s") % {"fields": _("、").join(names) or "—"})
    elif action == RecordAccess.Action.REFUSED:
        message = detail.get("message") or refusals.get(str(detail.get("code", "")))
        parts.append(
            _("理由：%(message)s") % {"message": message or _("予約を処理できませんでした。")}
        )
    elif action == RecordAccess.Action.UNLOCKED:
        number = _lookup(tickets, detail.get("ticket"))
        parts.append(_("接種券番号 %(number)s") % {"number": number or "—"})
        parts.append(
            _("ロックを解除しました")
            if detail.get("cleared")
            else _("ロックはすでに解けていました（本人確認の記録のみ）")
        )
    # Translators: between the parts of an audit row's details (Japanese: 、).
    return _("、").join(parts) if parts else "—"


# The health follow-up's staff pages (channels/followup/staff.py), as staff call them.
FOLLOWUP_PAGES = {
    "followup_cohort": gettext_lazy("健康観察の当日の一覧"),
    "followup_alerts": gettext_lazy("健康観察のアラート一覧"),
    "followup_calls": gettext_lazy("健康観察の電話確認リスト"),
    "followup_person": gettext_lazy("健康観察の対象者の画面（回答・グラフ）"),
    "followup_photos": gettext_lazy("健康観察の写真の確認"),
    "followup_photo": gettext_lazy("健康観察の写真"),
    "followup_end": gettext_lazy("健康観察の終了の確認画面"),
}

# The venue's pages that show residents (channels/venue/services.py), as staff call them.
VENUE_PAGES = {
    "venue_day": gettext_lazy("会場の受付画面（当日の予約一覧）"),
    "venue_find": gettext_lazy("会場の受付での検索"),
    "venue_walk_in": gettext_lazy("会場の当日来場の画面"),
    "venue_reservation": gettext_lazy("会場の予約の画面"),
    "venue_close": gettext_lazy("会場の終了前の確認画面"),
    "venue_correction": gettext_lazy("会場の接種記録の訂正画面"),
}

# The automated voice calls' staff page (channels/voice/simulator.py), as staff call it.
VOICE_PAGES = {"voice_simulator": gettext_lazy("自動音声電話のシミュレーター")}


def _viewed_what(detail: dict[str, Any]) -> str:
    """What a read showed: the venue's booking list of a day (channels/venue/services.py), a
    health follow-up page (channels/followup/staff.py), the voice call simulator, a console
    search's result list, a booking read through the API, an exported file
    (vrs_export/services.py), or the call centre's screen of the resident (name, tickets,
    bookings, contact details, and the sections other apps add: automated voice calls)."""
    if detail.get("list") == "venue_day":
        how = _("CSVで出力") if detail.get("how") == "csv" else _("印刷")
        return _("会場の予約一覧（%(how)s）%(day)s %(site)s") % {
            "how": how,
            "day": detail.get("day", ""),
            "site": detail.get("site", ""),
        }
    page = detail.get("page", "")
    if page in FOLLOWUP_PAGES:
        return _("%(page)s %(day)s") % {
            "page": FOLLOWUP_PAGES[page],
            "day": detail.get("day", ""),
        }
    if page in VENUE_PAGES:
        return _("%(page)s %(day)s %(site)s") % {
            "page": VENUE_PAGES[page],
            "day": detail.get("day", ""),
            "site": detail.get("site", ""),
        }
    if detail.get("list") == "console_search":
        return _("電話受付の検索結果の一覧（%(count)s件）") % {"count": detail.get("results", "")}
    if detail.get("api") == "reservation":
        return _("APIで予約を参照")
    if "export" in detail:
        return _("ファイル出力（%(format)s）%(file)s") % {
            "format": detail.get("export", ""),
            "file": detail.get("file", ""),
        }
    if page in VOICE_PAGES:
        return _("%(page)s（通話 No. %(call)s）") % {
            "page": VOICE_PAGES[page],
            "call": detail.get("call", ""),
        }
    panels = detail.get("panels")
    if isinstance(panels, dict) and panels:
        # The sections other apps add to the screen (reservations/staff_panels.py).
        return _("住民の画面（氏名・接種券・予約・連絡先、%(panels)s）") % {
            "panels": _("、").join(
                _("%(title)s %(count)s件") % {"title": panel_title(name), "count": count}
                for name, count in panels.items()
            )
        }
    return _("住民の画面（氏名・接種券・予約・連絡先）")


# The contact fields as staff call them (the model's labels say how the value is stored).
CONTACT_FIELDS = {"phone": gettext_lazy("電話番号"), "sms_consent": gettext_lazy("SMSの受信")}


def _field_name(name: str) -> str:
    if name in CONTACT_FIELDS:
        return str(CONTACT_FIELDS[name])
    try:
        field = Resident._meta.get_field(name)
    except FieldDoesNotExist:  # a field renamed since the row was written
        return name
    return str(getattr(field, "verbose_name", name))


# --- Export (manage.py audit_export) -------------------------------------------------------------

# The file's layout, as municipalities' audits ask for it: fixed Japanese headings, not
# translated (a file read by other systems and spreadsheets keeps one layout).
EXPORT_HEADER = (
    "日時",
    "職員",
    "役割",
    "自治体コード",
    "操作",
    "対象",
    "住民ID",
    "接種券番号",
    "経路",
    "接続元",
)
# 住民ID is a number; the other columns are text and are neutralised by SafeWriter.
EXPORT_NUMERIC_COLUMNS = (EXPORT_HEADER.index("住民ID"),)
EXPORT_TIMEZONE = ZoneInfo("Asia/Tokyo")
# Rows described per chunk: audit_lines and the ticket numbers take a few queries per chunk,
# and memory stays flat however long the range.
EXPORT_CHUNK = 2000


def audit_export_rows(
    *, date_from: dt.date, date_to: dt.date, municipality: Municipality | None = None
) -> QuerySet[RecordAccess]:
    """The rows of the Tokyo days date_from..date_to (both included), oldest first, of one
    municipality's residents or of all. Rows from before migration 0005 that still have no
    municipality are matched through their resident."""
    start = dt.datetime.combine(date_from, dt.time.min, tzinfo=EXPORT_TIMEZONE)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=EXPORT_TIMEZONE)
    rows = RecordAccess.objects.filter(at__gte=start, at__lt=end)
    if municipality is not None:
        rows = rows.filter(
            Q(municipality=municipality)
            | Q(municipality__isnull=True, resident__municipality=municipality)
        )
    return rows.select_related("user", "municipality", "resident__municipality").order_by(
        "at", "id"
    )


def audit_export_cells(rows: QuerySet[RecordAccess]) -> Iterator[list[Any]]:
    """Each row as the export's cells (EXPORT_HEADER), in the active language's words."""
    stream = rows.iterator(chunk_size=EXPORT_CHUNK)
    while chunk := list(islice(stream, EXPORT_CHUNK)):
        numbers: dict[int, list[str]] = {}
        for resident_id, number in (
            Ticket.objects.filter(resident_id__in={row.resident_id for row in chunk})
            .order_by("resident_id", "pk")
            .values_list("resident_id", "number")
        ):
            numbers.setdefault(resident_id, []).append(number)
        for line in audit_lines(chunk):
            row = line.row
            city = row.municipality or (row.resident.municipality if row.resident else None)
            yield [
                timezone.localtime(row.at, EXPORT_TIMEZONE).strftime("%Y-%m-%d %H:%M:%S"),
                row.user.get_username(),
                line.role,
                city.code if city is not None else "",
                row.get_action_display(),
                # A person without a Resident row: who it was, before what was shown.
                _("、").join(filter(None, [line.subject, line.text])),
                row.resident_id if row.resident_id is not None else "",
                " ".join(numbers.get(row.resident_id, []) if row.resident_id else []),
                row.get_channel_display(),
                row.client_address,
            ]
