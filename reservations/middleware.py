"""Refuse text that no person types: control characters, and bytes that are not UTF-8.

PostgreSQL cannot store NUL in text (SQLite silently does), spreadsheets and terminals act on
other control characters, and no address, query parameter or form field of ours takes them.
One check here, before any view runs, answers 400 in the visitor's language instead of a
traceback deep inside a query. Tab, line feed and carriage return stay allowed (a memo may
have lines). JSON bodies are checked by the parser of the view that reads them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

# C0 controls except TAB, LF and CR, and DEL: what no keyboard or input method produces. The
# imports refuse more (reservations/csv_safety.py: C1 controls and bidirectional overrides,
# which disguise a file's cells in a spreadsheet); a page shows what was typed escaped in
# HTML, and a name or memo typed in a right-to-left script may carry direction marks.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
FORM_CONTENT = "application/x-www-form-urlencoded"
REFUSED_CODE = "invalid_characters"


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def _decoded(raw: bytes) -> str | None:
    """The text of percent-decoded bytes, or None when they are not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _url_encoded_text(encoded: str | bytes) -> str | None:
    # A query string or form body: '+' is a space; %XX escapes may hide any byte.
    raw = encoded.encode("latin-1") if isinstance(encoded, str) else encoded
    return _decoded(unquote_to_bytes(raw.replace(b"+", b" ")))


def _acceptable(text: str | None) -> bool:
    return text is not None and not has_control_characters(text)


def request_refused(request: HttpRequest) -> bool:
    """Whether the path, the query string or a form body holds what this module refuses."""
    # WSGI hands the path over as latin-1 text of the raw bytes, already percent-decoded.
    path = str(request.META.get("PATH_INFO", ""))
    if not _acceptable(_decoded(path.encode("latin-1", errors="replace"))):
        return True
    if not _acceptable(_url_encoded_text(str(request.META.get("QUERY_STRING", "")))):
        return True
    if request.method != "POST":
        return False
    # Multipart bodies (file uploads) are left to the forms: reading them here would keep
    # whole files in memory, and Django's form fields refuse NUL themselves.
    return request.content_type == FORM_CONTENT and not _acceptable(_url_encoded_text(request.body))


def _wants_json(request: HttpRequest) -> bool:
    # The API answers JSON whatever the client accepts: its schema promises no HTML page.
    return (
        "json" in request.headers.get("Accept", "")
        or "json" in (request.content_type or "")
        or request.path_info.startswith("/api/")
    )


class ControlCharacterMiddleware:
    """Answers 400 (an HTML page, or JSON to clients that ask for JSON) to refused input."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request_refused(request):
            return self.get_response(request)
        message = _(
            "使えない文字（制御文字など）が含まれているため、受け付けられませんでした。"
            "入力し直してください。"
        )
        if _wants_json(request):
            return JsonResponse(
                {"code": REFUSED_CODE, "message": message, "detail": {}}, status=400
            )
        return render(request, "reservations/input_refused.html", {"message": message}, status=400)
