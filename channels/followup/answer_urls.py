"""The personal answer page of health follow-up: /f/<token>/ (short, for a one-segment SMS)."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "followup_answer"

urlpatterns: list[URLPattern] = []
