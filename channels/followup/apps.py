from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupConfig(AppConfig):
    name = "channels.followup"
    label = "followup"
    verbose_name = _("健康観察")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # After every migrate, once this app's permissions exist (post_migrate is sent to
        # each app after the permissions of all of them are created).
        post_migrate.connect(_grant_followup_permissions, sender=self)

        # Photos are deleted after FOLLOWUP_PHOTO_RETENTION_DAYS (the whole follow-up, its
        # messages included, after RETENTION_FOLLOWUP_DAYS: channels.notify registers that).
        from channels.followup.photos import photos_purge
        from reservations.retention import purge_register

        purge_register("followup.photos", photos_purge)


def _grant_followup_permissions(sender: Any = None, **kwargs: Any) -> None:
    ensure_followup_roles(using=kwargs.get("using", "default"))


def followup_role_permissions() -> dict[str, list[str]]:
    """The health follow-up's two roles and their permissions (codenames of this app).

    保健所職員 (health-centre staff) run the follow-up: read the questionnaires, keep the people
    and their follow-ups, handle alerts and the call list, see (not review) photos.
    健康観察医師 (doctors) read the follow-ups and answers and review the photos."""
    from reservations.roles import FOLLOWUP_DOCTORS, HEALTH_CENTRE_STAFF

    return {
        HEALTH_CENTRE_STAFF: [
            "view_questionnaire",
            "view_question",
            "view_choice",
            "view_alertrule",
            "view_followedperson",
            "change_followedperson",
            "add_followup",
            "view_followup",
            "change_followup",
            "view_followupanswer",
            "change_followupanswer",
            "view_followupcall",
            "change_followupcall",
            "view_followupphoto",
        ],
        FOLLOWUP_DOCTORS: [
            "view_followup",
            "view_followedperson",
            "view_followupanswer",
            "view_followupphoto",
            "review_photo",
        ],
    }


def ensure_followup_roles(*, using: str = "default") -> None:
    """Create the two groups if needed and add this app's permissions to them."""
    from reservations.roles import grant_app_permissions

    grant_app_permissions("followup", followup_role_permissions(), using=using)
