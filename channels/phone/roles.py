"""The call centre's permissions for the core's staff groups.

Operators log calls; supervisors also see the audit trail, per-operator metrics and the
booking dashboard; managers see metrics, the dashboard and the staffing forecast. Municipal
administrators see everything.
"""

from __future__ import annotations

from reservations import roles

PHONE_ROLE_PERMISSIONS: dict[str, list[str]] = {
    roles.OPERATORS: ["use_console", "add_call", "change_call", "view_call"],
    roles.CALL_SUPERVISORS: [
        "use_console",
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
        "use_console",
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
    roles.grant_app_permissions("phone", PHONE_ROLE_PERMISSIONS, using=using)
