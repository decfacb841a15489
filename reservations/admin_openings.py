"""Admin of the pre-opening check: run it for municipalities (a report page) or for cohort
openings (recorded, and enforced by the booking path), and let an administrator accept an
opening's errors with a reason. Registered by reservations/admin.py."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from reservations.exceptions import ReservationError
from reservations.models import CohortOpening, Municipality, OpeningCheck
from reservations.season_check import Finding, Severity, has_errors, season_check
from reservations.services.openings import (
    opening_check_findings,
    opening_check_latest,
    opening_check_override,
    opening_check_run,
)

REPORT_TEMPLATE = "admin/reservations/season_check.html"
OVERRIDE_TEMPLATE = "admin/reservations/cohortopening/override.html"


def findings_html(findings: list[Finding]) -> SafeString:
    """Findings as a list for the admin, in the reader's language."""
    if not findings:
        return format_html("<p>{}</p>", _("問題は見つかりませんでした。"))
    items = format_html_join(
        "\n",
        '<li class="season-check-{}"><strong>[{}]</strong> <code>{}</code> {}</li>',
        ((f.severity, f.severity_label(), f.code, f.text()) for f in findings),
    )
    return format_html("<ul>{}</ul>", items)


@admin.action(description=gettext_lazy("開始前チェックを実行（結果の表示のみ）"))
def municipality_season_check_action(
    modeladmin: admin.ModelAdmin[Municipality],
    request: HttpRequest,
    queryset: QuerySet[Municipality],
) -> TemplateResponse:
    """The same report as `manage.py season_check --municipality CODE`, nothing recorded."""
    now = timezone.now()
    reports = [
        (municipality, findings_html(findings), has_errors(findings))
        for municipality in queryset
        for findings in [season_check(municipality=municipality, now=now)]
    ]
    context: dict[str, Any] = {
        **modeladmin.admin_site.each_context(request),
        "title": _("開始前チェック"),
        "opts": modeladmin.model._meta,
        "reports": reports,
        "checked_at": timezone.localtime(now),
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, REPORT_TEMPLATE, context)


@admin.action(description=gettext_lazy("開始前チェックを実行して結果を記録"))
def opening_check_action(
    modeladmin: admin.ModelAdmin[CohortOpening],
    request: HttpRequest,
    queryset: QuerySet[CohortOpening],
) -> None:
    """Recorded like the beat's runs: an opening with errors is held shut, one without them
    (or with only the errors an override accepted) may open."""
    now = timezone.now()
    for opening in queryset.select_related("municipality", "campaign"):
        check = opening_check_run(opening=opening, now=now, trigger=OpeningCheck.Trigger.ADMIN)
        findings = opening_check_findings(check)
        counts = {
            "opening": str(opening),
            "errors": sum(f.severity == Severity.ERROR for f in findings),
            "warnings": sum(f.severity == Severity.WARNING for f in findings),
        }
        if check.blocked:
            modeladmin.message_user(
                request,
                _("%(opening)s: エラー %(errors)s件、警告 %(warnings)s件。受付を止めています。")
                % counts,
                level=messages.ERROR,
            )
        else:
            modeladmin.message_user(
                request,
                _("%(opening)s: エラー %(errors)s件、警告 %(warnings)s件。受付を開始できます。")
                % counts,
                level=messages.WARNING
                if counts["errors"] or counts["warnings"]
                else messages.SUCCESS,
            )


class OverrideForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("承認の理由"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "エラーがあっても受付を開始してよい理由（例: 2回目の稼働日は来週追加する）。"
            "記録に残ります。"
        ),
    )


@admin.action(
    description=gettext_lazy("エラーを承認して受付を開始（管理者）"),
    permissions=["override_openingcheck"],
)
def opening_override_action(
    modeladmin: admin.ModelAdmin[CohortOpening],
    request: HttpRequest,
    queryset: QuerySet[CohortOpening],
) -> TemplateResponse | None:
    """An intermediate page showing the errors that hold each selected opening shut and asking
    for the reason; posted back with `apply`, the override is recorded on each latest run."""
    held = [
        (opening, check)
        for opening in queryset.filter(check_blocked=True).select_related("municipality")
        for check in [opening_check_latest(opening)]
        if check is not None
    ]
    if not held:
        modeladmin.message_user(
            request,
            _("選択した中に、開始前チェックで止まっている受付はありません。"),
            messages.INFO,
        )
        return None
    form = OverrideForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        now = timezone.now()
        for opening, check in held:
            try:
                opening_check_override(
                    check=check, user=request.user, reason=form.cleaned_data["reason"], now=now
                )
            except ReservationError as refusal:
                modeladmin.message_user(request, f"{opening}: {refusal}", messages.ERROR)
            else:
                modeladmin.message_user(
                    request,
                    _("%(opening)s: エラーを承認しました。受付を開始できます。")
                    % {"opening": opening},
                    messages.SUCCESS,
                )
        return None
    context: dict[str, Any] = {
        **modeladmin.admin_site.each_context(request),
        "title": _("開始前チェックのエラーを承認"),
        "opts": modeladmin.model._meta,
        "held": [
            (opening, check, findings_html(opening_check_findings(check)))
            for opening, check in held
        ],
        "form": form,
        "action_name": opening_override_action.__name__,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, OVERRIDE_TEMPLATE, context)
