from django.apps import AppConfig


class DeploymentConfig(AppConfig):
    """Not a feature: the home of the start-up checks on this deployment's settings."""

    name = "config"
    label = "madoguchi"
    verbose_name = "Madoguchi deployment"

    def ready(self) -> None:
        from config import checks  # noqa: F401 - registers the production checks
