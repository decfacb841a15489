"""Health-centre staff screens of health follow-up, under /followup/."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "followup_staff"

urlpatterns: list[URLPattern] = []
