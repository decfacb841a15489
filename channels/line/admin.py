"""LINE in the admin: each municipality's official account (its secret and token are
write-only), and who is linked to LINE; links are made and ended only through the chat."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.line.models import LineAccount, LineLink, LineOfficialAccount
from reservations.admin import ReadOnlyAdmin
from reservations.admin_scope import MunicipalityScopedAdmin
from reservations.models import Municipality
from reservations.staff_scope import staff_scope


class WriteOnlyField(forms.CharField):
    """A secret typed in and never shown back: the page holds no stored value, and an empty
    box keeps the stored one (so it counts as changed only when something was typed)."""

    widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", True)
        super().__init__(**kwargs)

    def has_changed(self, initial: Any, data: Any) -> bool:
        return bool(data)


class CheckedMunicipalityField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """Django's choice of a row, minus a 500 on SQLite: an id beyond 64 bits raises
    OverflowError in the lookup (PostgreSQL answers no row)."""

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except OverflowError:
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None


class LineOfficialAccountForm(forms.ModelForm):  # type: ignore[type-arg]
    channel_secret = WriteOnlyField(
        label=gettext_lazy("チャネルシークレット"),
        max_length=64,
        help_text=gettext_lazy("登録済みの値は表示しません。空欄のままなら変更しません。"),
    )
    channel_access_token = WriteOnlyField(
        label=gettext_lazy("チャネルアクセストークン"),
        max_length=1000,
        help_text=gettext_lazy("登録済みの値は表示しません。空欄のままなら変更しません。"),
    )

    class Meta:
        model = LineOfficialAccount
        fields = [
            "municipality",
            "channel_id",
            "channel_secret",
            "channel_access_token",
            "is_active",
        ]
        field_classes = {"municipality": CheckedMunicipalityField}

    def _kept(self, name: str) -> str:
        typed = str(self.cleaned_data.get(name) or "")
        if any(character.isspace() for character in typed):
            raise ValidationError(_("空白を含めずに貼り付けてください。"), code="whitespace")
        if typed:
            return typed
        stored = str(getattr(self.instance, name, "") or "") if self.instance.pk else ""
        if not stored:
            raise ValidationError(_("この項目は必須です。"), code="required")
        return stored

    def clean_channel_secret(self) -> str:
        return self._kept("channel_secret")

    def clean_channel_access_token(self) -> str:
        return self._kept("channel_access_token")


@admin.register(LineOfficialAccount)
class LineOfficialAccountAdmin(MunicipalityScopedAdmin[LineOfficialAccount]):
    """Municipalities' own official accounts. Staff see and edit only those of their own
    municipalities; a stored secret or token never reaches the page, only whether it is set."""

    form = LineOfficialAccountForm
    list_display = [
        "municipality",
        "channel_id",
        "secret_set",
        "token_set",
        "is_active",
        "webhook_path",
        "updated_at",
    ]
    list_filter = ["is_active"]
    list_select_related = ["municipality"]
    readonly_fields = ["webhook_path"]
    search_fields = ["municipality__name", "municipality__code", "channel_id"]
    scope_municipality_field = "municipality"

    @admin.display(boolean=True, description=gettext_lazy("シークレット設定済み"))
    def secret_set(self, obj: LineOfficialAccount) -> bool:
        return bool(obj.channel_secret)

    @admin.display(boolean=True, description=gettext_lazy("トークン設定済み"))
    def token_set(self, obj: LineOfficialAccount) -> bool:
        return bool(obj.channel_access_token)

    @admin.display(description=gettext_lazy("Webhook URL（このサイトのURLに続けて）"))
    def webhook_path(self, obj: LineOfficialAccount) -> str:
        if obj._state.adding:  # the add form: no municipality chosen yet
            return ""
        return reverse("line:municipality_webhook", kwargs={"code": obj.municipality.code})


@admin.register(LineLink)
class LineLinkAdmin(MunicipalityScopedAdmin[LineLink], ReadOnlyAdmin):
    list_display = ["resident", "account", "is_active", "linked_at", "deactivated_at"]
    list_filter = ["is_active", "account__official_account"]
    search_fields = ["resident__name", "resident__name_kana", "account__line_user_id"]
    list_select_related = ["resident", "account"]
    # Staff of one city never see who in another city uses LINE; a list of names is a read.
    scope_municipality_field = "resident__municipality"
    audit_resident_field = "resident"


@admin.register(LineAccount)
class LineAccountAdmin(MunicipalityScopedAdmin[LineAccount], ReadOnlyAdmin):
    list_display = [
        "line_user_id",
        "official_account",
        "is_following",
        "followed_at",
        "unfollowed_at",
    ]
    list_filter = ["is_following", "official_account"]
    list_select_related = ["official_account__municipality"]
    search_fields = ["line_user_id"]

    scope_municipality_field = "official_account__municipality"

    def scope_queryset(
        self, request: HttpRequest, queryset: QuerySet[LineAccount]
    ) -> QuerySet[LineAccount]:
        # The settings' account (no official_account row) is the home municipality's.
        scope = staff_scope(request.user)
        if scope.everything:
            return queryset
        visible = scope.municipality_q("official_account__municipality")
        if scope.covers_municipality(_settings_account_municipality_id()):
            visible |= Q(official_account__isnull=True)
        return queryset.filter(visible)


def _settings_account_municipality_id() -> int | None:
    """The municipality the settings' account serves (HOME_MUNICIPALITY_CODE)."""
    return (
        Municipality.objects.filter(code=settings.HOME_MUNICIPALITY_CODE)
        .values_list("pk", flat=True)
        .first()
    )
