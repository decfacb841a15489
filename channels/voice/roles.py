"""The voice channel's permissions for the core's staff groups.

Municipal administrators and call-centre supervisors test the calls: they use the call
simulator (/voice/simulator/), where a call placed with the console backend rings. The
administrators also read the call records in the admin. The resident's calls are shown to
operators on the console's resident screen, which needs no permission of this app."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from reservations import roles

VOICE_ROLE_PERMISSIONS: dict[str, list[str]] = {
    roles.ADMINISTRATORS: ["use_voice_simulator", "view_voicecall", "view_voicekeypress"],
    roles.CALL_SUPERVISORS: ["use_voice_simulator"],
}


def ensure_voice_permissions(*, using: str = "default") -> None:
    """Add this app's permissions to the groups (creating the groups if needed)."""
    roles.grant_app_permissions("voice", VOICE_ROLE_PERMISSIONS, using=using)


def _grant_voice_permissions(sender: Any = None, **kwargs: Any) -> None:
    ensure_voice_permissions(using=kwargs.get("using", "default"))


def roles_connect(app_config: AppConfig) -> None:
    """Grant the permissions after every migrate (called from VoiceConfig.ready()): after the
    core's ensure_staff_groups, which reservations runs first and which leaves them in place."""
    post_migrate.connect(
        _grant_voice_permissions, sender=app_config, dispatch_uid="voice.grant_permissions"
    )
