"""Staff exports home. Until the VRS export lands, exporters see records in the admin."""

from django.contrib.auth.decorators import permission_required
from django.urls import path
from django.views.generic import RedirectView

app_name = "exports"
urlpatterns = [
    path(
        "",
        permission_required("reservations.export_vrs")(
            RedirectView.as_view(pattern_name="admin:reservations_vaccination_changelist")
        ),
        name="home",
    ),
]
