"""Admin actions of the booking core. Registered by reservations/admin.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from reservations.admin_scope import choices_q
from reservations.forms import SeasonPatternForm
from reservations.models import Campaign, Site
from reservations.services.slots import (
    WEEKDAY_LABELS,
    SeasonPlan,
    SeasonPlanChanged,
    SeasonReport,
    operating_days_generate,
    season_plan,
)

GENERATE_SEASON_TEMPLATE = "admin/reservations/site/generate_season.html"
PREVIEW_TEMPLATE = "admin/reservations/site/generate_season_preview.html"
SLOT_ADD_PERMISSION = "reservations.add_slot"

# The preview carries the pattern, the selected sites and the days it showed in one signed
# field, so the confirmation writes exactly what was shown and nothing typed in between.
PREVIEW_SALT = "reservations.admin_actions.season_preview"
# A preview older than this is shown again, freshly read, instead of being written.
PREVIEW_MAX_AGE_SECONDS = 12 * 60 * 60
PREVIEW_FIELD = "season_preview"


class _Rollback(Exception):
    """Raised to undo every site's days when one site's days changed since the preview."""


def _dates_text(report: SeasonReport) -> str:
    return "、".join(f"{day.isoformat()}（{name}）" for day, name in report.skipped_closed_days)


@admin.action(description=gettext_lazy("稼働日と予約枠をまとめて作成"))
def generate_season_action(
    modeladmin: admin.ModelAdmin[Site], request: HttpRequest, queryset: QuerySet[Site]
) -> TemplateResponse | None:
    """Set up a season on the selected sites from one weekly pattern, in three steps on
    Django's intermediate-page pattern (each page posts back to the changelist with the same
    action and selection): the pattern form, a preview of what would be created (`preview`),
    and the write after confirmation (`apply`, with the preview's signed field)."""
    # Checked here rather than with @admin.action(permissions=...), which would oblige every
    # ModelAdmin that registers this action to define has_add_slot_permission().
    if not request.user.has_perm(SLOT_ADD_PERMISSION):
        modeladmin.message_user(
            request, _("予約枠を作成する権限がありません。"), level=messages.ERROR
        )
        return None

    sites = list(queryset.select_related("municipality").order_by("name", "pk"))
    if "apply" in request.POST:
        return _apply(modeladmin, request, sites)
    if "edit" in request.POST:
        signed = _unsign(request.POST.get(PREVIEW_FIELD, ""), max_age=None)
        if signed is None:
            return _form_page(
                modeladmin,
                request,
                sites,
                _pattern_form(modeladmin, request),
                notices=[_bad_preview_notice()],
            )
        return _form_page(
            modeladmin, request, sites, _pattern_form(modeladmin, request, signed["pattern"])
        )
    if "preview" in request.POST:
        form = _pattern_form(modeladmin, request, request.POST)
        if form.is_valid():
            plans = _plans(form, sites)
            if plans is not None:
                return _preview_page(modeladmin, request, sites, form, plans)
        return _form_page(modeladmin, request, sites, form)
    return _form_page(modeladmin, request, sites, _pattern_form(modeladmin, request))


def _pattern_form(
    modeladmin: admin.ModelAdmin[Site], request: HttpRequest, data: Any = None
) -> SeasonPatternForm:
    """The pattern form offering national campaigns and those of the municipalities in scope
    (a campaign of another city is refused as any unknown choice)."""
    form = SeasonPatternForm(data)
    campaign = form.fields["campaign"]
    limit = choices_q(modeladmin.admin_site, Campaign, request)
    if limit is not None:
        campaign.queryset = campaign.queryset.filter(limit)  # type: ignore[attr-defined]
    return form


def _plans(form: SeasonPatternForm, sites: list[Site]) -> list[tuple[Site, SeasonPlan]] | None:
    """Every site's plan, or None with the errors on the form: a pattern that does not fit
    one site is shown again rather than previewed for the others."""
    plans: list[tuple[Site, SeasonPlan]] = []
    for site in sites:
        try:
            plans.append((site, season_plan(site=site, **form.season_kwargs())))
        except ValidationError as exc:
            _add_site_error(form, site, exc)
            return None
    return plans


def _apply(
    modeladmin: admin.ModelAdmin[Site], request: HttpRequest, sites: list[Site]
) -> TemplateResponse | None:
    token = request.POST.get(PREVIEW_FIELD, "")
    signed = _unsign(token, max_age=None)
    stale = signed is not None and _unsign(token, max_age=PREVIEW_MAX_AGE_SECONDS) is None
    if signed is None:
        return _form_page(
            modeladmin,
            request,
            sites,
            _pattern_form(modeladmin, request),
            notices=[_bad_preview_notice()],
        )
    form = _pattern_form(modeladmin, request, signed["pattern"])
    if not form.is_valid():
        # A vaccine or campaign deleted since the preview, say.
        return _form_page(modeladmin, request, sites, form)
    if stale:
        notice = _("確認してから時間が経ったため、最新の内容で確認し直してください。")
        return _fresh_preview(modeladmin, request, sites, form, [notice])
    if sorted(site.pk for site in sites) != sorted(signed["days"]):
        notice = _("選択した会場が確認したときと違います。この内容で確認し直してください。")
        return _fresh_preview(modeladmin, request, sites, form, [notice])

    reports: list[tuple[Site, SeasonReport]] = []
    changes: list[str] = []
    try:
        # All sites or none, as previewed: one site whose days changed undoes the others.
        with transaction.atomic():
            for site in sites:
                expected = [dt.date.fromisoformat(d) for d in signed["days"][site.pk]]
                try:
                    report = operating_days_generate(
                        site=site, expected_days=expected, **form.season_kwargs()
                    )
                except SeasonPlanChanged as exc:
                    changes.extend(exc.messages)
                except ValidationError as exc:
                    # The pattern no longer fits (the campaign's vaccines changed, say), or
                    # a concurrent run of the same pattern won the race.
                    _add_site_error(form, site, exc)
                    raise _Rollback from None
                else:
                    reports.append((site, report))
            if changes:
                raise _Rollback
    except _Rollback:
        if changes:
            return _fresh_preview(modeladmin, request, sites, form, changes)
        return _form_page(modeladmin, request, sites, form)
    _report(modeladmin, request, reports)
    return None


def _add_site_error(form: SeasonPatternForm, site: Site, error: ValidationError) -> None:
    form.add_error(None, _("会場「%(site)s」にはこの条件で作成できません。") % {"site": site.name})
    form.add_service_error(error)


def _fresh_preview(
    modeladmin: admin.ModelAdmin[Site],
    request: HttpRequest,
    sites: list[Site],
    form: SeasonPatternForm,
    notices: list[str],
) -> TemplateResponse:
    plans = _plans(form, sites)
    if plans is None:
        return _form_page(modeladmin, request, sites, form, notices=notices)
    return _preview_page(modeladmin, request, sites, form, plans, notices=notices)


def _unsign(token: str, *, max_age: int | None) -> dict[str, Any] | None:
    """The preview's signed content, or None if it is missing, forged or (given max_age)
    too old. Site ids come back as ints (JSON keeps object keys as strings)."""
    try:
        value = signing.loads(token, salt=PREVIEW_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("pattern"), dict):
        return None
    days = value.get("days")
    if not isinstance(days, dict):
        return None
    value["days"] = {int(site_id): dates for site_id, dates in days.items()}
    return value


def _bad_preview_notice() -> str:
    return _("確認画面の内容を読み取れませんでした。条件を入力して、もう一度確認してください。")


def _form_page(
    modeladmin: admin.ModelAdmin[Site],
    request: HttpRequest,
    sites: list[Site],
    form: SeasonPatternForm,
    *,
    notices: list[str] | None = None,
) -> TemplateResponse:
    context = _context(modeladmin, request, sites, notices)
    context.update(form=form, media=modeladmin.media + form.media)
    return TemplateResponse(request, GENERATE_SEASON_TEMPLATE, context)


def _preview_page(
    modeladmin: admin.ModelAdmin[Site],
    request: HttpRequest,
    sites: list[Site],
    form: SeasonPatternForm,
    plans: list[tuple[Site, SeasonPlan]],
    *,
    notices: list[str] | None = None,
) -> TemplateResponse:
    token = signing.dumps(
        {
            "pattern": form.pattern_data(),
            "days": {site.pk: [d.isoformat() for d in plan.days] for site, plan in plans},
        },
        salt=PREVIEW_SALT,
        compress=True,
    )
    context = _context(modeladmin, request, sites, notices)
    context.update(
        title=_("作成する内容の確認"),
        pattern=form.cleaned_data,
        weekdays=[WEEKDAY_LABELS[i] for i in form.cleaned_data["weekdays"]],
        previews=[_site_preview(site, plan) for site, plan in plans],
        day_total=sum(len(plan.days) for _site, plan in plans),
        slot_total=sum(plan.slot_count for _site, plan in plans),
        seat_total=sum(plan.seat_count for _site, plan in plans),
        preview_field=PREVIEW_FIELD,
        preview_token=token,
        media=modeladmin.media,
    )
    return TemplateResponse(request, PREVIEW_TEMPLATE, context)


def _site_preview(site: Site, plan: SeasonPlan) -> dict[str, Any]:
    """One site's plan as the template shows it: the days grouped by month."""
    months: dict[dt.date, list[dt.date]] = {}
    for day in plan.days:
        months.setdefault(day.replace(day=1), []).append(day)
    return {
        "site": site,
        "plan": plan,
        "periods": "、".join(f"{start:%H:%M}〜{end:%H:%M}" for start, end in plan.periods),
        "months": sorted(months.items()),
        "other_vaccines": sorted(plan.other_vaccines.items()),
    }


def _context(
    modeladmin: admin.ModelAdmin[Site],
    request: HttpRequest,
    sites: list[Site],
    notices: list[str] | None,
) -> dict[str, Any]:
    request.current_app = modeladmin.admin_site.name
    return {
        **modeladmin.admin_site.each_context(request),
        "title": _("稼働日と予約枠をまとめて作成"),
        "opts": modeladmin.model._meta,
        "sites": sites,
        "notices": notices or [],
        "action_name": generate_season_action.__name__,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }


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
