"""The personal answer page of health follow-up: /f/<token>/.

The link comes by SMS or LINE and needs no sign-in: whoever holds it answers today's
questionnaire for the person it was made for, and sees nothing about them but their given
name and what was answered today. So the page is kept out of search engines, caches and
Referer headers (the token is in the address), a wrong token gets the same plain 404 page
whatever it is, and the alert an answer raised is never shown; a red answer only adds the
numbers to phone.

Today is Japan's date (the page's clock is the server's, never the phone's). The page's
language is the person's (FollowedPerson.language) until they pick another with ?lang=,
which a cookie scoped to this page's path remembers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from channels.followup.answer_forms import (
    PHOTO_ACCEPT,
    AnswerForm,
    initial_from_values,
    question_views,
)
from channels.followup.answering import (
    LANGUAGES,
    DayState,
    Today,
    answer_summary,
    followup_today,
    household_followups,
)
from channels.followup.models import FollowUp, Question
from channels.followup.photos import answer_record_with_photos
from channels.followup.selectors import followup_by_token, questionnaire_questions
from channels.followup.services import AnswerInvalid, FollowUpError

LANGUAGE_COOKIE = "followup_lang"
LANGUAGE_COOKIE_MAX_AGE = 60 * 60 * 24 * 90  # longer than any follow-up
LANGUAGE_NAMES = {"ja": "日本語", "ja-easy": "やさしい にほんご", "en": "English"}
_WEEKDAYS_JA = "月火水木金土日"
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _day_text(day: dt.date, language: str) -> str:
    if language == "en":
        return f"{_WEEKDAYS_EN[day.weekday()]} {day.day} {_MONTHS_EN[day.month - 1]}"
    return f"{day.month}月{day.day}日（{_WEEKDAYS_JA[day.weekday()]}）"


def _html_lang(language: str) -> str:
    return "en" if language == "en" else "ja"


def _private(response: HttpResponse, language: str) -> HttpResponse:
    """The headers of every answer page: the address carries the token."""
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"
    response["Content-Language"] = _html_lang(language)
    return response


def _language(request: HttpRequest, followup: FollowUp) -> tuple[str, bool]:
    """The page's language, and whether it was just chosen (then the cookie remembers it)."""
    asked = request.GET.get("lang", "")
    if asked in LANGUAGES:
        return asked, True
    remembered = request.COOKIES.get(LANGUAGE_COOKIE, "")
    if remembered in LANGUAGES:
        return remembered, False
    own = followup.person.language
    return (own if own in LANGUAGES else "ja"), False


def _not_found(request: HttpRequest) -> HttpResponse:
    # One page for every wrong token, in Japanese (nobody's language is known): nothing tells
    # a guessed token from an old one.
    with translation.override("ja"):
        response = render(
            request, "followup/answer_not_found.html", {"html_lang": "ja"}, status=404
        )
    return _private(response, "ja")


@require_http_methods(["GET", "HEAD", "POST"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    followup = followup_by_token(token)
    if followup is None:
        return _not_found(request)
    language, chosen = _language(request, followup)
    with translation.override(language):
        response = _page(request, followup, token, language)
    if chosen:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=LANGUAGE_COOKIE_MAX_AGE,
            path=request.path,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    return _private(response, language)


def _base_context(
    request: HttpRequest, followup: FollowUp, token: str, language: str, today: dt.date
) -> dict[str, Any]:
    municipality = followup.person.municipality
    questionnaire = followup.questionnaire
    path = reverse("followup_answer:answer", args=[token])
    return {
        "html_lang": _html_lang(language),
        "language": language,
        "languages": [
            {"code": code, "name": LANGUAGE_NAMES[code], "url": f"{path}?lang={code}"}
            for code in LANGUAGES
        ],
        "first_name": followup.person.first_name,
        "title": (questionnaire.title_en if language == "en" else "") or questionnaire.title,
        "municipality_name": (municipality.name_en if language == "en" else "")
        or municipality.name,
        "call_centre_phone": municipality.call_centre_phone,
        "call_centre_tel": "".join(ch for ch in municipality.call_centre_phone if ch.isdigit()),
        "today_text": _day_text(today, language),
        "page_url": path,
    }


def _page(request: HttpRequest, followup: FollowUp, token: str, language: str) -> HttpResponse:
    now = timezone.now()
    today = timezone.localdate(now)
    state = followup_today(followup, today)
    context = _base_context(request, followup, token, language, today)
    if state.state == DayState.ENDED:
        # 410: the link was real and is over (a search engine, or a browser's history, drops it).
        return render(request, "followup/answer_closed.html", context, status=410)
    context["household"] = household_followups(followup, today)
    if state.state == DayState.NOT_A_DAY:
        context["next_day_text"] = _day_text(state.next_day, language) if state.next_day else ""
        return render(request, "followup/answer_not_today.html", context)

    questions = questionnaire_questions(followup.questionnaire)
    if request.method == "POST":
        return _post(request, followup, token, language, state, questions, context, now)
    previous = state.answer.values if state.answer is not None else {}
    if state.answer is not None and request.GET.get("correct") != "1":
        context.update(
            summary=answer_summary(questions, previous, language),
            sent=request.GET.get("sent") == "1",
            needs_a_call=state.needs_a_call,
        )
        return render(request, "followup/answer_received.html", context)
    initial = initial_from_values(questions, previous)
    if state.answer is not None:
        initial["by_proxy"] = state.answer.answered_by_proxy
    form = AnswerForm(questions, initial=initial)
    return _form_page(request, form, language, state, questions, context, errors={})


def _photos_kept(questions: list[Question], state: Today) -> list[str]:
    """Photo questions already answered today: a correction keeps the photo unless a new one
    is chosen (a file input cannot be filled in again)."""
    if state.answer is None:
        return []
    return [
        question.key
        for question in questions
        if question.kind == Question.Kind.PHOTO and state.answer.values.get(question.key)
    ]


def _form_page(
    request: HttpRequest,
    form: AnswerForm,
    language: str,
    state: Today,
    questions: list[Question],
    context: dict[str, Any],
    *,
    errors: dict[str, str],
    error: str = "",
) -> HttpResponse:
    views = question_views(
        form, language=language, errors=errors, photos_kept=_photos_kept(questions, state)
    )
    context.update(
        form=form,
        questions=views,
        error=error,
        errored=[view for view in views if view.error],
        correcting=state.answered,
        photo_accept=PHOTO_ACCEPT,
        has_photo_question=any(q.kind == Question.Kind.PHOTO for q in questions),
    )
    return render(request, "followup/answer_form.html", context)


def _post(
    request: HttpRequest,
    followup: FollowUp,
    token: str,
    language: str,
    state: Today,
    questions: list[Question],
    context: dict[str, Any],
    now: dt.datetime,
) -> HttpResponse:
    form = AnswerForm(questions, request.POST, request.FILES)
    if not form.is_valid():
        return _form_page(
            request,
            form,
            language,
            state,
            questions,
            context,
            errors=form.form_errors(),
            error=_("回答に誤りがあります。"),
        )
    raw_values = form.raw_values()
    uploads = form.uploads()
    for key in _photos_kept(questions, state):
        if key not in uploads:
            assert state.answer is not None
            raw_values[key] = state.answer.values[key]
    try:
        answer_record_with_photos(
            followup,
            state.today,
            raw_values,
            uploads,
            now=now,
            by_proxy=bool(form.cleaned_data.get("by_proxy")),
        )
    except AnswerInvalid as invalid:
        return _form_page(
            request,
            form,
            language,
            state,
            questions,
            context,
            errors=invalid.errors,
            error=invalid.message,
        )
    except FollowUpError as refused:
        return _form_page(
            request, form, language, state, questions, context, errors={}, error=refused.message
        )
    # POST/redirect/GET: a reload of the received page sends nothing again.
    return HttpResponseRedirect(reverse("followup_answer:answer", args=[token]) + "?sent=1")
