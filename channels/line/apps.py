from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LineConfig(AppConfig):
    name = "channels.line"
    label = "line"
    verbose_name = _("LINE")

    def ready(self) -> None:
        from channels.line.services import (
            line_chat_states_purge,
            line_simulator_transcripts_purge,
            line_webhook_events_purge,
        )
        from reservations.retention import purge_register

        purge_register("line.webhook_events", line_webhook_events_purge)
        purge_register("line.simulator_transcripts", line_simulator_transcripts_purge)
        purge_register("line.chat_states", line_chat_states_purge)

        from channels.line.season_checks import check_line
        from reservations.season_check import check_register

        check_register("line.configured", check_line)

        from django.db.models.signals import post_delete, post_save

        from channels.line.client import official_accounts_changed
        from channels.line.models import LineOfficialAccount

        post_save.connect(official_accounts_changed, sender=LineOfficialAccount)
        post_delete.connect(official_accounts_changed, sender=LineOfficialAccount)
