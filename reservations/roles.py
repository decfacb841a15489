"""Staff roles as Django groups, kept in step with the code's permissions after every migrate.

- 予約オペレーター (operators): find residents, book / change / cancel on their behalf, update
  their number and SMS choice (not edit their record in the admin).
- 会場スタッフ (venue staff): check in, record doses, mark no-shows, walk-ins (booking on a
  resident's behalf at the venue, not the call-centre console: channels/phone/roles.py).
- 接種記録出力 (exporters): read vaccination records and export them for VRS, reconcile;
  not browse residents.
- 自治体管理者 (administrators): everything in the booking core, incl. rules and slots.
- コールセンター監督者 (call-centre supervisors): what operators do; the call centre app adds
  the audit trail, call metrics and the dashboard (channels/phone/apps.py).
- コールセンター責任者 (call-centre managers): supervisors' reads; the app adds the staffing
  forecast.
- 保健所職員 / 健康観察医師 (health-centre staff, doctors): health follow-up only
  (channels/followup/apps.py grants them).
"""

from __future__ import annotations

from typing import Any

OPERATORS = "予約オペレーター"
VENUE_STAFF = "会場スタッフ"
EXPORTERS = "接種記録出力"
ADMINISTRATORS = "自治体管理者"
CALL_SUPERVISORS = "コールセンター監督者"
CALL_MANAGERS = "コールセンター責任者"
# Health follow-up's roles: their permissions are the followup app's (channels/followup/apps.py);
# their names are here, with the others, because the core imports no channel.
HEALTH_CENTRE_STAFF = "保健所職員"
FOLLOWUP_DOCTORS = "健康観察医師"

_OPERATOR_PERMISSIONS = [
    "view_resident",
    "update_contact",
    "view_ticket",
    "view_site",
    "view_operatingday",
    "view_slot",
    "view_reservation",
    "add_reservation",
    "change_reservation",
    "view_reservationevent",
    "view_vaccination",
    "book_on_behalf",
    "view_campaign",
    "view_vaccine",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    OPERATORS: _OPERATOR_PERMISSIONS,
    VENUE_STAFF: [
        "view_resident",
        "view_ticket",
        "view_site",
        "view_operatingday",
        "view_slot",
        "view_reservation",
        "change_reservation",
        "view_vaccination",
        "add_vaccination",
        "correct_vaccination",
        "view_daylot",
        "add_daylot",
        "change_daylot",
        "book_on_behalf",
        "view_campaign",
        "view_vaccine",
    ],
    EXPORTERS: [
        "view_vaccination",
        "export_vrs",
        "confirm_vaccination",
        "reconcile_vrs",
        "view_site",
    ],
    # In the booking core a supervisor does what an operator does; the call-centre app adds
    # the supervisor's own screens (audit trail, metrics, dashboard).
    CALL_SUPERVISORS: _OPERATOR_PERMISSIONS,
    CALL_MANAGERS: [
        "view_resident",
        "view_site",
        "view_operatingday",
        "view_slot",
        "view_reservation",
        "view_reservationevent",
        "view_campaign",
        "view_vaccine",
    ],
}


# Every role a member of staff can hold, for lists of roles (the audit trail's filter).
ALL_ROLES = (*ROLE_PERMISSIONS, HEALTH_CENTRE_STAFF, FOLLOWUP_DOCTORS)


def ensure_staff_groups(sender: Any = None, **kwargs: Any) -> None:
    """Create or update the staff groups. Runs on post_migrate, after permissions exist.

    Only the booking core's own permissions are managed here; permissions that channel apps
    add to the same groups (e.g. the call centre's) are left in place."""
    from django.contrib.auth.models import Group, Permission

    using = kwargs.get("using", "default")
    app_perms = Permission.objects.using(using).filter(content_type__app_label="reservations")
    by_codename = {p.codename: p for p in app_perms}
    wanted_by_group = {
        name: [by_codename[c] for c in codenames if c in by_codename]
        for name, codenames in ROLE_PERMISSIONS.items()
    }
    wanted_by_group[ADMINISTRATORS] = list(app_perms)
    for name, wanted in wanted_by_group.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        stale = group.permissions.filter(content_type__app_label="reservations").exclude(
            pk__in=[p.pk for p in wanted]
        )
        group.permissions.remove(*stale)
        group.permissions.add(*wanted)


def grant_app_permissions(
    app_label: str, codenames_by_group: dict[str, list[str]], *, using: str = "default"
) -> None:
    """Add a channel app's own permissions to the staff groups (creating a group if needed),
    from that app's post_migrate: after ensure_staff_groups, which leaves them in place."""
    from django.contrib.auth.models import Group, Permission

    by_codename = {
        p.codename: p
        for p in Permission.objects.using(using).filter(content_type__app_label=app_label)
    }
    for name, codenames in codenames_by_group.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*[by_codename[c] for c in codenames if c in by_codename])
