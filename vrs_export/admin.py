"""The export audit trail, read-only: batches are written by the export alone."""

from __future__ import annotations

from django.contrib import admin

from reservations.admin import ReadOnlyAdmin
from vrs_export.models import ExportBatch, ReconcileRun


@admin.register(ExportBatch)
class ExportBatchAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "requested_by_name",
        "via",
        "format",
        "program_code",
        "encoding",
        "date_from",
        "date_to",
        "since_last",
        "status",
        "row_count",
        "invalid_count",
    ]
    list_filter = ["format", "status", "via"]
    date_hierarchy = "started_at"


@admin.register(ReconcileRun)
class ReconcileRunAdmin(ReadOnlyAdmin):
    """Written by the reconciliation alone; the file's bytes are never shown here."""

    list_display = [
        "started_at",
        "requested_by_name",
        "via",
        "mode",
        "file_name",
        "imported",
        "cancelled",
        "conflicts",
        "findings",
        "problems",
    ]
    list_filter = ["mode", "via"]
    date_hierarchy = "started_at"
    exclude = ["content"]
