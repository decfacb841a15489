"""Who this browser has signed in, kept only in the server-side session.

One browser may book for several people in turn (a couple, a parent). Each signed-in person
gets a random token that exists only in this session; every personal page is addressed by it
and reads only that person's rows, so one person's data can never appear on another's page.
The ticket id never leaves the server.

Each person belongs to the municipality's pages they signed in on (`page`, a municipality
code: `/`, `/m/<code>/` or a city's own host, channels/web/municipal.py): another city's pages
in the same browser neither list nor open them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone

from reservations.models import Actor, Channel, Ticket
from reservations.services.booking import Requester

SESSION_KEY = "web"
# A family rarely books for more than a handful of people; the cap bounds the session.
MAX_PEOPLE = 6


@dataclass(frozen=True)
class SignedIn:
    token: str
    ticket: Ticket
    actor: str
    relationship: str

    @property
    def requester(self) -> Requester:
        return Requester(
            channel=Channel.WEB, actor=self.actor, proxy_relationship=self.relationship
        )

    @property
    def is_proxy(self) -> bool:
        return self.actor == Actor.PROXY


def _state(session: SessionBase) -> dict[str, Any]:
    state: dict[str, Any] = session.get(SESSION_KEY) or {"people": {}}
    return state


# How stale the stored "seen" may get before a request writes it again. Writing it on every
# request would save the session on every page (a database or cache write each time); so the
# idle limit is counted from a "seen" up to this much older than the last request, and a
# resident is signed out after between WEB_SESSION_IDLE_MINUTES minus this and the full limit
# of inactivity: never later than the limit, at most this much earlier.
SEEN_WRITE_INTERVAL = dt.timedelta(minutes=1)


def idle_timeout(session: SessionBase, *, now: dt.datetime | None = None) -> bool:
    """Forget everyone after WEB_SESSION_IDLE_MINUTES without a request; True if that happened.
    Otherwise note this request as activity (in the session only when "seen" has moved by more
    than SEEN_WRITE_INTERVAL, so that most pages leave the session unsaved)."""
    now = now or timezone.now()
    state = session.get(SESSION_KEY)
    if not state:
        return False
    seen = dt.datetime.fromisoformat(state.get("seen", "1970-01-01T00:00:00+00:00"))
    if now - seen > dt.timedelta(minutes=settings.WEB_SESSION_IDLE_MINUTES):
        session.flush()
        return True
    if now - seen > SEEN_WRITE_INTERVAL:
        state["seen"] = now.isoformat()
        session[SESSION_KEY] = state
    return False


def _page_of(person: dict[str, Any]) -> str:
    # Signed in before pages had a municipality: the home municipality's.
    page: str = person.get("page") or settings.HOME_MUNICIPALITY_CODE
    return page


def sign_in(
    session: SessionBase, *, ticket: Ticket, actor: str, relationship: str, page: str
) -> str:
    """Add a person to this browser's session, on the pages of municipality `page`, and return
    their token."""
    # A new session key on every sign-in: a session id planted before sign-in is useless.
    session.cycle_key()
    state = _state(session)
    people: dict[str, dict[str, Any]] = state["people"]
    for token, person in list(people.items()):
        if person["ticket"] == ticket.pk and _page_of(person) == page:
            del people[token]
    while len(people) >= MAX_PEOPLE:
        people.pop(next(iter(people)))
    token = secrets.token_urlsafe(9)
    people[token] = {
        "ticket": ticket.pk,
        "actor": actor,
        "relationship": relationship if actor == Actor.PROXY else "",
        "page": page,
    }
    state["seen"] = timezone.now().isoformat()
    session[SESSION_KEY] = state
    # The stored session outlives the idle limit a little, so the idle check above can still
    # tell the resident why they were signed out; after that it is gone from the server too.
    session.set_expiry(settings.WEB_SESSION_IDLE_MINUTES * 60 * 2)
    return token


def signed_in(session: SessionBase, token: str, *, page: str) -> SignedIn | None:
    person = _state(session)["people"].get(token)
    if person is None or _page_of(person) != page:
        return None
    ticket = (
        Ticket.objects.select_related("resident__municipality", "municipality")
        .filter(pk=person["ticket"], status=Ticket.Status.ISSUED)
        .first()
    )
    if ticket is None:
        return None
    return SignedIn(
        token=token, ticket=ticket, actor=person["actor"], relationship=person["relationship"]
    )


def everyone(session: SessionBase, *, page: str) -> list[SignedIn]:
    people = {
        token: person
        for token, person in _state(session)["people"].items()
        if _page_of(person) == page
    }
    tickets = Ticket.objects.select_related("resident").in_bulk(
        [p["ticket"] for p in people.values()]
    )
    return [
        SignedIn(
            token=token,
            ticket=tickets[p["ticket"]],
            actor=p["actor"],
            relationship=p["relationship"],
        )
        for token, p in people.items()
        if p["ticket"] in tickets
    ]


def forget(session: SessionBase, token: str) -> None:
    state = _state(session)
    state["people"].pop(token, None)
    session[SESSION_KEY] = state
