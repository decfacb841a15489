"""The booking core's data model. See DESIGN.md §2 and docs/model.md."""

from reservations.models.booking import (
    STAFF_CHANNELS,
    Actor,
    Channel,
    Reservation,
    ReservationEvent,
    Vaccination,
)
from reservations.models.people import CredentialAttempt, Resident, Ticket
from reservations.models.places import (
    ClosedDay,
    DayCancellation,
    DayLot,
    Municipality,
    OperatingDay,
    Site,
    Slot,
)
from reservations.models.rules import (
    Antigen,
    Campaign,
    EligibilityRule,
    IntervalRule,
    Program,
    Vaccine,
)

__all__ = [
    "STAFF_CHANNELS",
    "Actor",
    "Antigen",
    "Campaign",
    "Channel",
    "ClosedDay",
    "CredentialAttempt",
    "DayCancellation",
    "DayLot",
    "EligibilityRule",
    "IntervalRule",
    "Municipality",
    "OperatingDay",
    "Program",
    "Reservation",
    "ReservationEvent",
    "Resident",
    "Site",
    "Slot",
    "Ticket",
    "Vaccination",
    "Vaccine",
]
