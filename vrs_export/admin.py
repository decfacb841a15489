"""The export audit trail, read-only: batches are written by the export alone."""

from __future__ import annotations

from django.contrib import admin

from reservations.admin import ReadOnlyAdmin
from reservations.admin_scope import MunicipalityScopedAdmin
from vrs_export.models import ExportBatch, ReconcileRun


@admin.register(ExportBatch)
class ExportBatchAdmin(MunicipalityScopedAdmin[ExportBatch], ReadOnlyAdmin):
    # One municipality's residents per file; a batch from before (no code): superusers only.
    scope_municipality_code_field = "municipality_code"
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
class ReconcileRunAdmin(MunicipalityScopedAdmin[ReconcileRun], ReadOnlyAdmin):
    """Written by the reconciliation alone; the file's bytes are never shown here."""

    scope_municipality_code_field = "municipality_code"

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
