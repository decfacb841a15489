"""Which municipality's resident pages a request is for.

One deployment serves several municipalities. `/` is HOME_MUNICIPALITY_CODE's front page, as it
always was; each municipality's pages also answer under `/m/<code>/` on any host, and at `/` on
the host names the deployment gives it (settings.MUNICIPALITY_WEB_HOSTS, which also adds them to
ALLOWED_HOSTS). For those two, this middleware

- serves only the resident pages (municipal_urls): `/m/452025/admin/` or `/phone/` on a
  city's host is the resident 404 page, never a staff page;
- strips `/m/<code>` from request.path_info and sets it as the script prefix, so every
  reverse() and {% url %} of the pages stays under `/m/<code>/` (request.path keeps the whole
  address: the language switch and the waiting room's refresh come back to the same page);
- sets request.resident_municipality_code, and request.resident_municipality once the view
  is known: a code no municipality of this deployment has is the 404 page.

It sits before the waiting room and reads no database there (a queued request costs no
query): the code is checked against the published list in memory, and the host names are a
setting. The municipality itself is read in process_view, which runs only for admitted
requests that reach a view.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.http.request import split_domain_port
from django.shortcuts import render
from django.urls import get_script_prefix, set_script_prefix

from reservations.identifiers import is_valid_municipality_code
from reservations.models import Municipality

MUNICIPAL_URLCONF = "channels.web.municipal_urls"
# /m/<code> followed by the rest of the path (None without even the slash after the code).
PREFIXED = re.compile(r"^/m/(?P<code>\d{6})(?P<rest>/.*)?$", re.DOTALL)


def page_municipality_code(request: HttpRequest) -> str:
    """The code of the municipality whose pages these are: `/m/<code>/`, a city's own host,
    else HOME_MUNICIPALITY_CODE."""
    code: str | None = getattr(request, "resident_municipality_code", None)
    return code or str(settings.HOME_MUNICIPALITY_CODE)


def page_municipality(request: HttpRequest) -> Municipality | None:
    """The municipality whose pages these are; None only for `/` before the home municipality
    exists (a fresh installation)."""
    found: Municipality | None = getattr(request, "resident_municipality", None)
    if found is not None:
        return found
    return Municipality.objects.filter(code=settings.HOME_MUNICIPALITY_CODE).first()


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 404 page of a city's pages (municipal_urls.handler404): always the resident page,
    with its way back to this city's front page, even for signed-in staff (the staff layout
    links to staff pages, which this URLconf does not have)."""
    return render(request, "web/not_found.html", status=404)


class MunicipalPagesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        prefix = ""
        match = PREFIXED.match(request.path_info)
        if match is not None and is_valid_municipality_code(match["code"]):
            if match["rest"] is None:
                # /m/452025 → /m/452025/ (CommonMiddleware cannot: the root URLconf has no /m/).
                query = request.META.get("QUERY_STRING", "")
                return HttpResponsePermanentRedirect(
                    request.path + "/" + (f"?{query}" if query else "")
                )
            code: str | None = match["code"]
            prefix = f"m/{code}/"
            request.path_info = match["rest"]
        else:
            # get_host raises DisallowedHost (a 400) for a host outside ALLOWED_HOSTS, as
            # CommonMiddleware would a moment later.
            domain, _port = split_domain_port(request.get_host())
            code = settings.MUNICIPALITY_WEB_HOSTS.get(domain) if domain else None
        if code is None:
            return self.get_response(request)
        request.resident_municipality_code = code  # type: ignore[attr-defined]
        request.urlconf = MUNICIPAL_URLCONF  # type: ignore[attr-defined]
        if not prefix:
            return self.get_response(request)
        # Django adds the script prefix to a relative STATIC_URL the first time the setting is
        # read, and keeps the result: read it under the request's own prefix first.
        _static = settings.STATIC_URL
        previous = get_script_prefix()
        request.script_prefix_outside = previous  # type: ignore[attr-defined]
        set_script_prefix(previous + prefix)
        try:
            return self.get_response(request)
        finally:
            # The WSGI handler sets the prefix afresh for every request, but the test client
            # and code run after the response in this thread would inherit ours.
            set_script_prefix(previous)

    def process_view(
        self, request: HttpRequest, view: object, args: object, kwargs: object
    ) -> None:
        code = getattr(request, "resident_municipality_code", None)
        if code is None:
            return
        municipality = Municipality.objects.filter(code=code).first()
        if municipality is None:
            # The 404 page's way back leads to the front page outside /m/<code>/, which exists.
            outside = getattr(request, "script_prefix_outside", None)
            if outside is not None:
                set_script_prefix(outside)
            raise Http404("no such municipality")
        request.resident_municipality = municipality  # type: ignore[attr-defined]
