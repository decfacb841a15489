from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "channels.api"
    label = "api"
    verbose_name = _("連携API")

    def ready(self) -> None:
        # Connects the signals that drop cached permission sets when roles change.
        from channels.api import permissions  # noqa: F401
