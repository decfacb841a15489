"""Admin actions of the booking core. Registered by reservations/admin.py."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from reservations.forms import SeasonPatternForm
from reservations.models import Site
from reservations.services.slots import SeasonReport, operating_days_generate

GENERATE_SEASON_TEMPLATE = "admin/reservations/site/generate_season.html"
SLOT_ADD_PERMISSION = "reservations.add_slot"


def _dates_text(report: SeasonReport) -> str:
    return "、".join(f"{day.isoformat()}（{name}）" for day, name in report.skipped_closed_days)


@admin.action(description=gettext_lazy("稼働日と予約枠をまとめて作成"))
def generate_season_action(
    modeladmin: admin.ModelAdmin[Site], request: HttpRequest, queryset: QuerySet[Site]
) -> TemplateResponse | None:
    """Set up a season on the selected sites from one weekly pattern (Django's intermediate-
    page pattern: the page posts back to the changelist with the same action and selection,
    plus `apply`)."""
    # Checked here rather than with @admin.action(permissions=...), which would oblige every
    # ModelAdmin that registers this action to define has_add_slot_permission().
    if not request.user.has_perm(SLOT_ADD_PERMISSION):
        modeladmin.message_user(
            request, _("予約枠を作成する権限がありません。"), level=messages.ERROR
        )
        return None

    sites = list(queryset.select_related("municipality"))
    if "apply" in request.POST:
        form = SeasonPatternForm(request.POST)
        if form.is_valid():
            reports = _generate(form, sites)
            if reports is not None:
                _report(modeladmin, request, reports)
                return None
    else:
        form = SeasonPatternForm()

    context: dict[str, Any] = {
        **modeladmin.admin_site.each_context(request),
        "title": _("稼働日と予約枠をまとめて作成"),
        "opts": modeladmin.model._meta,
        "sites": sites,
        "form": form,
        "action_name": generate_season_action.__name__,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, GENERATE_SEASON_TEMPLATE, context)


def _generate(form: SeasonPatternForm, sites: list[Site]) -> list[tuple[Site, SeasonReport]] | None:
    """All sites or none: a pattern that fails on one site is shown again with the error
    rather than leaving half of a season set up."""
    reports: list[tuple[Site, SeasonReport]] = []
    try:
        with transaction.atomic():
            for site in sites:
                try:
                    reports.append(
                        (site, operating_days_generate(site=site, **form.season_kwargs()))
                    )
                except ValidationError as exc:
                    form.add_error(
                        None,
                        _("会場「%(site)s」には作成できませんでした。") % {"site": site.name},
                    )
                    form.add_service_error(exc)
                    raise
    except ValidationError:
        return None
    return reports


def _report(
    modeladmin: admin.ModelAdmin[Site],
    request: HttpRequest,
    reports: list[tuple[Site, SeasonReport]],
) -> None:
    for site, report in reports:
        modeladmin.message_user(
            request,
            _("%(site)s: 稼働日%(days)s日、予約枠%(slots)s件を作成しました。")
            % {"site": site.name, "days": len(report.created_days), "slots": report.created_slots},
            level=messages.SUCCESS,
        )
        if report.skipped_closed_days:
            modeladmin.message_user(
                request,
                _("%(site)s: 休業日のため作成しなかった日: %(dates)s")
                % {"site": site.name, "dates": _dates_text(report)},
                level=messages.WARNING,
            )
        if report.skipped_existing:
            modeladmin.message_user(
                request,
                _("%(site)s: 作成済みのため変更しなかった日: %(count)s日")
                % {"site": site.name, "count": len(report.skipped_existing)},
                level=messages.INFO,
            )
