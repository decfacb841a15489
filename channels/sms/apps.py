from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmsConfig(AppConfig):
    name = "channels.sms"
    label = "sms"
    verbose_name = _("SMS送信")

    def ready(self) -> None:
        from channels.sms.season_checks import check_sms
        from reservations.season_check import check_register

        check_register("sms.sender", check_sms)
