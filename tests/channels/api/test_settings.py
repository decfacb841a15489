"""The API's settings fail loudly on bad values, like the rest of config/settings.py."""

from __future__ import annotations

import pytest

from tests.test_settings import load_settings


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"API_ANON_RATE": "60"}, "API_ANON_RATE must look like 60/min"),
        ({"API_ANON_RATE": "0/min"}, "API_ANON_RATE must look like 60/min"),
        ({"API_ANON_RATE": "60/fortnight"}, "API_ANON_RATE must look like 60/min"),
        ({"TRUSTED_PROXIES": "-1"}, "TRUSTED_PROXIES must be at least 0"),
        ({"TRUSTED_PROXIES": "one"}, "TRUSTED_PROXIES must be a whole number"),
        # The old name would silently stop trusting the proxy: it is refused with the new one.
        ({"API_TRUSTED_PROXIES": "1"}, "API_TRUSTED_PROXIES is renamed TRUSTED_PROXIES"),
        ({"API_IDEMPOTENCY_KEEP_HOURS": "0"}, "must be at least 1"),
        ({"CACHE_URL": "nosuchcache://x"}, "nosuchcache"),
    ],
)
def test_it_refuses_bad_values(env: dict[str, str], complaint: str) -> None:
    result = load_settings(**env)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_it_takes_the_number_of_trusted_proxies() -> None:
    result = load_settings(TRUSTED_PROXIES="2")
    assert result.returncode == 0, result.stderr


def test_it_takes_a_redis_cache_url() -> None:
    result = load_settings(CACHE_URL="redis://127.0.0.1:6379/4", API_ANON_RATE="100/hour")
    assert result.returncode == 0, result.stderr
