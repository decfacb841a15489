"""An iCalendar (RFC 5545) file for one booking, so a resident can add it to their phone."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from reservations.identifiers import format_reservation_code
from reservations.models import Reservation


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    # Lines longer than 75 octets are folded (RFC 5545 §3.1); never split a UTF-8 character.
    encoded = line.encode()
    if len(encoded) <= 75:
        return line
    parts: list[str] = []
    current = b""
    for char in line:
        piece = char.encode()
        if len(current) + len(piece) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += piece
    parts.append(current.decode())
    return "\r\n ".join(parts)


def reservation_ics(reservation: Reservation, *, host: str) -> str:
    slot = reservation.slot
    site = slot.operating_day.site
    code = format_reservation_code(reservation.code)
    description = f"予約番号 {code}\n{reservation.vaccine.name} {reservation.dose_number}回目"
    if site.what_to_bring:
        description += f"\n持ち物: {site.what_to_bring}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Madoguchi//Resident web//JA",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{reservation.code}@{host.split(':')[0] or 'madoguchi'}",
        f"DTSTAMP:{_utc(timezone.now())}",
        f"DTSTART:{_utc(slot.starts_at)}",
        f"DTEND:{_utc(slot.ends_at)}",
        f"SUMMARY:{_escape('ワクチン接種 ' + site.name)}",
        f"LOCATION:{_escape(' '.join(filter(None, [site.name, site.address])))}",
        f"DESCRIPTION:{_escape(description)}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
