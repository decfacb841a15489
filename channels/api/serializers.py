"""What the API reads and writes. Input serializers only parse and validate; the core decides."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers, status

from channels.api.errors import ApiError
from reservations.identifiers import IdentifierError, normalize_phone
from reservations.models import ROW_ID_MAX, Channel, Reservation, Site, Slot, Vaccination, Vaccine
from reservations.services.vaccinations import VRS_DOCTOR_NAME_LENGTH, VRS_LOT_NUMBER_LENGTH

# Channels a partner system may book through: its own, or the staff channels when its token
# belongs to an operator (the core refuses those without the book_on_behalf permission).
API_CHANNELS = [Channel.API, Channel.PHONE, Channel.COUNTER]
API_CHANNEL_CHOICES = [(c.value, c.label) for c in API_CHANNELS]
# Clocks of venue tablets drift; a dose recorded a little "in the future" is still today's.
CLOCK_SKEW = dt.timedelta(minutes=2)


# What the schema states and the fields below enforce, so that a client built from the schema
# sends nothing the server refuses for its form (issue 17). The core checks again what it owns
# (check digits, whether a ticket exists, the VRS rules).
MUNICIPALITY_CODE_PATTERN = r"^[0-9]{6}$"
TICKET_NUMBER_PATTERN = r"^[0-9]{10}$"
PHONE_PATTERN = r"^[+]?[0-9 ()-]*$"
# A 予約番号 as people read it back: 9 digits, ASCII or full-width, maybe grouped.
RESERVATION_CODE_PATTERN = r"^[0-9０-９][0-9０-９ -]{0,19}$"
VACCINE_CODE_PATTERN = r"^[-a-zA-Z0-9_]{1,40}$"
# VRS lot numbers: letters, digits and hyphens, never a leading hyphen (a spreadsheet formula).
LOT_NUMBER_PATTERN = rf"^[0-9A-Za-z][0-9A-Za-z-]{{0,{VRS_LOT_NUMBER_LENGTH - 1}}}$"
# A doctor's name goes into the VRS files as it is: no control characters, and no first
# character a spreadsheet would run as a formula (= + - @) or strip (white space).
DOCTOR_NAME_PATTERN = r"^[^\s=+\-@\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"


class PatternField(serializers.RegexField):
    """A string that matches its pattern as JSON Schema means it: the whole value, as sent.
    (DRF would trim white space first, and Python's `$` also matches before a final newline.)
    Every pattern here refuses line breaks, so a final one is the only case to add."""

    def __init__(self, regex: str, **kwargs: Any) -> None:
        super().__init__(regex, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value.endswith("\n"):
            self.fail("invalid")
        return value


@extend_schema_field(
    {
        "type": "integer",
        "minimum": 1,
        "maximum": ROW_ID_MAX,
        "description": "Id of an existing row; an id of no row is 404 not_found.",
    }
)
class ExistingIdField(serializers.PrimaryKeyRelatedField[Any]):
    """A row id. Out of range is malformed (400, like any bad number); a well-formed id of no
    row is a 404 not_found (channels.api.errors), which the schema states."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int):
            # JSON gives ids as numbers; "12" or 12.0 is a client bug the schema already rules out.
            self.fail("incorrect_type", data_type=type(data).__name__)
        serializers.IntegerField(min_value=1, max_value=ROW_ID_MAX).run_validation(data)
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """A date-time kept in the zone it was sent in when Japan's zone cannot hold it (year 9999
    in UTC is year 10000 in JST): DRF would answer 400 for a value the schema calls valid. The
    view refuses such times with 422, as it does any time in the future."""

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        try:
            return super().enforce_timezone(value)
        except serializers.ValidationError:
            if value.tzinfo is not None:
                return value
            raise


@extend_schema_field(
    {
        "type": "string",
        "pattern": VACCINE_CODE_PATTERN,
        "description": "Vaccine code; a code of no vaccine is 404 not_found.",
    }
)
class VaccineCodeField(serializers.SlugRelatedField[Any]):
    """A vaccine by its code: malformed is 400, well-formed but unknown is 404."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not re.fullmatch(VACCINE_CODE_PATTERN, data):
            self.fail("invalid")
        return super().to_internal_value(data)


class ClosedSerializer(serializers.Serializer[Any]):
    """A request body that takes only its fields: anything else (a misspelt name) is a 400,
    as the schema states (channels.api.schema.close_request_bodies)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        data = self.initial_data
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        if unknown:
            raise serializers.ValidationError(
                {name: [_("この項目は受け付けていません。")] for name in unknown}
            )
        return attrs


class ErrorSerializer(serializers.Serializer[Any]):
    """Every error response: a stable code, a message in the caller's language, facts."""

    code = serializers.CharField(help_text="Stable machine-readable code, e.g. slot_full.")
    message = serializers.CharField(help_text="Sentence for people (Accept-Language: ja / en).")
    detail = serializers.DictField(
        help_text=(
            "Facts: errors per field (400), rule and earliest_date (not_eligible), "
            "attempts_left and lock_minutes (credentials_invalid), retry_after, "
            "retry_after_seconds and lock_minutes (too_many_attempts), ..."
        )
    )


class SiteSerializer(serializers.ModelSerializer[Site]):
    class Meta:
        model = Site
        fields = ["id", "name", "short_name", "kind", "address"]


class MunicipalityQuerySerializer(serializers.Serializer[Any]):
    municipality = serializers.RegexField(
        r"^[0-9０-９]{6}$",
        required=False,
        help_text="Municipality code (6 digits, 全国地方公共団体コード; full-width digits are "
        "read the same). Without it: an "
        "anonymous caller gets the home municipality's, a partner key or staff token every "
        "municipality of its scope.",
    )


class SlotQuerySerializer(MunicipalityQuerySerializer):
    site = serializers.IntegerField(required=False, min_value=1, max_value=ROW_ID_MAX)
    date = serializers.DateField(required=False, help_text="One day (ISO 8601, JST).")
    vaccine = serializers.SlugField(required=False, max_length=40, help_text="Vaccine code.")
    channel = serializers.ChoiceField(
        choices=Channel.choices,
        default=Channel.API,
        help_text="Seats are counted for this channel (phone and counter need an operator).",
    )


class SlotSerializer(serializers.Serializer[Any]):
    """One AvailableSlot from the core: seats left for the asked channel."""

    id = serializers.IntegerField(source="slot.pk")
    site = serializers.IntegerField(source="slot.operating_day.site_id")
    vaccine = serializers.CharField(source="slot.operating_day.vaccine.code")
    starts_at = serializers.DateTimeField(source="slot.starts_at")
    ends_at = serializers.DateTimeField(source="slot.ends_at")
    seats_left = serializers.IntegerField()


class ReservedSlotSerializer(serializers.ModelSerializer[Slot]):
    site = serializers.IntegerField(source="operating_day.site_id")
    site_name = serializers.CharField(source="operating_day.site.name")
    vaccine = serializers.CharField(source="operating_day.vaccine.code")

    class Meta:
        model = Slot
        fields = ["id", "site", "site_name", "vaccine", "starts_at", "ends_at"]


class PairedDoseSerializer(serializers.ModelSerializer[Reservation]):
    slot = ReservedSlotSerializer()

    class Meta:
        model = Reservation
        fields = ["code", "status", "dose_number", "slot"]


class ReservationSerializer(serializers.ModelSerializer[Reservation]):
    code = serializers.CharField(help_text="予約番号 (9 digits).")
    slot = ReservedSlotSerializer()
    next_dose = PairedDoseSerializer(allow_null=True, help_text="The paired next dose, if any.")
    previous_dose = serializers.SerializerMethodField()

    class Meta:
        model = Reservation
        fields = [
            "code",
            "status",
            "dose_number",
            "channel",
            "slot",
            "next_dose",
            "previous_dose",
            "held_until",
            "cancelled_at",
            "created_at",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_previous_dose(self, reservation: Reservation) -> str | None:
        """The 予約番号 this booking is the paired next dose of."""
        previous = getattr(reservation, "previous_dose", None)
        return previous.code if previous is not None else None


def phone_number_check(value: str | None) -> str | None:
    """The phone number in E.164, or a 422: the schema states the characters a number may be
    written with; whether those digits make a number anyone can call (libphonenumber) is a
    fact about numbering plans no pattern can state."""
    if not value:
        return value
    try:
        return normalize_phone(value)
    except IdentifierError as error:
        raise ApiError(
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
            code="phone_invalid",
            message=error.message,
            detail={"phone": [str(error.message)]},
        ) from None


class CredentialsSerializer(ClosedSerializer):
    """A resident's three facts: municipality code, ticket number (接種券番号), birth date."""

    municipality_code = PatternField(
        MUNICIPALITY_CODE_PATTERN,
        help_text="全国地方公共団体コード: 6 digits with the check digit (a wrong one is 404).",
        error_messages={"invalid": _("自治体コードは6桁の数字で指定してください。")},
    )
    ticket_number = PatternField(
        TICKET_NUMBER_PATTERN,
        help_text="接種券番号: 10 digits.",
        error_messages={"invalid": _("接種券番号は10桁の数字で指定してください。")},
    )
    birth_date = serializers.DateField()


class ReservationCreateSerializer(CredentialsSerializer):
    slot = ExistingIdField(queryset=Slot.objects.all())
    channel = serializers.ChoiceField(choices=API_CHANNEL_CHOICES, default=Channel.API)
    dose_number = serializers.IntegerField(required=False, min_value=1, max_value=20)
    book_next_dose = serializers.BooleanField(
        default=True, help_text="Also book the next dose of a two-dose series (セット予約)."
    )
    phone = PatternField(
        PHONE_PATTERN,
        required=False,
        allow_blank=True,
        max_length=30,
        help_text="Digits, spaces, hyphens and parentheses, an optional leading +; blank keeps "
        "the number on file. Not a number anyone can call: 422 phone_invalid.",
        error_messages={
            "invalid": _("電話番号は数字とハイフンで指定してください（例：090-1234-5678）。")
        },
    )
    sms_consent = serializers.BooleanField(required=False)


class ReservationChangeSerializer(ClosedSerializer):
    slot = ExistingIdField(queryset=Slot.objects.all())
    channel = serializers.ChoiceField(choices=API_CHANNEL_CHOICES, default=Channel.API)


class ReservationCancelSerializer(ClosedSerializer):
    channel = serializers.ChoiceField(choices=API_CHANNEL_CHOICES, default=Channel.API)


class VaccinationCreateSerializer(ClosedSerializer):
    reservation = PatternField(
        RESERVATION_CODE_PATTERN,
        required=False,
        help_text="予約番号 of the booking that was used (no such booking: 404).",
    )
    municipality_code = PatternField(
        MUNICIPALITY_CODE_PATTERN,
        required=False,
        error_messages={"invalid": _("自治体コードは6桁の数字で指定してください。")},
    )
    ticket_number = PatternField(
        TICKET_NUMBER_PATTERN,
        required=False,
        error_messages={"invalid": _("接種券番号は10桁の数字で指定してください。")},
    )
    birth_date = serializers.DateField(required=False)
    vaccine = VaccineCodeField(
        slug_field="code",
        queryset=Vaccine.objects.all(),
        required=False,
        help_text="Vaccine code; required without a reservation.",
    )
    vaccinated_at = AwareDateTimeField(
        required=False,
        help_text="Default: now. A time in the future (beyond 2 minutes of clock drift) is "
        "422 vaccination_invalid: it depends on the clock, which no schema can state.",
    )
    lot_number = PatternField(
        LOT_NUMBER_PATTERN,
        required=False,
        allow_blank=True,
        max_length=VRS_LOT_NUMBER_LENGTH,
        error_messages={
            "invalid": _("ロット番号は英数字で始まる英数字とハイフン20文字以内で指定してください。")
        },
    )
    doctor_name = PatternField(
        DOCTOR_NAME_PATTERN,
        required=False,
        allow_blank=True,
        max_length=VRS_DOCTOR_NAME_LENGTH,
        error_messages={
            "invalid": _(
                "医師名に制御文字は使えません。先頭に空白や「=」「+」「-」「@」も使えません。"
            )
        },
    )
    site = ExistingIdField(queryset=Site.objects.all(), required=False)
    outcome = serializers.ChoiceField(
        choices=Vaccination.Outcome.choices, default=Vaccination.Outcome.VACCINATED
    )
    dose_number = serializers.IntegerField(required=False, min_value=1, max_value=20)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        credentials = [
            name for name in ("municipality_code", "ticket_number", "birth_date") if name in attrs
        ]
        if "reservation" in attrs:
            if credentials:
                raise serializers.ValidationError(
                    _("予約番号か接種券の情報か、どちらか一方を指定してください。")
                )
            return attrs
        if len(credentials) != 3:
            raise serializers.ValidationError(
                _("予約番号、または自治体コード・接種券番号・生年月日を指定してください。")
            )
        if "vaccine" not in attrs:
            raise serializers.ValidationError(
                {"vaccine": [_("予約番号がないときはワクチンを指定してください。")]}
            )
        return attrs


# The request's two shapes, for the schema only (VaccinationCreateSerializer parses both): the
# booking used, or the ticket's three facts and the vaccine; never both (a body with both
# matches both shapes, which `oneOf` refuses, as the server does).
class VaccinationByReservationSerializer(VaccinationCreateSerializer):
    reservation = PatternField(
        RESERVATION_CODE_PATTERN,
        help_text="予約番号 of the booking that was used (no such booking: 404).",
    )
    municipality_code = None  # type: ignore[assignment]
    ticket_number = None  # type: ignore[assignment]
    birth_date = None  # type: ignore[assignment]
    vaccine = VaccineCodeField(
        slug_field="code",
        queryset=Vaccine.objects.all(),
        required=False,
        help_text="Vaccine code; default: the booking's. An unknown code is 404.",
    )


class VaccinationByTicketSerializer(VaccinationCreateSerializer):
    reservation = None  # type: ignore[assignment]
    municipality_code = PatternField(MUNICIPALITY_CODE_PATTERN)
    ticket_number = PatternField(TICKET_NUMBER_PATTERN)
    birth_date = serializers.DateField()
    vaccine = VaccineCodeField(
        slug_field="code",
        queryset=Vaccine.objects.all(),
        help_text="Vaccine code. An unknown code is 404.",
    )


VACCINATION_CREATE_REQUEST = PolymorphicProxySerializer(
    component_name="VaccinationCreate",
    serializers=[VaccinationByReservationSerializer, VaccinationByTicketSerializer],
    resource_type_field_name=None,
)


class VaccinationSerializer(serializers.ModelSerializer[Vaccination]):
    id = serializers.UUIDField(source="record_id", help_text="Record id (kept across versions).")
    reservation = serializers.CharField(source="reservation.code", allow_null=True)
    vaccine = serializers.CharField(source="vaccine.code")
    site = serializers.IntegerField(source="site_id", allow_null=True)

    class Meta:
        model = Vaccination
        fields = [
            "id",
            "version",
            "status",
            "reservation",
            "dose_number",
            "vaccine",
            "vaccinated_on",
            "vaccinated_at",
            "outcome",
            "lot_number",
            "site",
            "doctor_name",
        ]
