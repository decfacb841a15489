"""What a member of staff may see and change: the municipalities, and sites, they work for.

One home for the rule every staff surface applies (console, venue, exports, admin, API staff
tokens):

- a superuser sees every municipality;
- other staff see the municipalities of their StaffAssignment rows, whole or by site;
- staff with no row see HOME_MUNICIPALITY_CODE while the deployment serves no other
  municipality (a single-city installation needs no setup), and nothing once a second one has
  a site, so an account nobody assigned never sees a city by default.

Out-of-scope rows are answered as if they did not exist (404), never 403: staff of one city
must not learn that another city's resident, booking or day exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Exists, Q, QuerySet

from reservations.models import Municipality, Site, StaffAssignment

# The session key of the municipality a member of staff working for several is acting for in
# the console (reservations.staff_scope.acting_municipality).
ACTING_MUNICIPALITY_SESSION_KEY = "staff_acting_municipality"


@dataclass(frozen=True)
class StaffScope:
    everything: bool
    # Municipalities with every site in scope.
    whole_municipality_ids: frozenset[int]
    # Single sites in scope (of municipalities not held whole).
    site_ids: frozenset[int]
    # Every municipality with at least one site in scope, or held whole: whose residents and
    # tickets this member of staff may see.
    municipality_ids: frozenset[int]

    @property
    def is_empty(self) -> bool:
        return not self.everything and not self.municipality_ids

    def covers_municipality(self, municipality_id: int | None) -> bool:
        return self.everything or municipality_id in self.municipality_ids

    def covers_site(self, site: Site) -> bool:
        return (
            self.everything
            or site.municipality_id in self.whole_municipality_ids
            or site.pk in self.site_ids
        )

    def municipality_q(self, field: str = "municipality") -> Q:
        """Rows belonging to a municipality in scope, `field` naming the municipality (e.g.
        "resident__municipality")."""
        if self.everything:
            return Q()
        return Q(**{f"{field}__in": self.municipality_ids})

    def site_q(self, field: str = "site") -> Q:
        """Rows at a site in scope, `field` naming the site (e.g. "operating_day__site"; "pk"
        for sites themselves)."""
        if self.everything:
            return Q()
        municipality = "municipality_id" if field == "pk" else f"{field}__municipality_id"
        return Q(**{f"{municipality}__in": self.whole_municipality_ids}) | Q(
            **{f"{field}__in": self.site_ids}
        )

    def municipalities(self) -> QuerySet[Municipality]:
        return Municipality.objects.filter(self.municipality_q("pk")).order_by("code")

    def sites(self) -> QuerySet[Site]:
        return Site.objects.filter(self.site_q("pk")).order_by("name", "pk")


NOTHING = StaffScope(
    everything=False,
    whole_municipality_ids=frozenset(),
    site_ids=frozenset(),
    municipality_ids=frozenset(),
)
EVERYTHING = StaffScope(
    everything=True,
    whole_municipality_ids=frozenset(),
    site_ids=frozenset(),
    municipality_ids=frozenset(),
)


def _single_city_scope() -> StaffScope:
    """The scope of staff nobody assigned: HOME_MUNICIPALITY_CODE's while the deployment serves
    no other municipality (no other has a site; other Municipality rows may exist as the home
    of a visiting resident, 住所地外接種), else nothing."""
    # One query: the home municipality, and whether any other municipality has a site.
    home = (
        Municipality.objects.filter(code=settings.HOME_MUNICIPALITY_CODE)
        .annotate(
            others_served=Exists(
                Site.objects.exclude(municipality__code=settings.HOME_MUNICIPALITY_CODE)
            )
        )
        .values_list("pk", "others_served")
        .first()
    )
    if home is None or home[1]:
        return NOTHING
    ids = frozenset([home[0]])
    return StaffScope(
        everything=False, whole_municipality_ids=ids, site_ids=frozenset(), municipality_ids=ids
    )


def _scope_of(user: Any) -> StaffScope:
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return NOTHING
    if user.is_superuser:
        return EVERYTHING
    rows = list(
        StaffAssignment.objects.filter(user_id=user.pk).values_list("municipality_id", "site_id")
    )
    if not rows:
        return _single_city_scope()
    whole = frozenset(m for m, site in rows if site is None)
    sites = frozenset(site for m, site in rows if site is not None and m not in whole)
    return StaffScope(
        everything=False,
        whole_municipality_ids=whole,
        site_ids=sites,
        municipality_ids=frozenset(m for m, _site in rows),
    )


def staff_scope(user: Any) -> StaffScope:
    """The scope of this user, read once per user object (one request)."""
    cached = getattr(user, "_madoguchi_staff_scope", None)
    if cached is None:
        cached = _scope_of(user)
        if getattr(user, "pk", None) is not None:
            user._madoguchi_staff_scope = cached
    return cached


def forget_staff_scope(user: Any) -> None:
    """After a change to this user's assignments within the same request (staff_add, tests)."""
    for cached in ("_madoguchi_staff_scope", "_madoguchi_scope_municipalities"):
        if hasattr(user, cached):
            delattr(user, cached)


def scope_municipalities(user: Any) -> list[Municipality]:
    """The municipalities in this user's scope by code, read once per user object (the staff
    bar's switch and acting_municipality share the list)."""
    cached = getattr(user, "_madoguchi_scope_municipalities", None)
    if cached is None:
        cached = list(staff_scope(user).municipalities())
        if getattr(user, "pk", None) is not None:
            user._madoguchi_scope_municipalities = cached
    return cached


def acting_municipality(request: Any) -> Municipality | None:
    """The municipality a member of staff acts for on the pages that serve one at a time (the
    console's search and bookings, the dashboard, the forecast, the audit trail): the one they
    chose (ACTING_MUNICIPALITY_SESSION_KEY) if still in scope, else HOME_MUNICIPALITY_CODE's if
    in scope, else the first of their scope by code. None when their scope is empty."""
    municipalities = scope_municipalities(request.user)
    chosen = request.session.get(ACTING_MUNICIPALITY_SESSION_KEY)
    for wanted in (
        lambda m: m.pk == chosen,
        lambda m: m.code == settings.HOME_MUNICIPALITY_CODE,
        lambda m: True,
    ):
        for municipality in municipalities:
            if wanted(municipality):
                return municipality
    return None
