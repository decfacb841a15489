"""The personal answer page of health follow-up: /f/<token>/ (short, for a one-segment SMS)."""

from __future__ import annotations

from django.urls import URLPattern, path

from channels.followup import answer_views

app_name = "followup_answer"

urlpatterns: list[URLPattern] = [
    path("<str:token>/", answer_views.answer, name="answer"),
]
