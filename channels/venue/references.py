"""The walk-in page's reference to a ticket: signed, so it cannot be guessed or enumerated.

A ticket's primary key is sequential; in a URL it would let anyone at a venue tablet step
through every resident of the deployment. The reference the find step hands out is the ticket
id signed with a salt of the day (a reference made for one day opens nothing on another) and
a timestamp (a URL left in the tablet's history stops working once the walk-in is over).
"""

from __future__ import annotations

import datetime as dt

from django.core import signing
from django.urls import reverse

# A walk-in is found, examined and recorded within minutes; a few hours cover a page left open
# over a break, and no more: the URL should not outlive the session of vaccinations.
MAX_AGE = dt.timedelta(hours=4)


class ReferenceExpired(Exception):
    """A reference this server made, older than MAX_AGE: the desk finds the ticket again."""


class ReferenceInvalid(Exception):
    """A reference this server never made for this day (typed, altered, or another day's)."""


def _salt(day_id: int) -> str:
    return f"channels.venue.walk_in:{day_id}"


def walk_in_reference(*, day_id: int, ticket_id: int) -> str:
    return signing.dumps(ticket_id, salt=_salt(day_id))


def walk_in_ticket_id(*, day_id: int, reference: str) -> int:
    """The ticket id a reference stands for. Raises ReferenceExpired or ReferenceInvalid."""
    try:
        value = signing.loads(reference, salt=_salt(day_id), max_age=MAX_AGE)
    except signing.SignatureExpired as error:
        raise ReferenceExpired from error
    except signing.BadSignature as error:
        raise ReferenceInvalid from error
    if not isinstance(value, int) or isinstance(value, bool):
        raise ReferenceInvalid
    return value


def walk_in_url(*, day_id: int, ticket_id: int) -> str:
    reference = walk_in_reference(day_id=day_id, ticket_id=ticket_id)
    return reverse("venue:walk_in", args=[day_id, reference])
