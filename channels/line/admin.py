"""Staff can see who is linked to LINE; links are made and ended only through the chat."""

from __future__ import annotations

from django.contrib import admin

from channels.line.models import LineAccount, LineLink
from reservations.admin import ReadOnlyAdmin


@admin.register(LineLink)
class LineLinkAdmin(ReadOnlyAdmin):
    list_display = ["resident", "account", "is_active", "linked_at", "deactivated_at"]
    list_filter = ["is_active"]
    search_fields = ["resident__name", "resident__name_kana", "account__line_user_id"]
    list_select_related = ["resident", "account"]


@admin.register(LineAccount)
class LineAccountAdmin(ReadOnlyAdmin):
    list_display = ["line_user_id", "is_following", "followed_at", "unfollowed_at"]
    list_filter = ["is_following"]
    search_fields = ["line_user_id"]
