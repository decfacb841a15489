from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "channels.notify"
    label = "notify"
    verbose_name = _("通知")
