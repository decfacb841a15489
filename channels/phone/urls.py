"""Operator console home. Until the console lands, operators work in the admin's lists."""

from django.contrib.auth.decorators import permission_required
from django.urls import path
from django.views.generic import RedirectView

app_name = "phone"
urlpatterns = [
    path(
        "",
        permission_required("reservations.book_on_behalf")(
            RedirectView.as_view(pattern_name="admin:reservations_resident_changelist")
        ),
        name="home",
    ),
]
