"""WSGI entry point (gunicorn config.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: refuse here, before serving anyone, what `manage.py check`
# refuses (config/checks.py). The worker fails to boot with the message and gunicorn exits.
from config.checks import refuse_unsafe_production_settings  # noqa: E402 - needs apps loaded

refuse_unsafe_production_settings()
