"""The call records in the admin, read only: calls are written by the calls themselves (the
provider's callbacks, the simulator), never by hand. Each list and call page shows only the
municipalities of the member of staff (MunicipalityScopedAdmin) and is audited by the resident
the call was for, like every admin page of personal data."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from channels.voice.labels import flow_label
from channels.voice.models import VoiceCall, VoiceKeyPress
from reservations.admin_scope import MunicipalityScopedAdmin, ScopedChoices


class VoiceKeyPressInline(ScopedChoices, admin.TabularInline[VoiceKeyPress, VoiceCall]):
    model = VoiceKeyPress
    extra = 0
    fields = ("pressed_at", "step", "digits", "action", "detail")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(VoiceCall)
class VoiceCallAdmin(MunicipalityScopedAdmin[VoiceCall]):
    scope_municipality_field = "municipality"
    # Audited by the resident called; a call for nobody on the register names no one.
    audit_resident_field = "resident"
    list_display = [
        "placed_at",
        "municipality",
        "to",
        "flow_name",
        "attempt",
        "result",
        "duration_seconds",
    ]
    list_filter = ["result", "flow", "municipality", "placed_at"]
    list_select_related = ["municipality", "resident"]
    search_fields = ["to", "reference", "provider_call_id"]
    date_hierarchy = "placed_at"
    readonly_fields = [f.name for f in VoiceCall._meta.fields]
    fields = [
        "placed_at",
        "municipality",
        "resident",
        "to",
        "flow",
        "language",
        "attempt",
        "result",
        "answered_by",
        "answered_at",
        "ended_at",
        "duration_seconds",
        "provider",
        "provider_call_id",
        "line",
        "reference",
        "last_error",
    ]
    inlines = [VoiceKeyPressInline]

    @admin.display(description=_("音声案内の種類"), ordering="flow")
    def flow_name(self, call: VoiceCall) -> str:
        return flow_label(call.flow)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
