from django.contrib import admin
from django.http import HttpRequest

from channels.sms.models import SmsReceipt


@admin.register(SmsReceipt)
class SmsReceiptAdmin(admin.ModelAdmin[SmsReceipt]):
    list_display = ["received_at", "provider", "provider_message_id", "provider_status", "outcome"]
    list_filter = ["provider", "outcome"]
    search_fields = ["provider_message_id"]
    readonly_fields = [f.name for f in SmsReceipt._meta.fields]

    # Receipts come from providers only; a hand-made one could not even be saved (its fields
    # are read-only, so the form cannot check the unique receipt id).
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
