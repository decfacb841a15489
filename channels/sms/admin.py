from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from channels.sms.models import SmsReceipt
from reservations.admin_scope import MunicipalityScopedAdmin
from reservations.staff_scope import staff_scope


@admin.register(SmsReceipt)
class SmsReceiptAdmin(MunicipalityScopedAdmin[SmsReceipt]):
    list_display = ["received_at", "provider", "provider_message_id", "provider_status", "outcome"]
    list_filter = ["provider", "outcome"]
    search_fields = ["provider_message_id"]
    readonly_fields = [f.name for f in SmsReceipt._meta.fields]

    # Receipts come from providers only; a hand-made one could not even be saved (its fields
    # are read-only, so the form cannot check the unique receipt id).
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def scope_queryset(
        self, request: HttpRequest, queryset: QuerySet[SmsReceipt]
    ) -> QuerySet[SmsReceipt]:
        # A receipt names no resident or municipality (this channel does not know whose
        # message it is), and its payload holds the number: superusers only.
        if staff_scope(request.user).everything:
            return queryset
        return queryset.none()
