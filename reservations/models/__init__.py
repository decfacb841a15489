"""The booking core's data model. See DESIGN.md §2 and docs/model.md."""

from reservations.models.booking import (
    STAFF_CHANNELS,
    Actor,
    Channel,
    Reservation,
    ReservationEvent,
    Vaccination,
)
from reservations.models.openings import OpeningCheck
from reservations.models.people import (
    ContactChange,
    CredentialAttempt,
    PhoneVerification,
    Resident,
    Ticket,
)
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
    CohortOpening,
    EligibilityRule,
    IntervalRule,
    Program,
    Vaccine,
)
from reservations.models.staff import StaffAssignment

# The largest primary key (PostgreSQL integer): a posted id beyond it is not one of ours, and
# would reach the database driver as an out-of-range integer.
ROW_ID_MAX = 2**31 - 1

__all__ = [
    "ROW_ID_MAX",
    "STAFF_CHANNELS",
    "Actor",
    "Antigen",
    "Campaign",
    "Channel",
    "ClosedDay",
    "CohortOpening",
    "ContactChange",
    "CredentialAttempt",
    "DayCancellation",
    "DayLot",
    "EligibilityRule",
    "IntervalRule",
    "Municipality",
    "OpeningCheck",
    "OperatingDay",
    "PhoneVerification",
    "Program",
    "Reservation",
    "ReservationEvent",
    "Resident",
    "Site",
    "Slot",
    "StaffAssignment",
    "Ticket",
    "Vaccination",
    "Vaccine",
]
