"""Staff screens of health follow-up.

Questionnaires are shared by every municipality (no one's personal data), edited only as
drafts: a published version is read-only, and 「新しい版を作る」 copies it into the next
version. Django's admin cannot nest inlines, so a question's choices are edited on the
question's own page (linked from the questionnaire's list of questions).

The people followed, their follow-ups and answers are a municipality's data: scoped to the
member of staff's municipalities (MunicipalityScopedAdmin) and audited when a resident's
follow-up is shown. Follow-ups are read-mostly: they are started by the services and commands,
and staff may only end them here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels.followup.models import (
    AlertRule,
    Choice,
    FollowedPerson,
    FollowUp,
    FollowUpAnswer,
    Question,
    Questionnaire,
)
from channels.followup.services import (
    FollowUpError,
    followup_end,
    questionnaire_new_version,
    questionnaire_publish,
)
from channels.followup.staff import person_subject
from reservations import audit
from reservations.admin_scope import MunicipalityScopedAdmin, ScopedChoices
from reservations.identifiers import IdentifierError, normalize_phone


def _is_draft(obj: Questionnaire | Question | None) -> bool:
    """New, or part of a questionnaire version not yet published."""
    if obj is None:
        return True
    questionnaire = obj if isinstance(obj, Questionnaire) else obj.questionnaire
    return not questionnaire.is_published


class _DraftOnlyInline:
    """Rows of a published version are frozen: shown, never added, changed or deleted."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_add_permission(request, obj)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_delete_permission(request, obj)  # type: ignore[misc]


class QuestionInline(_DraftOnlyInline, admin.TabularInline[Question, Questionnaire]):
    model = Question
    extra = 0
    show_change_link = True
    fields = [
        "order",
        "key",
        "kind",
        "label",
        "label_en",
        "label_easy",
        "unit",
        "min_value",
        "max_value",
        "decimal_places",
        "required",
    ]


class AlertRuleInline(_DraftOnlyInline, admin.TabularInline[AlertRule, Questionnaire]):
    model = AlertRule
    extra = 0
    fields = [
        "order",
        "question_key",
        "condition",
        "threshold",
        "choice_key",
        "consecutive_days",
        "level",
        "message",
    ]


class QuestionnaireForm(forms.ModelForm[Questionnaire]):
    class Meta:
        model = Questionnaire
        fields = ["code", "title", "title_en"]

    def clean_code(self) -> str:
        code: str = self.cleaned_data["code"]
        if self.instance._state.adding and Questionnaire.objects.filter(code=code).exists():
            raise forms.ValidationError(
                _(
                    "このコードの質問票はすでにあります。"
                    "次の版は一覧の「新しい版を作る」で作ってください。"
                )
            )
        return code


@admin.register(Questionnaire)
class QuestionnaireAdmin(admin.ModelAdmin[Questionnaire]):
    form = QuestionnaireForm
    list_display = ["code", "version", "title", "is_active", "published_at"]
    list_filter = ["code", "is_active"]
    inlines = [QuestionInline, AlertRuleInline]
    actions = ["new_version", "publish"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Versions come from the action, activity from publishing: never typed in.
        fixed = ["version", "is_active", "published_at"]
        if obj is None:
            return fixed
        if obj.is_published:
            return ["code", "title", "title_en", *fixed]
        return ["code", *fixed]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_delete_permission(request, obj)

    @admin.action(description=_("新しい版を作る"), permissions=["add"])
    def new_version(self, request: HttpRequest, queryset: QuerySet[Questionnaire]) -> None:
        for questionnaire in queryset:
            try:
                draft = questionnaire_new_version(questionnaire)
            except FollowUpError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                continue
            self.message_user(
                request,
                _("%(title)s の第%(version)d版（下書き）を作りました。")
                % {"title": draft.title, "version": draft.version},
                messages.SUCCESS,
            )

    @admin.action(description=_("公開する"), permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Questionnaire]) -> None:
        for questionnaire in queryset:
            try:
                questionnaire_publish(questionnaire, now=timezone.now())
            except FollowUpError as exc:
                self.message_user(request, f"{questionnaire}: {exc.message}", messages.ERROR)
                continue
            self.message_user(
                request, _("%(name)s を公開しました。") % {"name": questionnaire}, messages.SUCCESS
            )

    def save_model(self, request: HttpRequest, obj: Questionnaire, form: Any, change: bool) -> None:
        if not change:
            # Added here, a questionnaire is a new code's first draft; the next versions of a
            # code come from the action, which copies the questions and rules.
            obj.version = 1
        super().save_model(request, obj, form, change)


class ChoiceInline(_DraftOnlyInline, admin.TabularInline[Choice, Question]):
    model = Choice
    extra = 0
    fields = ["order", "key", "label", "label_en", "label_easy", "is_exclusive"]


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin[Question]):
    """A question's own page, for its choices (linked from the questionnaire)."""

    list_display = ["questionnaire", "order", "key", "kind", "label"]
    list_filter = ["questionnaire"]
    inlines = [ChoiceInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return ["questionnaire"] if _is_draft(obj) else [f.name for f in Question._meta.fields]
        return []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "questionnaire":
            kwargs["queryset"] = Questionnaire.objects.filter(published_at__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_draft(obj) and super().has_delete_permission(request, obj)


class FollowedPersonForm(forms.ModelForm[FollowedPerson]):
    """Only the contact numbers are corrected here, stored in E.164 like the core's."""

    class Meta:
        model = FollowedPerson
        fields = ["phone", "proxy_phone"]

    def _phone(self, name: str, *, required: bool) -> str:
        raw: str = self.cleaned_data.get(name) or ""
        if not raw.strip():
            if required:
                raise forms.ValidationError(_("電話番号を入力してください。"))
            return ""
        try:
            return normalize_phone(raw)
        except IdentifierError as exc:
            raise forms.ValidationError(str(exc.message)) from None

    def clean_phone(self) -> str:
        return self._phone("phone", required=True)

    def clean_proxy_phone(self) -> str:
        return self._phone("proxy_phone", required=False)


def _person_read(person: FollowedPerson) -> audit.ReadOf:
    """The audit trail's name for a person followed: their Resident row when they are one,
    and always their subject (a person on a health centre's list has no Resident row)."""
    return audit.ReadOf(
        resident_id=person.resident_id,
        municipality_id=person.municipality_id,
        subject=person_subject(person),
    )


@admin.register(FollowedPerson)
class FollowedPersonAdmin(MunicipalityScopedAdmin[FollowedPerson]):
    scope_municipality_field = "municipality"
    audit_resident_field = "resident"
    form = FollowedPersonForm
    list_display = ["name", "birth_date", "municipality", "phone", "address_number"]
    list_filter = ["municipality"]
    search_fields = ["name", "phone", "address_number", "ticket_number"]
    readonly_fields = (
        "municipality",
        "resident",
        "name",
        "birth_date",
        "address_number",
        "ticket_number",
        "created_at",
    )
    fields = (*readonly_fields[:4], "phone", "proxy_phone", *readonly_fields[4:])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def audit_read(self, row: FollowedPerson) -> audit.ReadOf:
        return _person_read(row)


class FollowUpAnswerInline(ScopedChoices, admin.TabularInline[FollowUpAnswer, FollowUp]):
    model = FollowUpAnswer
    extra = 0
    fields = ("for_date", "alert_level", "values", "alerts", "answered_at", "answered_by_proxy")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FollowUp)
class FollowUpAdmin(MunicipalityScopedAdmin[FollowUp]):
    scope_municipality_field = "person__municipality"
    # Audited by the person followed (audit_read), resident or not.
    audit_resident_field = "resident"
    list_display = ["person", "questionnaire", "start_date", "last_date", "status", "end_reason"]
    list_filter = ["status", "questionnaire", "person__municipality"]
    search_fields = ["person__name", "person__phone"]
    list_select_related = ["person__resident", "questionnaire"]
    readonly_fields = (
        "person",
        "questionnaire",
        "start_date",
        "day_offsets",
        "last_date",
        "cutoff_time",
        "reminder_time",
        "status",
        "ended_at",
        "end_reason",
        "created_by",
        "created_at",
    )
    fields = readonly_fields
    inlines = [FollowUpAnswerInline]
    actions = ["end_by_staff"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def audit_read(self, row: FollowUp) -> audit.ReadOf:
        return _person_read(row.person)

    @admin.action(description=_("健康観察を終了する"), permissions=["change"])
    def end_by_staff(self, request: HttpRequest, queryset: QuerySet[FollowUp]) -> None:
        ended = 0
        for followup in queryset.filter(status=FollowUp.Status.ACTIVE):
            try:
                followup_end(
                    followup, FollowUp.EndReason.STAFF, now=timezone.now(), by=request.user
                )
            except FollowUpError as exc:
                self.message_user(request, f"{followup}: {exc.message}", messages.ERROR)
                continue
            ended += 1
        self.message_user(
            request, _("%(count)d件の健康観察を終了しました。") % {"count": ended}, messages.SUCCESS
        )
