import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from channels.phone.models import (
    Announcement,
    Call,
    CallVolumeEvent,
    RecordAccess,
    SeasonPlan,
    TicketMailout,
)
from channels.phone.planning import plan_openings
from channels.phone.rota import ROTA_MAX_DAYS
from reservations.admin import ReadOnlyAdmin
from reservations.admin_scope import MunicipalityScopedAdmin


@admin.register(CallVolumeEvent)
class CallVolumeEventAdmin(MunicipalityScopedAdmin[CallVolumeEvent]):
    scope_municipality_field = "municipality"
    list_display = ["date", "kind", "multiplier", "municipality", "note"]
    list_filter = ["kind", "municipality"]


@admin.register(Call)
class CallAdmin(MunicipalityScopedAdmin[Call]):
    scope_municipality_field = "municipality"
    list_display = ["started_at", "operator", "purpose", "outcome", "handling_seconds"]
    list_filter = ["outcome", "purpose"]
    date_hierarchy = "started_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RecordAccess)
class RecordAccessAdmin(MunicipalityScopedAdmin[RecordAccess], ReadOnlyAdmin):
    # The resident's municipality as the trail stored it (a row without one: superusers).
    scope_municipality_field = "municipality"
    list_display = ["at", "user", "action", "resident"]
    list_filter = ["action"]
    date_hierarchy = "at"


class TicketMailoutInline(admin.TabularInline[TicketMailout, SeasonPlan]):
    model = TicketMailout
    extra = 1


class AnnouncementInline(admin.TabularInline[Announcement, SeasonPlan]):
    model = Announcement
    extra = 0


@admin.register(SeasonPlan)
class SeasonPlanAdmin(MunicipalityScopedAdmin[SeasonPlan]):
    scope_municipality_field = "municipality"
    list_display = [
        "name",
        "municipality",
        "starts_on",
        "ends_on",
        "operators_base",
        "lines_planned",
    ]
    list_filter = ["municipality"]
    inlines = [TicketMailoutInline, AnnouncementInline]
    readonly_fields = ["booking_openings", "staffing_pages"]
    fieldsets = [
        (None, {"fields": ["municipality", "name", "campaign", "starts_on", "ends_on"]}),
        (_("予約受付の開始（予約の設定から・読み取り専用）"), {"fields": ["booking_openings"]}),
        (_("予測・シフト・開始日のリハーサル"), {"fields": ["staffing_pages"]}),
        (
            _("コールセンター"),
            {
                "fields": [
                    ("opens_at", "closes_at"),
                    ("open_days", "open_on_holidays"),
                    "aht_seconds",
                    ("lines_planned", "operators_base", "operators_surge"),
                ]
            },
        ),
        (
            _("必要人数の目標（Erlang C・B）"),
            {
                "fields": [
                    ("service_level", "target_seconds"),
                    ("max_occupancy", "shrinkage", "max_blocking"),
                ]
            },
        ),
        (
            _("予測のパラメータ（既定値の根拠は docs/forecast.md）"),
            {
                "classes": ["collapse"],
                "fields": [
                    "uptake",
                    ("phone_share_under_65", "phone_share_65_74", "phone_share_75_plus"),
                    "early_call_share",
                    ("delivery_days", "mailout_half_life_days", "opening_half_life_days"),
                    ("opening_spike", "spike_half_life_minutes"),
                    ("redial_probability", "patience_seconds"),
                    ("learning_prior_calls", "learning_discount"),
                ],
            },
        ),
    ]

    @admin.display(description=_("このシーズンの画面"))
    def staffing_pages(self, plan: SeasonPlan) -> str:
        """The call-centre pages that read this plan, for its season's dates (they answer for
        the deployment's municipality, the phone console's scope)."""
        if not plan.pk:
            return "—"
        openings = plan_openings(plan)
        first_day = timezone.localdate(openings[0].opens_at) if openings else plan.starts_on
        last_day = min(plan.ends_on, first_day + dt.timedelta(days=ROTA_MAX_DAYS - 1))
        return format_html(
            '<a href="{}?{}">{}</a> · <a href="{}?{}">{}</a> · <a href="{}?{}">{}</a>',
            reverse("phone:forecast"),
            urlencode({"date_from": first_day, "days": 14}),
            _("入電予測"),
            reverse("phone:rota_csv"),
            urlencode({"date_from": first_day, "date_to": last_day}),
            _("シフト案（CSV）"),
            reverse("phone:rehearsal"),
            urlencode({"date": first_day}),
            _("開始日のリハーサル"),
        )

    @admin.display(description=_("予約受付の開始"))
    def booking_openings(self, plan: SeasonPlan) -> str:
        """The openings the forecast reads: edited where the booking core keeps them (年代別の
        予約受付開始, 接種対象ルール), never copied into the plan."""
        if not plan.pk:
            return "—"
        openings = plan_openings(plan)
        if not openings:
            return str(_("なし（接種券が届いた人から予約できる前提で予測します）"))
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} {}〜{}</li>",
                (
                    (
                        f"{timezone.localtime(o.opens_at):%Y-%m-%d %H:%M}",
                        o.band.born_from or "",
                        o.band.born_to or "",
                    )
                    for o in openings
                ),
            ),
        )
