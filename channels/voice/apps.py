from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VoiceConfig(AppConfig):
    name = "channels.voice"
    label = "voice"
    verbose_name = _("自動音声電話")

    def ready(self) -> None:
        from channels.voice.services import voice_calls_purge
        from reservations.retention import purge_register

        purge_register("voice.calls", voice_calls_purge)

        # The call records on the call centre's resident screen and dashboard, which may not
        # import this channel (reservations/staff_panels.py); who may use the simulator.
        from channels.voice.panels import panels_register
        from channels.voice.roles import roles_connect

        panels_register()
        roles_connect(self)
