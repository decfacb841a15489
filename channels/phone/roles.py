"""The call centre's permissions for the core's staff groups.

Operators log calls; supervisors also see the audit trail, per-operator metrics and the
booking dashboard; managers see metrics, the dashboard and the staffing forecast. Municipal
administrators see everything.
"""

from __future__ import annotations

from reservations import roles

PHONE_ROLE_PERMISSIONS: dict[str, list[str]] = {
    roles.OPERATORS: ["add_call", "change_call", "view_call"],
    roles.CALL_SUPERVISORS: [
        "add_call",
        "change_call",
        "view_call",
        "view_audit",
        "view_call_metrics",
        "view_dashboard",
    ],
    roles.CALL_MANAGERS: [
        "view_call",
        "view_call_metrics",
        "view_dashboard",
        "view_forecast",
        "add_callvolumeevent",
        "change_callvolumeevent",
        "view_callvolumeevent",
    ],
    roles.ADMINISTRATORS: [
        "view_call",
        "view_audit",
        "view_call_metrics",
        "view_dashboard",
        "view_forecast",
        "view_callvolumeevent",
        "add_callvolumeevent",
        "change_callvolumeevent",
        "add_operatorassignment",
        "change_operatorassignment",
        "view_operatorassignment",
    ],
}


def ensure_phone_permissions(*, using: str = "default") -> None:
    """Add the call centre's permissions to the groups (creating the groups if needed)."""
    from django.contrib.auth.models import Group, Permission

    by_codename = {
        p.codename: p
        for p in Permission.objects.using(using).filter(content_type__app_label="phone")
    }
    for name, codenames in PHONE_ROLE_PERMISSIONS.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*[by_codename[c] for c in codenames if c in by_codename])
