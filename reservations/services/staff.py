"""Creating and updating a staff account: its login, its role and whom it works for.

`staff_account_save` is the one writer behind `manage.py staff_add`: in one transaction it
creates or updates the user (is_staff, the password when one is given), puts them in exactly one
of the roles' groups (reservations/roles.py) and replaces their StaffAssignment rows with the
municipalities, or the sites, they now work for. Every input is checked before anything is
written, so a refused call leaves the database as it was.

Second factor: nothing is set up here. An administrator or an exporter (their permissions,
channels/phone/second_factor.py) owes an authenticator code from the first sign-in, and having no
confirmed device yet, is sent to the enrolment page after the password.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from reservations import roles
from reservations.identifiers import IdentifierError, normalize_municipality_code
from reservations.models import Municipality, Site, StaffAssignment
from reservations.staff_scope import forget_staff_scope

# The command's --role values: short English words a shell user types, one per role group.
ROLE_GROUPS: dict[str, str] = {
    "operator": roles.OPERATORS,
    "supervisor": roles.CALL_SUPERVISORS,
    "manager": roles.CALL_MANAGERS,
    "venue": roles.VENUE_STAFF,
    "exporter": roles.EXPORTERS,
    "admin": roles.ADMINISTRATORS,
    "health": roles.HEALTH_CENTRE_STAFF,
    "doctor": roles.FOLLOWUP_DOCTORS,
}

# How many candidate sites an error names before it stops: enough to spot a typo.
MAX_CANDIDATES_SHOWN = 10


class StaffAccountError(Exception):
    """The account could not be saved; `message` says why, for the person at the terminal."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StaffAccountResult:
    user: Any
    created: bool
    password_changed: bool
    municipalities: list[Municipality]
    sites: list[Site]


def staff_account_save(
    *,
    username: str,
    role: str,
    municipality_codes: Sequence[str],
    site_names: Sequence[str] = (),
    password: str | None = None,
) -> StaffAccountResult:
    """Create or update the staff account `username` (see the module's docstring).

    A new account needs a password; an existing one keeps its own when `password` is None.
    Raises StaffAccountError, writing nothing, for an unknown role, a malformed or unregistered
    municipality code, a site name matching no site or several, or a password the validators
    refuse."""
    username = username.strip()
    if not username:
        raise StaffAccountError(_("ユーザー名を指定してください。"))
    if role not in ROLE_GROUPS:
        raise StaffAccountError(
            _("役割 %(role)s はありません。次のいずれかを指定してください: %(choices)s")
            % {"role": role, "choices": ", ".join(ROLE_GROUPS)}
        )
    municipalities = _municipalities(municipality_codes)
    sites = _sites(site_names, municipalities)

    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    created = user is None
    if user is None:
        if password is None:
            raise StaffAccountError(_("新しい職員アカウントにはパスワードが必要です。"))
        user = user_model(username=username)
    if password is not None:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise StaffAccountError(
                _("パスワードが使えません: %(reasons)s") % {"reasons": " ".join(exc.messages)}
            ) from None

    group = Group.objects.filter(name=ROLE_GROUPS[role]).first()
    if group is None:
        # The groups are made after every migrate (roles.ensure_staff_groups).
        raise StaffAccountError(
            _("役割のグループ「%(group)s」がありません。先に migrate を実行してください。")
            % {"group": ROLE_GROUPS[role]}
        )

    with transaction.atomic():
        user.is_staff = True
        if created:
            user.is_active = True
        if password is not None:
            user.set_password(password)
        user.save()
        # One role at a time: the other roles' groups are left, any other group is kept.
        user.groups.remove(*Group.objects.filter(name__in=ROLE_GROUPS.values()))
        user.groups.add(group)
        StaffAssignment.objects.filter(user=user).delete()
        if sites:
            StaffAssignment.objects.bulk_create(
                StaffAssignment(user=user, municipality_id=site.municipality_id, site=site)
                for site in sites
            )
        else:
            StaffAssignment.objects.bulk_create(
                StaffAssignment(user=user, municipality=municipality)
                for municipality in municipalities
            )
    forget_staff_scope(user)
    return StaffAccountResult(
        user=user,
        created=created,
        password_changed=password is not None,
        municipalities=municipalities,
        sites=sites,
    )


def _municipalities(codes: Sequence[str]) -> list[Municipality]:
    if not codes:
        raise StaffAccountError(_("担当自治体の自治体コードを1つ以上指定してください。"))
    wanted: list[str] = []
    for typed in codes:
        try:
            code = normalize_municipality_code(typed)
        except IdentifierError as exc:
            raise StaffAccountError(
                _("自治体コード %(code)s: %(reason)s") % {"code": typed, "reason": exc.message}
            ) from None
        if code not in wanted:
            wanted.append(code)
    found = {m.code: m for m in Municipality.objects.filter(code__in=wanted)}
    missing = [code for code in wanted if code not in found]
    if missing:
        raise StaffAccountError(
            _("自治体コード %(codes)s の自治体は登録されていません。")
            % {"codes": ", ".join(missing)}
        )
    return [found[code] for code in wanted]


def _sites(names: Sequence[str], municipalities: list[Municipality]) -> list[Site]:
    """The sites named, each found among the given municipalities' sites: by its exact name or
    short name, else by a part of its name when that part fits one site only."""
    if not names:
        return []
    candidates = list(
        Site.objects.filter(municipality__in=municipalities)
        .select_related("municipality")
        .order_by("municipality__code", "name", "pk")
    )
    chosen: list[Site] = []
    for typed in names:
        name = typed.strip()
        matches = [s for s in candidates if name and name in (s.name, s.short_name)]
        if not matches:
            matches = [s for s in candidates if name and name in s.name]
        if len(matches) != 1:
            shown = matches or candidates
            listed = "、".join(
                f"{s.name}（{s.municipality.code}）" for s in shown[:MAX_CANDIDATES_SHOWN]
            )
            if len(shown) > MAX_CANDIDATES_SHOWN:
                listed += _("ほか%(count)d件") % {"count": len(shown) - MAX_CANDIDATES_SHOWN}
            if matches:
                message = _("会場名「%(name)s」に当てはまる会場が複数あります: %(sites)s")
            elif candidates:
                message = _("会場名「%(name)s」は指定した自治体の会場にありません。会場: %(sites)s")
            else:
                message = _("会場名「%(name)s」: 指定した自治体には会場がありません。")
            raise StaffAccountError(message % {"name": typed, "sites": listed})
        if matches[0] not in chosen:
            chosen.append(matches[0])
    without_site = [
        m for m in municipalities if all(site.municipality_id != m.pk for site in chosen)
    ]
    if without_site:
        # With --site the account works at those sites only: a municipality named beside them
        # with none of its sites would be a typo or a forgotten --site, never a wish.
        raise StaffAccountError(
            _("自治体 %(codes)s の会場が --site で指定されていません。")
            % {"codes": ", ".join(m.code for m in without_site)}
        )
    return chosen
