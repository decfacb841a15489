from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from channels.api import views

app_name = "api"
urlpatterns = [
    path("", views.ApiRootView.as_view(), name="root"),
    path("sites/", views.SiteListView.as_view(), name="sites"),
    path("slots/", views.SlotListView.as_view(), name="slots"),
    path("reservations/", views.ReservationCreateView.as_view(), name="reservations"),
    path("reservations/<str:code>/", views.ReservationDetailView.as_view(), name="reservation"),
    path(
        "reservations/<str:code>/cancel/",
        views.ReservationCancelView.as_view(),
        name="reservation-cancel",
    ),
    path(
        "reservations/<str:code>/change/",
        views.ReservationChangeView.as_view(),
        name="reservation-change",
    ),
    path("vaccinations/", views.VaccinationCreateView.as_view(), name="vaccinations"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script from its own URL (?script): the
    # Content-Security-Policy allows no inline script.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
]
