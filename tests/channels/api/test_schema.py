"""The served OpenAPI schema, the local Swagger UI, and schemathesis against both.

schemathesis generates requests from the schema and sends them through the WSGI app (no
server): no input may cause a 500, and every answer must match what the schema promises.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.channels.api.conftest import Api, staff

D = dt.date
pytestmark = pytest.mark.django_db


def test_it_serves_an_openapi_3_schema_of_every_endpoint(api: Api) -> None:
    schema = api.anonymous.get("/api/v1/schema/", {"format": "json"}).json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/sites/",
        "/api/v1/slots/",
        "/api/v1/reservations/",
        "/api/v1/reservations/{code}/",
        "/api/v1/reservations/{code}/cancel/",
        "/api/v1/reservations/{code}/change/",
        "/api/v1/vaccinations/",
    }
    create = schema["paths"]["/api/v1/reservations/"]["post"]
    assert set(create["responses"]) >= {"201", "400", "401", "403", "404", "409", "422", "429"}
    assert schema["components"]["securitySchemes"]["tokenAuth"]["in"] == "header"


def test_it_serves_swagger_ui_from_local_files_only(api: Api) -> None:
    page = api.anonymous.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "no CDN"


# Loaded from the served endpoint through the WSGI app; serving the schema needs no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@pytest.fixture
def _keep_the_test_connection() -> Iterator[None]:
    # schemathesis calls the WSGI handler itself, which closes the database connection at the
    # end of each request (CONN_MAX_AGE) and with it the test's transaction on PostgreSQL.
    # Django's own test client disconnects the same signal handler for the same reason.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def superuser_headers(api: Api, _keep_the_test_connection: None) -> dict[str, str]:
    # Some real data, so generated requests reach more than the validation errors.
    api.world.slot(D(2026, 11, 10))
    api.world.resident()
    token, _created = Token.objects.get_or_create(user=staff("fuzzer", superuser=True))
    return {"Authorization": f"Token {token.key}"}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    # The same examples on every run: a run must give the same answer as the one before it.
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_generated_request_breaks_the_api(case: Any, superuser_headers: dict[str, str]) -> None:
    # Every check but one: a schema-valid body may still name a slot that does not exist
    # (400 on that field) or ask for a dose the rules refuse (422). That is the contract.
    case.call_and_validate(headers=superuser_headers, excluded_checks=[positive_data_acceptance])
