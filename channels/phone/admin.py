from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from channels.phone.models import Call, CallVolumeEvent, OperatorAssignment, RecordAccess
from reservations.admin import ReadOnlyAdmin


@admin.register(OperatorAssignment)
class OperatorAssignmentAdmin(admin.ModelAdmin[OperatorAssignment]):
    list_display = ["user", "municipality"]
    autocomplete_fields = ["user"]


@admin.register(CallVolumeEvent)
class CallVolumeEventAdmin(admin.ModelAdmin[CallVolumeEvent]):
    list_display = ["date", "kind", "multiplier", "municipality", "note"]
    list_filter = ["kind", "municipality"]


@admin.register(Call)
class CallAdmin(admin.ModelAdmin[Call]):
    list_display = ["started_at", "operator", "purpose", "outcome", "handling_seconds"]
    list_filter = ["outcome", "purpose"]
    date_hierarchy = "started_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RecordAccess)
class RecordAccessAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "action", "resident"]
    list_filter = ["action"]
    date_hierarchy = "at"
