from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WaitingRoomConfig(AppConfig):
    name = "channels.waiting_room"
    label = "waiting_room"
    verbose_name = _("順番待ち")
