"""What the API reads and writes. Input serializers only parse and validate; the core decides."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reservations.identifiers import IdentifierError, normalize_phone
from reservations.models import ROW_ID_MAX, Channel, Reservation, Site, Slot, Vaccination, Vaccine

# Channels a partner system may book through: its own, or the staff channels when its token
# belongs to an operator (the core refuses those without the book_on_behalf permission).
API_CHANNELS = [Channel.API, Channel.PHONE, Channel.COUNTER]
API_CHANNEL_CHOICES = [(c.value, c.label) for c in API_CHANNELS]
# Clocks of venue tablets drift; a dose recorded a little "in the future" is still today's.
CLOCK_SKEW = dt.timedelta(minutes=2)


class ErrorSerializer(serializers.Serializer[Any]):
    """Every error response: a stable code, a message in the caller's language, facts."""

    code = serializers.CharField(help_text="Stable machine-readable code, e.g. slot_full.")
    message = serializers.CharField(help_text="Sentence for people (Accept-Language: ja / en).")
    detail = serializers.DictField(
        help_text="Facts: errors per field (400), rule and earliest_date (not_eligible), ..."
    )


class SiteSerializer(serializers.ModelSerializer[Site]):
    class Meta:
        model = Site
        fields = ["id", "name", "short_name", "kind", "address"]


class SlotQuerySerializer(serializers.Serializer[Any]):
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


def _validate_phone(value: str) -> str:
    if value == "":
        return value
    try:
        return normalize_phone(value)
    except IdentifierError as error:
        raise serializers.ValidationError(str(error.message)) from None


class CredentialsSerializer(serializers.Serializer[Any]):
    """A resident's three facts: municipality code, ticket number (接種券番号), birth date."""

    municipality_code = serializers.CharField(max_length=20)
    ticket_number = serializers.CharField(max_length=40)
    birth_date = serializers.DateField()


class ReservationCreateSerializer(CredentialsSerializer):
    slot = serializers.PrimaryKeyRelatedField(queryset=Slot.objects.all())
    channel = serializers.ChoiceField(choices=API_CHANNEL_CHOICES, default=Channel.API)
    dose_number = serializers.IntegerField(required=False, min_value=1, max_value=20)
    book_next_dose = serializers.BooleanField(
        default=True, help_text="Also book the next dose of a two-dose series (セット予約)."
    )
    phone = serializers.CharField(required=False, allow_blank=True, max_length=30)
    sms_consent = serializers.BooleanField(required=False)

    def validate_phone(self, value: str) -> str:
        return _validate_phone(value)


class ReservationChangeSerializer(serializers.Serializer[Any]):
    slot = serializers.PrimaryKeyRelatedField(queryset=Slot.objects.all())
    channel = serializers.ChoiceField(choices=API_CHANNEL_CHOICES, default=Channel.API)


class ReservationCancelSerializer(serializers.Serializer[Any]):
    channel = serializers.ChoiceField(choices=API_CHANNEL_CHOICES, default=Channel.API)


class VaccinationCreateSerializer(serializers.Serializer[Any]):
    reservation = serializers.CharField(
        required=False, max_length=20, help_text="予約番号 of the booking that was used."
    )
    municipality_code = serializers.CharField(required=False, max_length=20)
    ticket_number = serializers.CharField(required=False, max_length=40)
    birth_date = serializers.DateField(required=False)
    vaccine = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Vaccine.objects.all(),
        required=False,
        help_text="Vaccine code; required without a reservation.",
    )
    vaccinated_at = serializers.DateTimeField(required=False, help_text="Default: now.")
    lot_number = serializers.CharField(required=False, allow_blank=True, max_length=20)
    doctor_name = serializers.CharField(required=False, allow_blank=True, max_length=40)
    site = serializers.PrimaryKeyRelatedField(queryset=Site.objects.all(), required=False)
    outcome = serializers.ChoiceField(
        choices=Vaccination.Outcome.choices, default=Vaccination.Outcome.VACCINATED
    )
    dose_number = serializers.IntegerField(required=False, min_value=1, max_value=20)

    def validate_vaccinated_at(self, value: dt.datetime) -> dt.datetime:
        if value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError(_("接種日時に未来の日時は登録できません。"))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
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
