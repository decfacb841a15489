"""The served OpenAPI schema, the local Swagger UI, and schemathesis against both.

schemathesis generates requests from the schema and sends them through the WSGI app (no
server), valid and invalid ones (every phase: examples, coverage, fuzzing), and runs every
check: no 500, every answer as the schema promises, every schema-valid request accepted and
every schema-invalid one refused. The schema therefore has to state every rule the server
enforces on a request's form (issue 17).
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


def test_it_documents_the_sign_in_limit_answers(api: Api) -> None:
    schema = api.anonymous.get("/api/v1/schema/", {"format": "json"}).json()
    for path in ("/api/v1/reservations/", "/api/v1/vaccinations/"):
        responses = schema["paths"][path]["post"]["responses"]
        assert "detail.attempts_left" in responses["404"]["description"]
        assert "detail.retry_after" in responses["429"]["description"]
        example = responses["429"]["content"]["application/json"]["examples"]
        assert example["TooManyAttempts"]["value"]["detail"]["locked"] == "ticket"


def test_it_serves_swagger_ui_from_local_files_only(api: Api) -> None:
    page = api.anonymous.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "no CDN"


# Loaded from the served endpoint through the WSGI app; serving the schema needs no database.
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/schema/?format=json",
    get_wsgi_application(),
    config=schemathesis.Config.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {
                    # schemathesis' own list, plus 422: a request the schema calls valid may
                    # still be refused by the booking rules, which depend on the data and the
                    # clock, not on the request's form (not_eligible for the resident's age or
                    # history, a dose number that does not follow the history, a time in the
                    # future, an Idempotency-Key already used with another body, as the
                    # Idempotency-Key draft prescribes). Form errors stay 400 and fail here.
                    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
                }
            }
        }
    ),
)


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
    # Every check, none excluded: an id of no row is the 404 the schema states.
    case.call_and_validate(headers=superuser_headers)
