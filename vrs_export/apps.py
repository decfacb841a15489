from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VrsExportConfig(AppConfig):
    name = "vrs_export"
    label = "vrs_export"
    verbose_name = _("VRS出力")

    def ready(self) -> None:
        from reservations.retention import purge_register
        from vrs_export.reconcile import previews_purge

        purge_register("vrs_export.reconcile_previews", previews_purge)
