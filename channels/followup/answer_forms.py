"""The answer page's form, built from a questionnaire version's questions.

The form only collects what was typed and chosen: checking it is selectors.answer_check's job
(through the service), so a web answer, a LINE answer and an API answer are refused with the
same words. Each question's field is named `q_<key>`, so no question key can collide with the
form's own fields (by_proxy, the CSRF token).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from channels.followup.answering import decimal_hint, localized_label, range_hint
from channels.followup.models import Question
from channels.followup.selectors import RawValue

PHOTO_ACCEPT = "image/jpeg,image/png,image/heic,image/heif"


def field_name(question: Question) -> str:
    return f"q_{question.key}"


class _RawText(forms.CharField):
    """Text as typed (answer_check folds and strips it)."""

    def __init__(self) -> None:
        super().__init__(required=False, strip=False)


class _RawList(forms.Field):
    """Every value a group of check boxes sent (answer_check knows which are choices)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        if isinstance(value, str):
            return [value]
        return [str(part) for part in value]


class AnswerForm(forms.Form):
    by_proxy = forms.BooleanField(required=False, label=_("家族が代わりに回答しています"))

    def __init__(self, questions: Sequence[Question], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        for question in self.questions:
            name = field_name(question)
            if question.kind == Question.Kind.MULTIPLE:
                self.fields[name] = _RawList(required=False)
            elif question.kind == Question.Kind.PHOTO:
                # Any file: the photo check (photos.photo_clean) says why one is refused.
                self.fields[name] = forms.FileField(required=False, allow_empty_file=True)
            else:
                self.fields[name] = _RawText()

    def raw_values(self) -> dict[str, RawValue]:
        """The answers by question key, as answer_check takes them (photos apart)."""
        values: dict[str, RawValue] = {}
        for question in self.questions:
            if question.kind == Question.Kind.PHOTO:
                continue
            values[question.key] = self.cleaned_data.get(field_name(question))
        return values

    def uploads(self) -> dict[str, UploadedFile]:
        """The photos sent, by question key (a question left without a new photo is absent)."""
        uploads: dict[str, UploadedFile] = {}
        for question in self.questions:
            if question.kind != Question.Kind.PHOTO:
                continue
            upload = self.cleaned_data.get(field_name(question))
            if upload:
                uploads[question.key] = upload
        return uploads

    def form_errors(self) -> dict[str, str]:
        """What the form itself refused (a file field sent as text), by question key."""
        by_name = {field_name(question): question.key for question in self.questions}
        return {
            by_name.get(name, name): " ".join(str(message) for message in messages)
            for name, messages in self.errors.items()
        }


def initial_from_values(questions: Sequence[Question], values: Mapping[str, Any]) -> dict[str, Any]:
    """The form's initial data from a stored answer (for 訂正する)."""
    initial: dict[str, Any] = {}
    for question in questions:
        value = values.get(question.key)
        if value is None or question.kind == Question.Kind.PHOTO:
            continue
        initial[field_name(question)] = value
    return initial


# ---------------------------------------------------------------------------
# What the template draws for each question
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChoiceView:
    key: str
    label: str
    exclusive: bool
    checked: bool
    input_id: str


@dataclass(frozen=True)
class QuestionView:
    key: str
    kind: str
    name: str
    input_id: str
    label: str
    required: bool
    unit: str
    range_hint: str
    decimal_hint: str
    value: str
    choices: list[ChoiceView]
    error: str
    has_photo: bool  # a correction: a photo was sent already and is kept without a new one

    @property
    def error_id(self) -> str:
        return f"{self.input_id}-error"

    @property
    def hint_id(self) -> str:
        return f"{self.input_id}-hint"

    @property
    def described_by(self) -> str:
        ids = []
        if self.range_hint or self.decimal_hint or self.has_photo:
            ids.append(self.hint_id)
        if self.error:
            ids.append(self.error_id)
        return " ".join(ids)


def _current(form: AnswerForm, question: Question) -> Any:
    name = field_name(question)
    if form.is_bound:
        if question.kind == Question.Kind.MULTIPLE:
            return form.data.getlist(name) if hasattr(form.data, "getlist") else []
        return form.data.get(name, "")
    return form.initial.get(name, [] if question.kind == Question.Kind.MULTIPLE else "")


def question_views(
    form: AnswerForm,
    *,
    language: str,
    errors: Mapping[str, str],
    photos_kept: Sequence[str] = (),
) -> list[QuestionView]:
    """Each question as the template draws it: its label in `language`, what was typed or
    chosen (kept after an error), and its error."""
    views = []
    for index, question in enumerate(form.questions, start=1):
        current = _current(form, question)
        input_id = f"q{index}"
        chosen = {str(part) for part in current} if isinstance(current, list) else {str(current)}
        choices = [
            ChoiceView(
                key=choice.key,
                label=localized_label(choice, language),
                exclusive=choice.is_exclusive,
                checked=choice.key in chosen,
                input_id=f"{input_id}-{position}",
            )
            for position, choice in enumerate(question.choices.all(), start=1)
        ]
        is_number = question.kind == Question.Kind.NUMBER
        views.append(
            QuestionView(
                key=question.key,
                kind=question.kind,
                name=field_name(question),
                input_id=input_id,
                label=localized_label(question, language),
                required=question.required,
                unit=question.unit,
                range_hint=range_hint(question) if is_number else "",
                decimal_hint=decimal_hint(question) if is_number else "",
                value="" if isinstance(current, list) else str(current),
                choices=choices,
                error=errors.get(question.key, ""),
                has_photo=question.key in photos_kept,
            )
        )
    return views
