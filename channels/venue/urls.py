"""Venue reception home. Until reception lands, venue staff work in the admin's lists."""

from django.contrib.auth.decorators import permission_required
from django.urls import path
from django.views.generic import RedirectView

app_name = "venue"
urlpatterns = [
    path(
        "",
        permission_required("reservations.add_vaccination")(
            RedirectView.as_view(pattern_name="admin:reservations_reservation_changelist")
        ),
        name="home",
    ),
]
