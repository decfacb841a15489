"""Resident pages. For now the front page: where and when seats are open (no personal data)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from reservations.models import Municipality
from reservations.selectors import fill_rates


def home(request: HttpRequest) -> HttpResponse:
    municipality = Municipality.objects.filter(code=settings.HOME_MUNICIPALITY_CODE).first()
    today = timezone.localdate()
    days = (
        fill_rates(
            municipality=municipality, date_from=today, date_to=today + dt.timedelta(days=14)
        )
        if municipality is not None
        else []
    )
    return render(request, "web/home.html", {"municipality": municipality, "days": days})


def health(request: HttpRequest) -> JsonResponse:
    """For load balancers: 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
