"""The export audit trail, read-only: batches are written by the export alone."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from vrs_export.models import ExportBatch


@admin.register(ExportBatch)
class ExportBatchAdmin(admin.ModelAdmin[ExportBatch]):
    list_display = [
        "started_at",
        "requested_by_name",
        "via",
        "format",
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
