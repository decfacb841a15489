"""The admin's share of the staff scope (reservations/staff_scope.py): each screen with a
municipality's data lists, opens and offers only what lies in the scope of the member of staff.

An admin declares how its rows reach a municipality or a site:

    class ResidentAdmin(MunicipalityScopedAdmin[Resident]):
        scope_municipality_field = "municipality"

and the mixin

- filters the changelist, the search, the actions' selection and every object view through
  get_queryset; an object outside it answers 404 (change, delete, history), like one that
  does not exist, never Django's redirect with "perhaps it was deleted";
- limits the choices of every foreign key and many-to-many field of its forms (and of its
  inlines': ScopedChoices) to the rows the related model's own admin would show,
  so a posted id outside the scope is the field's "select a valid choice" error, not a save;
- lists only those rows in its related-field list filters.

Superusers see everything (the scope's `everything`), as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib import admin
from django.contrib.admin import widgets
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.admin.filters import RelatedFieldListFilter
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Field, Model, Q, QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reservations import audit
from reservations.models import DayLot, Municipality, StaffAssignment
from reservations.staff_scope import StaffScope, staff_scope

if TYPE_CHECKING:
    _Base = admin.options.BaseModelAdmin[Any]
else:
    _Base = object

_M = TypeVar("_M", bound=Model)

# Models that no admin of ours registers but that a form may still point to: their path to
# a site or municipality (the others come from their registered MunicipalityScopedAdmin).
UNREGISTERED_PATHS: dict[type[Model], tuple[str, str]] = {
    DayLot: ("", "operating_day__site"),
}


def scope_rows_q(
    scope: StaffScope,
    *,
    municipality_field: str = "",
    site_field: str = "",
    municipality_code_field: str = "",
    national_when_empty: bool = False,
) -> Q:
    """Rows in `scope` by their path to a municipality (its row, or its code) and/or to a site:
    every path given must lead into the scope. `national_when_empty`: a row with no
    municipality is national data, shown to everyone (campaigns, rules)."""
    if scope.everything:
        return Q()
    q = Q()
    if municipality_field:
        q &= scope.municipality_q(municipality_field)
    if municipality_code_field:
        codes = Municipality.objects.filter(pk__in=scope.municipality_ids).values("code")
        q &= Q(**{f"{municipality_code_field}__in": codes})
    if site_field:
        q &= scope.site_q(site_field)
    if national_when_empty and municipality_field:
        q |= Q(**{f"{municipality_field}__isnull": True})
    return q


def choices_q(admin_site: admin.AdminSite, model: type[Model], request: HttpRequest) -> Q | None:
    """The rows of `model` this member of staff may choose in a form or a filter, as its own
    admin scopes them; None when the model holds no municipality's data."""
    scope = staff_scope(request.user)
    if scope.everything:
        return None
    try:
        related_admin = admin_site.get_model_admin(model)
    except NotRegistered:
        related_admin = None
    if isinstance(related_admin, MunicipalityScopedAdmin):
        return related_admin.scope_q(request)
    if model in UNREGISTERED_PATHS:
        municipality_field, site_field = UNREGISTERED_PATHS[model]
        return scope_rows_q(scope, municipality_field=municipality_field, site_field=site_field)
    return None


class ScopedRawIdWidget(widgets.ForeignKeyRawIdWidget):
    """A raw id box that names the chosen row only when it is in scope: Django's looks up any
    posted id, so a refused form would show the name of another city's resident."""

    def __init__(self, *args: Any, queryset: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queryset = queryset

    def label_and_url_for_value(self, value: Any) -> tuple[str, str]:
        key = self.rel.get_related_field().name
        try:
            in_scope = self.queryset.filter(**{key: value}).exists()
        except (ValueError, TypeError, OverflowError, ValidationError):
            in_scope = False
        if not in_scope:
            return "", ""
        return super().label_and_url_for_value(value)


class ScopedRelatedFieldListFilter(RelatedFieldListFilter):
    """A related-field filter listing only the rows in scope (the municipalities, sites...)."""

    def field_choices(
        self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> Any:
        ordering = self.field_admin_ordering(field, request, model_admin)
        limit = choices_q(model_admin.admin_site, field.related_model, request)
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=limit)


class ScopedChoices(_Base):
    """Foreign-key and many-to-many choices limited to the scope: the base of
    MunicipalityScopedAdmin, and a mixin for inlines (`class TicketInline(ScopedChoices,
    admin.TabularInline[Ticket, Resident])`), whose rows belong to their scoped parent.
    `scope_unlimited_fields`: relations deliberately left open (e.g. a municipality naming the
    other municipalities whose residents it accepts, 住所地外接種: no one's personal data)."""

    scope_unlimited_fields: Sequence[str] = ()

    def _scoped_field_queryset(
        self, db_field: Field[Any, Any], request: HttpRequest, queryset: QuerySet[Any] | None
    ) -> QuerySet[Any] | None:
        if db_field.name in self.scope_unlimited_fields:
            return queryset
        related = db_field.remote_field.model  # type: ignore[union-attr]
        limit = choices_q(self.admin_site, related, request)
        if limit is None:
            return queryset
        if queryset is None:
            queryset = related._default_manager.all()
        return queryset.filter(limit).distinct()

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if "queryset" not in kwargs:
            db = kwargs.get("using")
            queryset = self._scoped_field_queryset(
                db_field, request, self.get_field_queryset(db, db_field, request)
            )
            if queryset is not None:
                kwargs["queryset"] = queryset
                if "widget" not in kwargs and db_field.name in self.raw_id_fields:
                    kwargs["widget"] = ScopedRawIdWidget(
                        db_field.remote_field, self.admin_site, using=db, queryset=queryset
                    )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if "queryset" not in kwargs:
            db = kwargs.get("using")
            queryset = self._scoped_field_queryset(
                db_field, request, self.get_field_queryset(db, db_field, request)
            )
            if queryset is not None:
                kwargs["queryset"] = queryset
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class MunicipalityScopedAdmin(ScopedChoices, admin.ModelAdmin[_M]):
    """A ModelAdmin of a municipality's data; see the module's docstring. Declare at least one
    path (Django lookups from the model):

    - scope_municipality_field: to the municipality ("resident__municipality"; "pk" for
      Municipality itself);
    - scope_municipality_code_field: to a stored municipality code (export batches);
    - scope_site_field: to the site ("operating_day__site"; "pk" for Site itself);
    - scope_national_when_empty: rows without a municipality are national, seen by all.

    Override scope_queryset for a rule no path expresses.

    audit_resident_field: set on the screens that show residents' data ("" when the row is
    the resident, "resident" for a row of theirs): the changelist's page and every rendered
    change page write one audit row per resident shown (reservations/audit.py, channel admin).
    """

    scope_municipality_field: str = ""
    scope_municipality_code_field: str = ""
    scope_site_field: str = ""
    scope_national_when_empty: bool = False
    audit_resident_field: str | None = None

    def scope_q(self, request: HttpRequest) -> Q:
        return scope_rows_q(
            staff_scope(request.user),
            municipality_field=self.scope_municipality_field,
            site_field=self.scope_site_field,
            municipality_code_field=self.scope_municipality_code_field,
            national_when_empty=self.scope_national_when_empty,
        )

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet[_M]) -> QuerySet[_M]:
        if staff_scope(request.user).everything:
            return queryset
        return queryset.filter(self.scope_q(request))

    def get_queryset(self, request: HttpRequest) -> QuerySet[_M]:
        return self.scope_queryset(request, super().get_queryset(request))

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> _M | None:
        # Outside the scope is as if it did not exist: 404, for the change, delete and history
        # pages alike (Django would redirect to the index with "perhaps it was deleted").
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404
        return obj

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None and self.audit_resident_field is not None:
            self._audit_shown(request, list(changelist.result_list), view="changelist")
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        # Rendered (a GET, or a refused POST shown again): the record was on the screen.
        shown = (getattr(response, "context_data", None) or {}).get("original")
        if shown is not None and self.audit_resident_field is not None:
            self._audit_shown(request, [shown], view="change")
        return response

    def audit_read_detail(self, obj: _M) -> dict[str, Any]:
        """What of this resident's the row showed beyond the page (e.g. a booking's code)."""
        return {}

    def audit_read(self, row: _M) -> audit.ReadOf | None:
        """Whose data this row shows (by audit_resident_field), None for nobody's. An admin of
        people who may have no Resident row (health follow-up's) names them otherwise."""
        field = self.audit_resident_field
        resident: Any = getattr(row, field) if field else row
        if resident is None:
            return None
        return audit.ReadOf(
            resident_id=resident.pk,
            municipality_id=resident.municipality_id,
            detail=self.audit_read_detail(row),
        )

    def _audit_shown(self, request: HttpRequest, rows: list[_M], *, view: str) -> None:
        reads: dict[tuple[int | None, str], audit.ReadOf] = {}
        for row in rows:
            read = self.audit_read(row)
            if read is not None:
                reads.setdefault((read.resident_id, read.subject), read)
        audit.personal_data_shown(
            user=request.user,
            channel=audit.ADMIN,
            reads=reads.values(),
            detail={"page": f"admin_{self.opts.model_name}_{view}"},
            now=timezone.now(),
            request=request,
        )

    def get_list_filter(self, request: HttpRequest) -> Any:
        return [self._scoped_filter(entry) for entry in super().get_list_filter(request)]

    def _scoped_filter(self, entry: Any) -> Any:
        if not isinstance(entry, str):
            return entry
        try:
            field = get_fields_from_path(self.model, entry)[-1]
        except (FieldDoesNotExist, NotRelationField):
            return entry
        if getattr(field, "related_model", None) is None:
            return entry
        return (entry, ScopedRelatedFieldListFilter)


def staff_assignment_form(scope: StaffScope) -> type[ModelForm[StaffAssignment]]:
    """The form of one StaffAssignment row in the User admin, for a member of staff with
    `scope`. Its choices are already limited (ScopedChoices) and the model's clean() checks
    that the site is the municipality's; this adds that only someone who holds a municipality
    whole may give it whole: a clinic's staff can hand on their own site, not the city."""

    class StaffAssignmentForm(ModelForm[StaffAssignment]):
        class Meta:
            model = StaffAssignment
            fields = ["municipality", "site"]

        def clean(self) -> dict[str, Any]:
            cleaned = super().clean() or {}
            municipality = cleaned.get("municipality")
            if (
                not scope.everything
                and {"municipality", "site"} & set(self.changed_data)
                and municipality is not None
                and cleaned.get("site") is None
                and municipality.pk not in scope.whole_municipality_ids
            ):
                raise ValidationError(
                    _("自治体全体を担当に加えられるのは、その自治体全体の担当者だけです。")
                )
            return cleaned

    return StaffAssignmentForm
