"""Staff can see who is linked to LINE; links are made and ended only through the chat."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from channels.line.models import LineAccount, LineLink


class ReadOnly:
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LineLink)
class LineLinkAdmin(ReadOnly, admin.ModelAdmin[LineLink]):
    list_display = ["resident", "account", "is_active", "linked_at", "deactivated_at"]
    list_filter = ["is_active"]
    search_fields = ["resident__name", "resident__name_kana", "account__line_user_id"]
    list_select_related = ["resident", "account"]


@admin.register(LineAccount)
class LineAccountAdmin(ReadOnly, admin.ModelAdmin[LineAccount]):
    list_display = ["line_user_id", "is_following", "followed_at", "unfollowed_at"]
    list_filter = ["is_following"]
    search_fields = ["line_user_id"]
