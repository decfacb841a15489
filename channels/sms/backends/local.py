"""Backends that send nothing: console (the embedded default), file, and locmem for tests."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from channels.sms.backends.base import OutboundSms, SmsBackend

# Like django.core.mail.outbox: what the locmem backend "sent", for tests to read.
outbox: list[OutboundSms] = []
_outbox_lock = threading.Lock()


class ConsoleBackend(SmsBackend):
    """Writes each message to standard output. Nothing can be lost, so nothing is looked up."""

    name = "console"

    def send(self, sms: OutboundSms) -> str:
        sys.stdout.write(f"--- SMS to {sms.to_e164} ({sms.reference})\n{sms.body}\n---\n")
        sys.stdout.flush()
        return f"console-{sms.reference}"

    def find_sent(self, sms: OutboundSms) -> str | None:
        # Printing again is harmless; there is no record to consult.
        return None


class FileBackend(SmsBackend):
    """One JSON file per message under SMS_FILE_PATH, named by the message's reference."""

    name = "file"

    def __init__(self) -> None:
        self.directory = Path(settings.SMS_FILE_PATH)

    def _path(self, sms: OutboundSms) -> Path:
        return self.directory / f"{sms.reference}.json"

    def send(self, sms: OutboundSms) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        record = {
            "reference": sms.reference,
            "to": sms.to_e164,
            "body": sms.body,
            "written_at": timezone.now().isoformat(),
        }
        temporary = self._path(sms).with_suffix(".tmp")
        temporary.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        # Rename is atomic: a reader never sees half a file, and find_sent sees all or nothing.
        temporary.replace(self._path(sms))
        return f"file-{sms.reference}"

    def find_sent(self, sms: OutboundSms) -> str | None:
        return f"file-{sms.reference}" if self._path(sms).exists() else None


class LocmemBackend(SmsBackend):
    """Appends to `outbox` in this process (tests)."""

    name = "locmem"

    def send(self, sms: OutboundSms) -> str:
        with _outbox_lock:
            outbox.append(sms)
        return f"locmem-{sms.reference}"

    def find_sent(self, sms: OutboundSms) -> str | None:
        with _outbox_lock:
            found = any(sent.reference == sms.reference for sent in outbox)
        return f"locmem-{sms.reference}" if found else None
