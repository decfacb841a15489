"""Who is asking, through which channel: every write of the core takes a `Requester`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reservations.exceptions import PermissionDenied
from reservations.models import STAFF_CHANNELS, Actor, Channel

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


@dataclass(frozen=True)
class Requester:
    """Who is asking, through which channel. Staff channels must carry a permitted user."""

    channel: str
    actor: str = Actor.RESIDENT
    user: AbstractBaseUser | AnonymousUser | None = None
    proxy_relationship: str = ""

    @property
    def is_staff_channel(self) -> bool:
        return self.channel in STAFF_CHANNELS

    def has_perm(self, perm: str) -> bool:
        # Users from django.contrib.auth have has_perm; AnonymousUser always says no.
        checker = getattr(self.user, "has_perm", None)
        return bool(checker is not None and checker(perm))

    @property
    def staff_user(self) -> Any:
        return self.user if self.user is not None and self.user.is_authenticated else None


# Channel.values builds its list anew on every read.
_CHANNELS = frozenset(Channel.values)


def requester_check(requester: Requester, *, also_permitted: str | None = None) -> None:
    """A known channel, and on a staff channel a user allowed to book for residents (or, for
    the one write that names it, holding `also_permitted`)."""
    if requester.channel not in _CHANNELS:
        raise ValueError(f"unknown channel {requester.channel!r}")
    if requester.is_staff_channel and not (
        requester.has_perm("reservations.book_on_behalf")
        or (also_permitted is not None and requester.has_perm(also_permitted))
    ):
        raise PermissionDenied()
