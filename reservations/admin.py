"""Admin for municipal staff. Configuration (sites, days, rules) is edited here directly;
reservations, slot counters and doses change only through the services, so those screens are
read-only and offer actions that call a service instead."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from reservations.admin_actions import generate_season_action
from reservations.admin_openings import (
    findings_html,
    municipality_season_check_action,
    opening_check_action,
    opening_override_action,
)
from reservations.admin_scope import MunicipalityScopedAdmin, ScopedChoices, staff_assignment_form
from reservations.exceptions import ReservationError
from reservations.forms import CHECKED_FORM_FIELDS
from reservations.models import (
    Campaign,
    ClosedDay,
    CohortOpening,
    ContactChange,
    DayCancellation,
    EligibilityRule,
    IntervalRule,
    Municipality,
    OpeningCheck,
    OperatingDay,
    PhoneVerification,
    Program,
    Reservation,
    ReservationEvent,
    Resident,
    Site,
    Slot,
    StaffAssignment,
    Ticket,
    Vaccination,
    Vaccine,
)
from reservations.models.booking import Actor, Channel
from reservations.services.booking import Requester, reservation_cancel
from reservations.services.openings import opening_check_findings, opening_check_latest
from reservations.services.slots import slot_set_capacity
from reservations.services.vaccinations import vaccination_confirm
from reservations.staff_scope import staff_scope

admin.site.site_header = _("窓口 ワクチン接種予約 管理")
admin.site.site_title = _("窓口 管理")


class ClosedDayInline(admin.TabularInline[ClosedDay, Municipality]):
    model = ClosedDay
    extra = 1
    fields = ["date", "name", "every_year"]


@admin.register(Municipality)
class MunicipalityAdmin(MunicipalityScopedAdmin[Municipality]):
    """Staff see their own municipalities; adding or removing one is a superuser's (a new city
    is a new deployment's setup, and its creator would not see it)."""

    scope_municipality_field = "pk"
    # 住所地外接種: naming another municipality whose residents this one accepts shows no one's
    # data, and limiting it would drop the others a superuser set when staff save the form.
    scope_unlimited_fields = ["accepts_residents_of"]
    list_display = [
        "code",
        "name",
        "name_en",
        "prefecture",
        "call_centre_phone",
        "closed_over_new_year",
    ]
    search_fields = ["code", "name", "name_en"]
    # 住所地外接種: the deployment's own municipalities, a handful. Not an autocomplete box,
    # whose widget queries the posted ids as they are when it redraws a refused form (a 500
    # on an id that is no number); CHECKED_FORM_FIELDS refuses such ids in words.
    filter_horizontal = ["accepts_residents_of"]
    formfield_overrides = CHECKED_FORM_FIELDS
    inlines = [ClosedDayInline]
    actions = [municipality_season_check_action]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)


@admin.register(Site)
class SiteAdmin(MunicipalityScopedAdmin[Site]):
    scope_site_field = "pk"
    list_display = ["name", "name_en", "municipality", "kind", "is_active"]
    list_filter = ["municipality", "kind", "is_active"]
    search_fields = ["name", "short_name", "name_en"]
    actions = [generate_season_action]


class SlotInline(admin.TabularInline[Slot, OperatingDay]):
    model = Slot
    fields = ["starts_at", "ends_at", "capacity", "phone_reserved", "booked", "booked_staff"]
    readonly_fields = ["booked", "booked_staff"]
    extra = 0

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Capacity changes go through the Slot screen, which refuses to drop below booked.
        return False


@admin.register(OperatingDay)
class OperatingDayAdmin(MunicipalityScopedAdmin[OperatingDay]):
    scope_site_field = "site"
    list_display = [
        "date",
        "site",
        "vaccine",
        "campaign",
        "booking_opens_days_before",
        "booking_closes_days_before",
    ]
    list_filter = ["site", "vaccine", "campaign"]
    date_hierarchy = "date"
    inlines = [SlotInline]


@admin.register(Slot)
class SlotAdmin(MunicipalityScopedAdmin[Slot]):
    scope_site_field = "operating_day__site"
    list_display = [
        "starts_at",
        "operating_day",
        "capacity",
        "phone_reserved",
        "booked",
        "booked_staff",
    ]
    list_filter = ["operating_day__site", "operating_day__vaccine"]
    date_hierarchy = "starts_at"
    readonly_fields = ["booked", "booked_staff"]
    list_select_related = ["operating_day__site", "operating_day__vaccine"]

    def save_model(self, request: HttpRequest, obj: Slot, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        try:
            slot_set_capacity(slot=obj, capacity=obj.capacity, phone_reserved=obj.phone_reserved)
        except ReservationError as error:
            self.message_user(request, str(error), messages.ERROR)
        if form.changed_data and set(form.changed_data) - {"capacity", "phone_reserved"}:
            obj.save(
                update_fields=[
                    f for f in form.changed_data if f not in ("capacity", "phone_reserved")
                ]
            )


class TicketInline(ScopedChoices, admin.TabularInline[Ticket, Resident]):
    model = Ticket
    fields = ["municipality", "number", "status", "issued_on", "replaces"]
    extra = 0


class ContactChangeInline(admin.TabularInline[ContactChange, Resident]):
    """The history of the resident's number and SMS consent, whoever changed it (read-only:
    changes go through services/contact.py)."""

    model = ContactChange
    fields = readonly_fields = (
        "created_at",
        "kind",
        "phone",
        "verified",
        "channel",
        "actor",
        "actor_user",
    )
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PhoneVerificationInline(admin.TabularInline[PhoneVerification, Resident]):
    """Codes sent in the last day, for staff answering "my code never came" (the code itself is
    never stored)."""

    model = PhoneVerification
    fields = readonly_fields = (
        "created_at",
        "phone",
        "status",
        "wrong_attempts",
        "channel",
        "expires_at",
    )
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Resident)
class ResidentAdmin(MunicipalityScopedAdmin[Resident]):
    scope_municipality_field = "municipality"
    audit_resident_field = ""
    list_display = ["name", "name_kana", "birth_date", "municipality", "status"]
    list_filter = ["municipality", "status"]
    search_fields = ["name", "name_kana", "atena_number", "tickets__number"]
    inlines = [TicketInline, ContactChangeInline, PhoneVerificationInline]


@admin.register(Ticket)
class TicketAdmin(MunicipalityScopedAdmin[Ticket]):
    scope_municipality_field = "municipality"
    audit_resident_field = "resident"
    list_display = ["number", "municipality", "resident", "status"]
    list_filter = ["municipality", "status"]
    search_fields = ["number"]
    raw_id_fields = ["resident", "replaces"]


@admin.register(Vaccine)
class VaccineAdmin(admin.ModelAdmin[Vaccine]):
    list_display = [
        "code",
        "name",
        "name_en",
        "antigen",
        "vrs_maker_label",
        "doses_per_vial",
        "primary_series_doses",
    ]


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin[Program]):
    list_display = ["code", "name", "category", "max_doses_per_campaign"]


@admin.register(Campaign)
class CampaignAdmin(MunicipalityScopedAdmin[Campaign]):
    """National campaigns (no municipality) stay visible to all staff, as before."""

    scope_municipality_field = "municipality"
    scope_national_when_empty = True
    list_display = ["code", "name", "name_en", "program", "municipality", "starts_on", "ends_on"]
    formfield_overrides = CHECKED_FORM_FIELDS
    list_filter = ["program"]


@admin.register(EligibilityRule)
class EligibilityRuleAdmin(MunicipalityScopedAdmin[EligibilityRule]):
    scope_municipality_field = "municipality"
    scope_national_when_empty = True
    list_display = [
        "code",
        "program",
        "vaccine",
        "min_age_months",
        "below_age_months",
        "requires_attestation",
        "effective_from",
        "effective_to",
        "municipality",
    ]
    list_filter = ["program", "municipality"]
    search_fields = ["code"]


@admin.register(CohortOpening)
class CohortOpeningAdmin(MunicipalityScopedAdmin[CohortOpening]):
    """Staged opening by birth-date band. Saving clears this process's copy of the rows at once;
    other web processes follow within reservations.cohorts.COHORT_CACHE_SECONDS. The pre-opening
    check's verdict is read-only here: it changes by running the check or by an override."""

    list_display = [
        "municipality",
        "campaign",
        "born_from",
        "born_to",
        "opens_at",
        "expected_bookings",
        "check_blocked",
        "checked_at",
    ]
    list_filter = ["municipality", "campaign", "check_blocked"]
    date_hierarchy = "opens_at"
    readonly_fields = ["check_blocked", "checked_at", "latest_check"]
    scope_municipality_field = "municipality"
    actions = [opening_check_action, opening_override_action]

    def has_override_openingcheck_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("reservations.override_openingcheck")

    @admin.display(description=_("最後の開始前チェック"))
    def latest_check(self, obj: CohortOpening) -> str:
        """The last run's findings, and every run in the audit trail (OpeningCheck)."""
        check = opening_check_latest(obj) if obj.pk else None
        if check is None:
            return str(_("まだチェックしていません。"))
        history = reverse("admin:reservations_openingcheck_changelist") + f"?opening={obj.pk}"
        return format_html(
            '{}<p><a href="{}">{}</a></p>',
            findings_html(opening_check_findings(check)),
            history,
            _("すべてのチェックと承認の記録"),
        )


@admin.register(IntervalRule)
class IntervalRuleAdmin(MunicipalityScopedAdmin[IntervalRule]):
    scope_municipality_field = "municipality"
    scope_national_when_empty = True
    list_display = [
        "code",
        "antigen",
        "vaccine",
        "reference",
        "amount",
        "unit",
        "strength",
        "effective_from",
        "effective_to",
        "municipality",
    ]
    list_filter = ["antigen", "strength", "municipality"]
    search_fields = ["code"]
    formfield_overrides = CHECKED_FORM_FIELDS


# Django's own staff and group pages, with the checked field for their permission and group
# lists (many-to-many).
admin.site.unregister(User)
admin.site.unregister(Group)


class StaffAssignmentInline(ScopedChoices, admin.TabularInline[StaffAssignment, User]):
    """The municipalities (or single sites) a member of staff works for
    (reservations/staff_scope.py). A non-superuser sees and assigns only within their own
    scope; the rows of other municipalities stay as they are."""

    model = StaffAssignment
    fields = ["municipality", "site"]
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[StaffAssignment]:
        scope = staff_scope(request.user)
        queryset = super().get_queryset(request)
        if scope.everything:
            return queryset
        # The rows they could have given: whole municipalities they hold whole, their sites.
        return queryset.filter(
            Q(municipality_id__in=scope.whole_municipality_ids) | Q(site_id__in=scope.site_ids)
        )

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        kwargs["form"] = staff_assignment_form(staff_scope(request.user))
        return super().get_formset(request, obj, **kwargs)


@admin.register(User)
class StaffUserAdmin(UserAdmin):  # type: ignore[type-arg]
    formfield_overrides = CHECKED_FORM_FIELDS
    inlines = [StaffAssignmentInline]


@admin.register(Group)
class StaffGroupAdmin(GroupAdmin):
    formfield_overrides = CHECKED_FORM_FIELDS


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Rows written only by services: visible, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DayCancellation)
class DayCancellationAdmin(MunicipalityScopedAdmin[DayCancellation], ReadOnlyAdmin):
    """Asked for and approved through the notice of a cancelled day (notify's broadcasts)."""

    scope_site_field = "operating_day__site"

    list_display = [
        "operating_day",
        "requested_by",
        "requested_at",
        "approved_by",
        "approved_at",
        "cancelled_reservations",
    ]
    list_select_related = ["operating_day__site", "requested_by", "approved_by"]


OPENING_CHECK_FIELDS = (
    "opening",
    "ran_at",
    "trigger",
    "blocked",
    "error_codes",
    "covered_by",
    "overridden_by",
    "overridden_at",
    "override_reason",
    "findings_list",
)


@admin.register(OpeningCheck)
class OpeningCheckAdmin(MunicipalityScopedAdmin[OpeningCheck], ReadOnlyAdmin):
    """Every run of the pre-opening check and every override: the audit trail of openings."""

    scope_municipality_field = "opening__municipality"

    list_display = ["ran_at", "opening", "trigger", "blocked", "overridden_by", "overridden_at"]
    list_filter = ["blocked", "trigger", "opening__municipality"]
    date_hierarchy = "ran_at"
    list_select_related = ["opening", "overridden_by"]
    fields = OPENING_CHECK_FIELDS
    readonly_fields = OPENING_CHECK_FIELDS

    @admin.display(description=_("チェック結果"))
    def findings_list(self, obj: OpeningCheck) -> str:
        return findings_html(opening_check_findings(obj))


class EventInline(admin.TabularInline[ReservationEvent, Reservation]):
    model = ReservationEvent
    fields = ["created_at", "kind", "channel", "actor", "actor_user", "data"]
    readonly_fields = ["created_at", "kind", "channel", "actor", "actor_user", "data"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Reservation)
class ReservationAdmin(MunicipalityScopedAdmin[Reservation], ReadOnlyAdmin):
    # A booking is its resident's municipality's data, wherever the slot is (as in the API).
    scope_municipality_field = "resident__municipality"
    audit_resident_field = "resident"
    list_display = ["code", "resident", "slot", "dose_number", "status", "channel", "entered_by"]
    list_filter = ["status", "channel", "entered_by", "slot__operating_day__site"]
    search_fields = ["code", "resident__name", "resident__name_kana", "ticket__number"]
    list_select_related = ["resident", "slot__operating_day__site"]
    inlines = [EventInline]
    actions = ["cancel_selected"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("reservations.view_reservation")

    @admin.action(
        description=_("選択した予約をキャンセル（取り消せません）"), permissions=["change"]
    )
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> None:
        requester = Requester(channel=Channel.PHONE, actor=Actor.OPERATOR, user=request.user)
        done = 0
        for reservation in queryset:
            try:
                reservation_cancel(reservation=reservation, requester=requester)
                done += 1
            except ReservationError as error:
                self.message_user(request, f"{reservation.code}: {error}", messages.ERROR)
        self.message_user(request, _("%(count)s件の予約をキャンセルしました。") % {"count": done})

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Allowed only so the cancel action shows; the form itself has no editable field.
        return obj is None and request.user.has_perm("reservations.change_reservation")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Reservation._meta.fields]

    def audit_read_detail(self, obj: Reservation) -> dict[str, Any]:
        return {"code": obj.code}


@admin.register(ReservationEvent)
class ReservationEventAdmin(MunicipalityScopedAdmin[ReservationEvent], ReadOnlyAdmin):
    scope_municipality_field = "reservation__resident__municipality"
    list_display = ["created_at", "reservation", "kind", "channel", "actor", "actor_user"]
    list_filter = ["kind", "channel", "actor"]
    date_hierarchy = "created_at"


@admin.register(Vaccination)
class VaccinationAdmin(MunicipalityScopedAdmin[Vaccination], ReadOnlyAdmin):
    # The person's record, wherever the dose was given (住所地外接種 included).
    scope_municipality_field = "resident__municipality"
    audit_resident_field = "resident"
    list_display = [
        "resident",
        "dose_number",
        "vaccinated_on",
        "vaccine",
        "outcome",
        "copay_category",
        "status",
        "version",
        "confirmed",
    ]
    list_filter = ["outcome", "copay_category", "status", "source", "confirmed", "vaccine"]
    date_hierarchy = "vaccinated_on"
    actions = ["confirm_selected"]

    def has_confirm_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("reservations.confirm_vaccination")

    @admin.action(
        description=_("自治体確認済みにする（以後は訂正手続きでのみ変更）"), permissions=["confirm"]
    )
    def confirm_selected(self, request: HttpRequest, queryset: QuerySet[Vaccination]) -> None:
        requester = Requester(channel=Channel.COUNTER, actor=Actor.OPERATOR, user=request.user)
        record_ids = list(queryset.values_list("record_id", flat=True))
        confirmed = vaccination_confirm(record_ids=record_ids, requester=requester)
        self.message_user(
            request, _("%(count)s件を確認済みにしました。") % {"count": confirmed}, messages.SUCCESS
        )
