"""/exports/: staff with the export permission download the same files as export_vrs and
export_register."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.shortcuts import render

from reservations import audit
from reservations.staff_areas import staff_required
from reservations.staff_scope import acting_municipality, scope_municipalities
from vrs_export.forms import ExportForm
from vrs_export.models import ExportBatch
from vrs_export.services import (
    ExportOptionsInvalid,
    ExportRefused,
    ExportRequest,
    vrs_export_write,
)

logger = logging.getLogger(__name__)


@staff_required("reservations.export_vrs")
def exports(request: HttpRequest) -> HttpResponseBase:
    # One municipality per file: the one this member of staff acts for (the staff bar's
    # switch, for staff of several).
    municipality = acting_municipality(request)
    form = ExportForm(request.POST or None)
    refused: ExportBatch | None = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        export_request = ExportRequest(
            format=data["format"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            encoding=data["encoding"],
            since_last=data["since_last"],
            skip_invalid=data["skip_invalid"],
            program_code=data["program"].code if data["program"] else "",
            via=ExportBatch.Via.WEB,
            user=request.user,
            user_name=request.user.get_username(),
            municipality_code=municipality.code if municipality is not None else "",
            client_address=audit.request_address(request),
        )
        target = Path(tempfile.mkdtemp(prefix="vrs-export-")) / "export.csv"
        try:
            batch = vrs_export_write(request=export_request, target=target)
        except ExportRefused as error:
            refused = error.batch
            target.parent.rmdir()
        except ExportOptionsInvalid as error:
            # What the form cannot know, e.g. our own municipality missing from the database.
            form.add_error(None, str(error))
            target.parent.rmdir()
        else:
            # The staff member by user id: names never go into the logs.
            logger.info(
                "VRS export batch %s downloaded by user %s: %s rows, sha256 %s",
                batch.pk,
                batch.requested_by_id,
                batch.row_count,
                batch.sha256,
            )
            handle = target.open("rb")
            # Unlinked at once: the open handle keeps the data until the response is sent.
            target.unlink()
            target.parent.rmdir()
            return FileResponse(
                handle, as_attachment=True, filename=batch.file_name, content_type="text/csv"
            )
    return render(
        request,
        "vrs_export/exports.html",
        {
            "form": form,
            "refused": refused,
            "municipality": municipality,
            "batches": ExportBatch.objects.filter(
                municipality_code__in=[m.code for m in scope_municipalities(request.user)]
            ).select_related("requested_by")[:20],
        },
        status=422 if refused else 200,
    )
