"""/exports/reconcile/: upload a VRS ledger or 予防接種台帳 file, see what it would change,
apply it with a reason. Staff with the reconcile permission (exporters, administrators)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from reservations.staff_areas import NO_MUNICIPALITY_MESSAGE, staff_required
from reservations.staff_scope import acting_municipality, scope_municipalities
from vrs_export.models import ReconcileRun
from vrs_export.reconcile import (
    REPORT_LINES_KEPT,
    PreviewExpired,
    ReconcileNotAllowed,
    reconcile_apply_preview,
    reconcile_run,
)
from vrs_export.reconcile_forms import ReconcileApplyForm, ReconcileUploadForm


@staff_required("reservations.reconcile_vrs")
def reconcile(request: HttpRequest) -> HttpResponse:
    upload = ReconcileUploadForm()
    apply_form: ReconcileApplyForm | None = None
    run: ReconcileRun | None = None
    refusal = ""
    status = 200
    # The file is read as the records of the municipality this member of staff acts for (the
    # staff bar's switch, for staff of several); staff_required refused an empty scope.
    municipality = acting_municipality(request)
    if municipality is None:
        refusal = str(NO_MUNICIPALITY_MESSAGE)
    elif request.method == "POST" and "run" in request.POST:
        apply_form = ReconcileApplyForm(request.POST)
        # Only the person's own preview is ever shown or applied.
        run_id = str(request.POST.get("run", ""))
        preview = (
            ReconcileRun.objects.filter(
                pk=int(run_id), requested_by_id=request.user.pk, mode=ReconcileRun.Mode.PREVIEW
            ).first()
            if run_id.isascii() and run_id.isdigit() and len(run_id) < 12
            else None
        )
        if not apply_form.is_valid():
            run, status = preview, 422
        elif preview is None:
            refusal, status, apply_form = _("この確認結果は見つかりません。"), 409, None
        else:
            try:
                run, _report = reconcile_apply_preview(
                    preview=preview, user=request.user, reason=apply_form.cleaned_data["reason"]
                )
                apply_form = None
            except (PreviewExpired, ReconcileNotAllowed) as error:
                refusal, status, apply_form = str(error), 409, None
    elif request.method == "POST":
        upload = ReconcileUploadForm(request.POST, request.FILES)
        if upload.is_valid():
            file = upload.cleaned_data["file"]
            run, _report = reconcile_run(
                data=file.read(),
                file_name=file.name or "",
                municipality=municipality,
                user=request.user,
                via=ReconcileRun.Via.WEB,
                keep_content=True,
                encoding=upload.cleaned_data["encoding"] or None,
            )
            if run.mode == ReconcileRun.Mode.REFUSED:
                status = 422
            else:
                apply_form = ReconcileApplyForm(initial={"run": run.pk})
        else:
            status = 422
    return render(
        request,
        "vrs_export/reconcile.html",
        {
            "upload": upload,
            "apply_form": apply_form,
            "run": run,
            "refusal": refusal,
            "truncated": REPORT_LINES_KEPT if run and _longest_list(run) > REPORT_LINES_KEPT else 0,
            "municipality": municipality,
            "runs": ReconcileRun.objects.filter(
                municipality_code__in=[m.code for m in scope_municipalities(request.user)]
            ).select_related("requested_by")[:20],
        },
        status=status,
    )


def _longest_list(run: ReconcileRun) -> int:
    return max(run.imported, run.cancelled, run.conflicts, run.findings, run.problems)
