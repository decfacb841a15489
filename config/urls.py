"""URL map: every channel has a stable home. config/ holds no views of its own."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("phone/", include("channels.phone.urls")),
    path("venue/", include("channels.venue.urls")),
    path("exports/", include("vrs_export.urls")),
    path("api/v1/", include("channels.api.urls")),
    path("line/", include("channels.line.urls")),
    path("sms/", include("channels.sms.urls")),
    path("", include("channels.web.urls")),
]
