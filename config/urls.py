"""URL map: every channel has a stable home. config/ holds no views of its own."""

from pathlib import Path

from django.contrib import admin
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe
from django.views.static import serve

from channels.phone.sign_in import admin_login
from reservations import staff_views

# Browsers ask every site for /favicon.ico whatever the page links to. Django's file view
# answers it from the app's static folder, in every deployment (the proxy serves only
# /static/): the path is fixed here, never taken from the request, and the icon is public and
# rarely changes, so browsers keep it for 30 days instead of asking on every page.
FAVICON_DIR = Path(__file__).resolve().parent.parent / "reservations" / "static" / "reservations"
FAVICON_MAX_AGE = 30 * 24 * 60 * 60
favicon = require_safe(cache_control(max_age=FAVICON_MAX_AGE, public=True)(serve))

urlpatterns = [
    path(
        "favicon.ico",
        favicon,
        {"path": "favicon.ico", "document_root": FAVICON_DIR},
        name="favicon",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    # One staff sign-in with one failure limit: the admin's own login page only sends staff
    # to settings.LOGIN_URL (keeping ?next=), so it is no second door to guess through.
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    path(
        "staff/municipality/",
        staff_views.acting_municipality_set,
        name="staff_acting_municipality",
    ),
    path("phone/", include("channels.phone.urls")),
    path("venue/", include("channels.venue.urls")),
    path("exports/", include("vrs_export.urls")),
    path("api/v1/", include("channels.api.urls")),
    path("line/", include("channels.line.urls")),
    path("sms/", include("channels.sms.urls")),
    path("voice/", include("channels.voice.urls")),
    path("followup/", include("channels.followup.staff_urls")),
    path("f/", include("channels.followup.answer_urls")),
    path("", include("channels.web.urls")),
]
