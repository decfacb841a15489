"""The URLconf of a municipality's own pages (`/m/<code>/...` and a city's host name, see
municipal.py): the resident pages and the language switch, nothing of the staff's."""

from django.urls import include, path

from config.urls import FAVICON_DIR, favicon

urlpatterns = [
    path(
        "favicon.ico",
        favicon,
        {"path": "favicon.ico", "document_root": FAVICON_DIR},
        name="favicon",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("channels.web.urls")),
]

handler404 = "channels.web.municipal.not_found"
