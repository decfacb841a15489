"""REST API v1 views: parse, authenticate the resident where needed, call one core service,
render. Errors become the common shape in channels/api/errors.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels.api import scoping
from channels.api import serializers as s
from channels.api.idempotency import HEADER, core_key, run_idempotently
from channels.api.models import Scope
from channels.api.permissions import (
    AnonymousPerAddressThrottle,
    HasStaffPermissions,
    PartnerKeyHasScope,
    staff_permissions_load,
)
from reservations import audit
from reservations.exceptions import CredentialsInvalid, VaccinationInvalid
from reservations.identifiers import (
    IdentifierError,
    normalize_municipality_code,
    normalize_reservation_code,
)
from reservations.models import (
    STAFF_CHANNELS,
    Actor,
    Campaign,
    Channel,
    Municipality,
    Reservation,
    Site,
    Ticket,
    Vaccination,
)
from reservations.selectors import (
    campaign_for_vaccination,
    reservation_find_by_code,
    site_list_active,
    slot_list,
)
from reservations.services.booking import Requester, reservation_cancel, reservation_change
from reservations.services.contact import reservation_book_with_contact
from reservations.services.credentials import resident_authenticate
from reservations.services.vaccinations import vaccination_record

# Without a date, the slot list covers this many days from today.
SLOT_LIST_DAYS = 60


# What each error status means, in the schema beside the common error body.
ERROR_MEANINGS = {
    400: "`validation_error` (`detail`: errors per field or header; a body takes only the "
    "fields it lists), `parse_error` (not JSON, or control characters in a string), "
    "`invalid_characters` (control characters, or bytes that are not UTF-8, in the path or "
    "the query).",
    401: "`not_authenticated`, `authentication_failed`.",
    403: "`permission_denied`; `scope_missing`: the partner key (Api-Key) lacks the scope "
    "this operation needs (`detail.required_scope`).",
    404: "`not_found`: no booking with this 予約番号, or a well-formed id (slot, site) or "
    "vaccine code of no row (`detail` names the field), or a page past the last. For a "
    "partner key, another municipality's booking, slot or site is answered the same.",
    409: "`already_booked`: the resident already holds this dose, or the campaign's dose; "
    "`detail.existing_code` is that booking's 予約番号. Also `slot_full`, "
    "`second_dose_unavailable`, `hold_expired`, `invalid_state`, and `request_in_progress` "
    "(a request with the same Idempotency-Key is still running, "
    "`detail.retry_after_seconds`).",
    422: "The rules refuse a well-formed request: `not_eligible` (`detail.rule`, "
    "`detail.earliest_date`), `booking_not_open_yet`, `cohort_not_open_yet`, "
    "`opening_blocked` (the band's opening is held by the pre-opening check), "
    "`outside_booking_window`, `change_deadline_passed`, `vaccination_invalid`, "
    "`idempotency_key_reused`, `slot_other_municipality` (the slot's venue is another "
    "municipality's, which does not accept the ticket's; `detail.slot_municipality`, "
    "`detail.ticket_municipality`).",
    429: "`rate_limited` (Retry-After).",
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(s.ErrorSerializer, description=ERROR_MEANINGS[code]) for code in codes
    }


AUTH_ERRORS = (401, 403)
# Answers of the views that check a resident's municipality code, ticket number and birth date
# (reservations/services/credentials.py): the limit is per ticket number, whether or not a
# ticket has it, so the tries left tell nothing about which numbers exist.
SIGN_IN_ERRORS = {
    404: OpenApiResponse(
        s.ErrorSerializer,
        description=(
            "`credentials_invalid`: no issued ticket with this number and birth date (one "
            "answer for both). `detail.attempts_left`: wrong tries left before the ticket "
            "number is locked for `detail.lock_minutes` minutes; at 0 this answer locked it, "
            "and `detail.retry_after` says until when. `not_found`: an id that does not exist."
        ),
        examples=[
            OpenApiExample(
                "credentials_invalid",
                value={
                    "code": "credentials_invalid",
                    "message": "接種券番号または生年月日が正しくありません。"
                    "接種券をご確認ください。"
                    "あと2回間違えると、この接種券番号は15分間ロックされます。",
                    "detail": {"attempts_left": 2, "lock_minutes": 15},
                },
            )
        ],
    ),
    429: OpenApiResponse(
        s.ErrorSerializer,
        description=(
            "`too_many_attempts`: the ticket number (`detail.locked`: `ticket`) is locked after "
            "repeated wrong tries, right or wrong birth date alike, until `detail.retry_after` "
            "(also `detail.retry_after_seconds` and the Retry-After header); a lock lasts "
            "`detail.lock_minutes` minutes. The call centre can lift it after checking the "
            "caller (`detail.call_centre_phone`)."
        ),
        examples=[
            OpenApiExample(
                "too_many_attempts",
                value={
                    "code": "too_many_attempts",
                    "message": "この接種券番号での確認に続けて失敗したため、15分間ロックしました。"
                    "09:20以降（約12分後）にもう一度お試しいただくか、"
                    "コールセンター（0987-00-0000）にお電話ください。",
                    "detail": {
                        "retry_after": "2026-11-02T09:20:00+09:00",
                        "retry_after_seconds": 720,
                        "lock_minutes": 15,
                        "locked": "ticket",
                        "call_centre_phone": "0987-00-0000",
                    },
                },
            )
        ],
    ),
}
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    # The rule request_key enforces (KEY_PATTERN): 1-80 printable ASCII characters, no space.
    {"type": "string", "minLength": 1, "maxLength": 80, "pattern": "^[!-~]+$"},
    OpenApiParameter.HEADER,
    required=False,
    description="Retry safely: the same key and body get the first answer again; another "
    "body under a used key is 422 `idempotency_key_reused`. 1-80 printable ASCII characters "
    "without spaces, or 400.",
)
CODE_PARAMETER = OpenApiParameter(
    "code",
    {"type": "string", "pattern": s.RESERVATION_CODE_PATTERN},
    OpenApiParameter.PATH,
    description="予約番号: 9 digits (grouped with hyphens or in full-width digits is read the "
    "same). Anything else, or a number of no booking, is 404 `not_found`.",
)


MUNICIPALITY_NOT_FOUND = _("この自治体コードの自治体は見つかりません。")


def _municipalities_asked(request: Request, code: str | None) -> QuerySet[Municipality]:
    """Whose public availability a caller reads: the municipality named (`?municipality=`,
    which must be in a signed-in caller's scope, else 404 as if unknown), or without a name an
    anonymous caller's HOME_MUNICIPALITY_CODE and a signed-in caller's whole scope."""
    scope = scoping.caller_scope(request)
    municipalities = (
        scope.municipalities()
        if scope is not None
        else Municipality.objects.filter(code=settings.HOME_MUNICIPALITY_CODE)
    )
    if code:
        try:
            normalized = normalize_municipality_code(code)
        except IdentifierError:
            raise NotFound(MUNICIPALITY_NOT_FOUND, code="not_found") from None
        base = scope.municipalities() if scope is not None else Municipality.objects.all()
        municipalities = base.filter(code=normalized)
        if not municipalities.exists():
            raise NotFound(MUNICIPALITY_NOT_FOUND, code="not_found")
    return municipalities


def _requester(request: Request, channel: str) -> Requester:
    return Requester(channel=channel, actor=Actor.OPERATOR, user=request.user)


RESERVATION_NOT_FOUND = _("この予約番号の予約は見つかりません。")


def _reservation_or_404(request: Request, code: str) -> Reservation:
    try:
        normalized = normalize_reservation_code(code)
    except IdentifierError:
        raise NotFound(RESERVATION_NOT_FOUND) from None
    reservation = reservation_find_by_code(code=normalized)
    if reservation is None:
        raise NotFound(RESERVATION_NOT_FOUND)
    scope = scoping.caller_scope(request)
    if scope is None or not scoping.scope_holds_reservation(scope, reservation):
        raise NotFound(RESERVATION_NOT_FOUND)  # as if none: another city's booking
    return reservation


def _check_resident_municipality(request: Request, municipality_code: str) -> None:
    """A caller signs in only its scope's residents. Another city's code gets the answer of an
    unknown ticket, before any lookup of that city's tickets."""
    scope = scoping.caller_scope(request)
    if scope is None or not scoping.scope_holds_municipality_code(scope, municipality_code):
        raise CredentialsInvalid()


def _scope_form(request: Request, form: Any) -> Any:
    """Narrow a request form's slot and site choices to the caller's scope, so another city's
    id is the same 404 not_found as an id of no row."""
    scope = scoping.caller_scope(request)
    if scope is not None:
        if "slot" in form.fields:
            form.fields["slot"].queryset = scoping.scope_slots(scope)
        if "site" in form.fields:
            form.fields["site"].queryset = scoping.scope_sites_all(scope)
    return form


@extend_schema(
    tags=["availability"],
    parameters=[s.MunicipalityQuerySerializer],
    responses={200: s.SiteSerializer(many=True), **_errors(400, 401, 404, 429)},
)
class SiteListView(generics.ListAPIView[Site]):
    """Vaccination sites (会場) that take bookings, of one municipality or of the caller's."""

    # Public facts; anonymous callers are throttled. A partner key sees its municipalities'.
    permission_classes = [AllowAny, PartnerKeyHasScope]
    required_scope = Scope.READ_AVAILABILITY
    throttle_classes = [AnonymousPerAddressThrottle]
    serializer_class = s.SiteSerializer

    def get_queryset(self) -> Any:
        query = s.MunicipalityQuerySerializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        municipalities = _municipalities_asked(
            self.request, query.validated_data.get("municipality")
        )
        scope = scoping.caller_scope(self.request)
        if scope is not None:
            return scoping.scope_sites(scope).filter(municipality__in=municipalities)
        municipality = municipalities.first()
        if municipality is None:
            return Site.objects.none()
        return site_list_active(municipality=municipality)


class SlotListView(generics.GenericAPIView[Any]):
    # Seats hold no personal data; anonymous callers are throttled. A partner key sees its
    # municipalities' slots.
    permission_classes = [AllowAny, PartnerKeyHasScope]
    required_scope = Scope.READ_AVAILABILITY
    throttle_classes = [AnonymousPerAddressThrottle]
    serializer_class = s.SlotSerializer

    @extend_schema(
        tags=["availability"],
        parameters=[s.SlotQuerySerializer],
        responses={200: s.SlotSerializer(many=True), **_errors(400, 401, 403, 404, 429)},
    )
    def get(self, request: Request) -> Response:
        """Seats left per slot for the given channel, from now on (60 days without a date)."""
        # A plain dict, not the QueryDict: DRF reads a blank form value as "not given", but
        # `?date=` is a mistake the caller should hear about.
        query = s.SlotQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        channel = filters["channel"]
        if request.user.is_authenticated:
            staff_permissions_load(request.user)
        if channel in STAFF_CHANNELS and not request.user.has_perm("reservations.book_on_behalf"):
            # The phone reserve is the call centre's business; others see public seats only.
            self.permission_denied(request)
        today = timezone.localdate()
        date_from = filters.get("date", today)
        date_to = filters.get("date", today + dt.timedelta(days=SLOT_LIST_DAYS))
        vaccine_code = filters.get("vaccine")
        slot_filters = {
            "date_from": date_from,
            "date_to": date_to,
            "channel": channel,
            "site_id": filters.get("site"),
            "vaccine_id": None,
            "now": timezone.now(),
        }
        municipalities = _municipalities_asked(request, filters.get("municipality"))
        scope = scoping.caller_scope(request)
        municipality = municipalities.first()
        if scope is not None:
            available = scoping.scope_slot_list(scope, municipalities, **slot_filters)
        elif municipality is None:
            available = []
        else:
            available = slot_list(municipality=municipality, **slot_filters)
        if vaccine_code:
            available = [a for a in available if a.slot.operating_day.vaccine.code == vaccine_code]
        page = self.paginate_queryset(available)  # type: ignore[arg-type]
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class IdempotentPostMixin:
    def run(self, request: Request, handler: Any) -> Response:
        return run_idempotently(request, handler, self.handle_exception)  # type: ignore[attr-defined]


class ReservationCreateView(IdempotentPostMixin, APIView):
    permission_classes = [PartnerKeyHasScope, HasStaffPermissions]
    required_perms = ("reservations.add_reservation",)
    required_scope = Scope.BOOK

    @extend_schema(
        tags=["reservations"],
        operation_id="reservations_create",
        request=s.ReservationCreateSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: s.ReservationSerializer,
            **_errors(400, *AUTH_ERRORS, 409, 422),
            **SIGN_IN_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        """Book a dose for a resident (and the paired next dose of a two-dose series)."""
        return self.run(request, lambda: self._book(request))

    def _book(self, request: Request) -> Response:
        form = _scope_form(request, s.ReservationCreateSerializer(data=request.data))
        form.is_valid(raise_exception=True)
        data = form.validated_data
        _check_resident_municipality(request, data["municipality_code"])
        ticket: Ticket = resident_authenticate(
            municipality_code=data["municipality_code"],
            ticket_number=data["ticket_number"],
            birth_date=data["birth_date"],
        )
        key = request.headers.get(HEADER)
        reservation = reservation_book_with_contact(
            ticket=ticket,
            slot=data["slot"],
            requester=_requester(request, data["channel"]),
            phone=s.phone_number_check(data.get("phone")),
            sms_consent=data.get("sms_consent"),
            dose_number=data.get("dose_number"),
            book_next_dose=data["book_next_dose"],
            idempotency_key=core_key(request, key) if key else None,
        )
        # The core hands back the booking with its slot, site, vaccine and paired dose loaded.
        # What it cannot load is the reverse side, previous_dose, and it need not: nothing
        # points at a booking just made (series_pair_next_dose only links a booking to a next
        # dose it creates itself, never an older booking to a new one). Saying so saves the
        # serializer a query per booking.
        Reservation.previous_dose.related.set_cached_value(reservation, None)
        return Response(s.ReservationSerializer(reservation).data, status=status.HTTP_201_CREATED)


def _render_reservation(reservation: Reservation) -> Any:
    fresh = reservation_find_by_code(code=reservation.code)
    return s.ReservationSerializer(fresh).data


class ReservationDetailView(APIView):
    permission_classes = [PartnerKeyHasScope, HasStaffPermissions]
    required_perms = ("reservations.view_reservation",)
    required_scope = Scope.READ_RESERVATIONS

    @extend_schema(
        tags=["reservations"],
        parameters=[CODE_PARAMETER],
        responses={200: s.ReservationSerializer, **_errors(400, *AUTH_ERRORS, 404)},
    )
    def get(self, request: Request, code: str) -> Response:
        """One booking by its 予約番号."""
        reservation = _reservation_or_404(request, code)
        # A read of a resident's booking by a partner system or a member of staff is audited
        # like any staff read (reservations/audit.py), under the key's or token's user.
        audit.personal_data_shown(
            user=request.user,
            channel=audit.API,
            reads=[
                audit.ReadOf(
                    resident_id=reservation.resident_id,
                    municipality_id=reservation.resident.municipality_id,
                )
            ],
            detail={"api": "reservation", "code": reservation.code},
            now=timezone.now(),
            request=request,
        )
        return Response(s.ReservationSerializer(reservation).data)


class ReservationCancelView(IdempotentPostMixin, APIView):
    permission_classes = [PartnerKeyHasScope, HasStaffPermissions]
    required_perms = ("reservations.change_reservation",)
    required_scope = Scope.CHANGE

    @extend_schema(
        tags=["reservations"],
        parameters=[CODE_PARAMETER, IDEMPOTENCY_PARAMETER],
        request=s.ReservationCancelSerializer,
        responses={200: s.ReservationSerializer, **_errors(400, *AUTH_ERRORS, 404, 409, 422)},
    )
    def post(self, request: Request, code: str) -> Response:
        """Cancel a booking and its paired later doses. Cancelling again changes nothing."""
        return self.run(request, lambda: self._cancel(request, code))

    def _cancel(self, request: Request, code: str) -> Response:
        form = s.ReservationCancelSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        reservation = reservation_cancel(
            reservation=_reservation_or_404(request, code),
            requester=_requester(request, form.validated_data["channel"]),
        )
        return Response(_render_reservation(reservation))


class ReservationChangeView(IdempotentPostMixin, APIView):
    permission_classes = [PartnerKeyHasScope, HasStaffPermissions]
    required_perms = ("reservations.change_reservation",)
    required_scope = Scope.CHANGE

    @extend_schema(
        tags=["reservations"],
        parameters=[CODE_PARAMETER, IDEMPOTENCY_PARAMETER],
        request=s.ReservationChangeSerializer,
        responses={200: s.ReservationSerializer, **_errors(400, *AUTH_ERRORS, 404, 409, 422)},
    )
    def post(self, request: Request, code: str) -> Response:
        """Move a booking to another slot; the paired next dose moves too if it must."""
        return self.run(request, lambda: self._change(request, code))

    def _change(self, request: Request, code: str) -> Response:
        form = _scope_form(request, s.ReservationChangeSerializer(data=request.data))
        form.is_valid(raise_exception=True)
        reservation = reservation_change(
            reservation=_reservation_or_404(request, code),
            slot=form.validated_data["slot"],
            requester=_requester(request, form.validated_data["channel"]),
        )
        return Response(_render_reservation(reservation))


class _BodyRequiredSchema(AutoSchema):
    """drf-spectacular marks a body required from its fields' `required`, which a `oneOf` of two
    shapes has none of; without a body the server answers 400, so the schema must say so."""

    def _get_request_body(self, direction: str = "request") -> Any:
        body = super()._get_request_body(direction)  # type: ignore[no-untyped-call]  # untyped upstream
        if body:
            body["required"] = True
        return body


class VaccinationCreateView(IdempotentPostMixin, APIView):
    schema = _BodyRequiredSchema()
    permission_classes = [PartnerKeyHasScope, HasStaffPermissions]
    required_perms = ("reservations.add_vaccination",)
    required_scope = Scope.RECORD_VACCINATIONS

    @extend_schema(
        tags=["vaccinations"],
        operation_id="vaccinations_create",
        request=s.VACCINATION_CREATE_REQUEST,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: s.VaccinationSerializer,
            **_errors(400, *AUTH_ERRORS, 409, 422),
            **SIGN_IN_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        """Record an administered dose (or a visit that ended without one) at a venue."""
        return self.run(request, lambda: self._record(request))

    def _record(self, request: Request) -> Response:
        form = _scope_form(request, s.VaccinationCreateSerializer(data=request.data))
        form.is_valid(raise_exception=True)
        data = form.validated_data
        vaccinated_at = data.get("vaccinated_at") or timezone.now()
        if vaccinated_at > timezone.now() + s.CLOCK_SKEW:
            # Before any date arithmetic: year 9999 would overflow the conversion to JST.
            future = _("接種日時に未来の日時は登録できません。")
            raise VaccinationInvalid(future, detail={"vaccinated_at": [str(future)]})
        try:
            vaccinated_on = timezone.localdate(vaccinated_at)
        except OverflowError:
            # Year 1 in a zone ahead of Japan's: a valid date-time, but no day in Japan.
            unreal = _("接種日時が正しくありません。")
            raise VaccinationInvalid(unreal, detail={"vaccinated_at": [str(unreal)]}) from None
        campaign: Campaign | None
        if "reservation" in data:
            reservation: Reservation | None = _reservation_or_404(request, data["reservation"])
            assert reservation is not None
            resident, ticket = reservation.resident, reservation.ticket
            vaccine = data.get("vaccine") or reservation.vaccine
            campaign = reservation.campaign
        else:
            reservation = None
            _check_resident_municipality(request, data["municipality_code"])
            ticket = resident_authenticate(
                municipality_code=data["municipality_code"],
                ticket_number=data["ticket_number"],
                birth_date=data["birth_date"],
            )
            resident, vaccine = ticket.resident, data["vaccine"]
            campaign = campaign_for_vaccination(
                vaccine=vaccine, on=vaccinated_on, municipality_id=resident.municipality_id
            )
        record = vaccination_record(
            resident=resident,
            vaccine=vaccine,
            vaccinated_on=vaccinated_on,
            vaccinated_at=vaccinated_at,
            requester=_requester(request, Channel.API),
            reservation=reservation,
            ticket=ticket,
            campaign=campaign,
            site=data.get("site"),
            dose_number=data.get("dose_number"),
            outcome=data["outcome"],
            lot_number=data.get("lot_number", ""),
            doctor_name=data.get("doctor_name", ""),
        )
        return Response(_render_vaccination(record), status=status.HTTP_201_CREATED)


def _render_vaccination(record: Vaccination) -> Any:
    return s.VaccinationSerializer(record).data


@extend_schema(exclude=True)
class ApiRootView(APIView):
    """What version 1 offers, with links (public: it holds no data)."""

    permission_classes = [AllowAny]
    throttle_classes = [AnonymousPerAddressThrottle]

    def get(self, request: Request) -> Response:
        def link(name: str) -> str:
            return request.build_absolute_uri(reverse(f"api:{name}"))

        return Response(
            {
                "name": "Madoguchi API",
                "version": "v1",
                "sites": link("sites"),
                "slots": link("slots"),
                "reservations": link("reservations"),
                "vaccinations": link("vaccinations"),
                "schema": link("schema"),
                "docs": link("docs"),
            }
        )
