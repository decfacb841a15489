from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VenueConfig(AppConfig):
    name = "channels.venue"
    label = "venue"
    verbose_name = _("会場受付")
