from django.contrib import admin

from channels.sms.models import SmsReceipt


@admin.register(SmsReceipt)
class SmsReceiptAdmin(admin.ModelAdmin[SmsReceipt]):
    list_display = ["received_at", "provider", "provider_message_id", "provider_status", "outcome"]
    list_filter = ["provider", "outcome"]
    search_fields = ["provider_message_id"]
    readonly_fields = [f.name for f in SmsReceipt._meta.fields]
