"""Settings of the gunicorn that bench/followup.py starts: production's (config.settings, from
the same environment) with a URLconf that adds the bench's baseline page (followup_urls.py).
The product's own URLs are not touched. Needs bench/ on PYTHONPATH (the bench sets it)."""

from config.settings import *  # noqa: F403 - all of production's settings, then one change

ROOT_URLCONF = "followup_urls"
