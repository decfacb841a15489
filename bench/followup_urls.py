"""The bench's URLconf (bench/followup.py, through followup_settings.py): every URL of
config.urls, plus `/bench-baseline/f/<token>/`, the baseline of the answer page.

The baseline draws the answer page's own templates with the context the answer view builds
(its helpers, so the shape follows the view), as a browser walks it: GET the form, POST it
(checked by the same AnswerForm, then redirected, POST/redirect/GET), GET the received page.
It reads nothing from the database per request and writes nothing: the follow-up and the
questions are read once per gunicorn worker. What the answer page costs above it is the
follow-up's reads and the answer's write.
"""

from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone, translation

from channels.followup import answer_views
from channels.followup.answer_forms import AnswerForm
from channels.followup.answering import DayState, Today, answer_summary
from channels.followup.models import FollowUp, Question
from channels.followup.selectors import questionnaire_questions
from config.urls import urlpatterns as product_urlpatterns

# What the received page summarises (the answer every bench client sends).
RECEIVED_VALUES = {"temperature": "36.8", "spo2": 97, "pulse": 72, "symptoms": ["none"], "note": ""}


@functools.cache
def _fixture() -> tuple[FollowUp, list[Question]]:
    """One follow-up and its questions with their choices, read once per worker process."""
    followup = (
        FollowUp.objects.select_related("person__municipality", "questionnaire")
        .order_by("pk")
        .first()
    )
    if followup is None:
        raise RuntimeError("the bench database has no follow-up")
    questions = questionnaire_questions(followup.questionnaire)
    for question in questions:
        list(question.choices.all())  # prefetched: evaluated here, not per request
    return followup, questions


def baseline(request: HttpRequest, token: str) -> HttpResponse:
    followup, questions = _fixture()
    language = "ja"
    today = timezone.localdate()
    with translation.override(language):
        context: dict[str, Any] = answer_views._base_context(
            request, followup, token, language, today
        )
        context["page_url"] = request.path  # the form posts back here, not to the real page
        context["household"] = []
        state = Today(state=DayState.OPEN, today=today)
        if request.method == "POST":
            form = AnswerForm(questions, request.POST, request.FILES)
            if form.is_valid():
                return HttpResponseRedirect(request.path + "?sent=1")
            response = answer_views._form_page(
                request, form, language, state, questions, context, errors=form.form_errors()
            )
        elif request.GET.get("sent") == "1":
            context.update(
                summary=answer_summary(questions, RECEIVED_VALUES, language),
                sent=True,
                needs_a_call=False,
            )
            response = render(request, "followup/answer_received.html", context)
        else:
            form = AnswerForm(questions, initial={})
            response = answer_views._form_page(
                request, form, language, state, questions, context, errors={}
            )
    return answer_views._private(response, language)


urlpatterns: list[URLPattern | URLResolver] = [
    # First, so that no catch-all of the product's URLs can answer it.
    path("bench-baseline/f/<str:token>/", baseline, name="bench_followup_baseline"),
    *product_urlpatterns,  # type: ignore[list-item] # config.urls's list is not annotated
]
