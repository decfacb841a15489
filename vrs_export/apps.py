from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VrsExportConfig(AppConfig):
    name = "vrs_export"
    label = "vrs_export"
    verbose_name = _("VRS出力")
