"""Partner API keys in the admin: created with the clear key shown once, listed without any
secret, revoked (for good) by an action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from rest_framework_api_key.models import APIKey

from channels.api.models import SCOPE_FIELDS, PartnerKey, Scope
from reservations.admin_scope import MunicipalityScopedAdmin
from reservations.models import Municipality
from reservations.staff_scope import staff_scope

# The library's own key model has no partner, user, scope or municipality: our authentication
# ignores it, so a key made there would only mislead. Its admin registers it (the app comes
# before ours in INSTALLED_APPS); it is taken off here.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)

SCOPE_FIELD_NAMES = list(SCOPE_FIELDS.values())


@admin.action(description=gettext_lazy("選択したAPIキーを失効させる（元に戻せません）"))
def revoke_keys(
    modeladmin: admin.ModelAdmin[PartnerKey], request: HttpRequest, queryset: QuerySet[PartnerKey]
) -> None:
    count = queryset.filter(revoked=False).update(revoked=True)
    modeladmin.message_user(
        request,
        ngettext(
            "%(count)d件のAPIキーを失効させました。",
            "%(count)d件のAPIキーを失効させました。",
            count,
        )
        % {"count": count},
        messages.SUCCESS,
    )


@admin.register(PartnerKey)
class PartnerKeyAdmin(MunicipalityScopedAdmin[PartnerKey]):
    """Staff other than superusers see the keys that reach only municipalities of their scope,
    and give a key only those (the field's choices) and a member of their own staff."""

    list_display = [
        "partner",
        "name",
        "prefix",
        "user",
        "municipality_names",
        "scope_names",
        "expiry_date",
        "_has_expired",
        "revoked",
        "created",
    ]
    list_filter = ["revoked", "municipalities", *SCOPE_FIELD_NAMES]
    search_fields = ["partner", "name", "prefix"]
    filter_horizontal = ["municipalities"]
    actions = [revoke_keys]
    fieldsets = [
        (None, {"fields": ["partner", "name", "prefix", "user", "municipalities"]}),
        (gettext_lazy("許可する操作"), {"fields": [*SCOPE_FIELD_NAMES]}),
        (None, {"fields": ["expiry_date", "revoked", "created"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PartnerKey]:
        return (
            super().get_queryset(request).select_related("user").prefetch_related("municipalities")
        )

    def scope_queryset(
        self, request: HttpRequest, queryset: QuerySet[PartnerKey]
    ) -> QuerySet[PartnerKey]:
        scope = staff_scope(request.user)
        if scope.everything:
            return queryset
        # A key with any municipality outside the scope is not theirs to read or edit (its
        # form could not even show that municipality, and saving would drop it).
        outside = Municipality.objects.exclude(pk__in=scope.municipality_ids)
        return queryset.filter(
            pk__in=PartnerKey.objects.filter(municipalities__in=scope.municipality_ids)
            .exclude(municipalities__in=outside)
            .values("pk")
        )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scope = staff_scope(request.user)
        if db_field.name == "user" and not scope.everything:
            # The key acts as this account: one of their own municipalities' staff, never a
            # superuser (whose permissions the key would carry).
            kwargs["queryset"] = (
                User.objects.filter(
                    is_active=True,
                    is_superuser=False,
                    staff_assignments__municipality__in=scope.municipality_ids,
                )
                .distinct()
                .order_by("username")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: PartnerKey | None = None) -> Any:
        if obj is not None and obj.revoked:
            # A revoked key cannot come back (the library refuses it): nothing left to edit.
            return [
                "partner",
                "name",
                "prefix",
                "user",
                "municipalities",
                *SCOPE_FIELD_NAMES,
                "expiry_date",
                "revoked",
                "created",
            ]
        return ["prefix", "created"]

    @admin.display(description=gettext_lazy("対象自治体"))
    def municipality_names(self, key: PartnerKey) -> str:
        return "、".join(m.name for m in key.municipalities.all())

    @admin.display(description=gettext_lazy("許可する操作"))
    def scope_names(self, key: PartnerKey) -> str:
        return "、".join(str(scope.label) for scope in Scope if key.has_scope(scope))

    def save_model(self, request: HttpRequest, obj: PartnerKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # Only the hash is stored: this message is the one time anyone sees the key.
        key = PartnerKey.objects.assign_key(obj)
        super().save_model(request, obj, form, change)
        self.message_user(
            request,
            _(
                "「%(partner)s」のAPIキー: %(key)s 　この画面を離れると二度と表示できません。"
                "連携先に安全な方法で渡してください。"
            )
            % {"partner": obj.partner, "key": key},
            messages.WARNING,
        )
