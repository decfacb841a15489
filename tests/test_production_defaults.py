"""Production is safe by default: debug off, unsafe settings refused at every start, personal
answers never cached, a Content-Security-Policy without inline code, and `check --deploy` clean
with the README's production environment."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.checks import Error
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.regex_helper import normalize
from django_otp.plugins.otp_totp.models import TOTPDevice  # type: ignore[import-untyped]
from rest_framework.authtoken.models import Token

from config.checks import check_production_settings
from tests.channels.phone.test_second_factor import code_for
from tests.test_settings import KEEP

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = secrets.token_urlsafe(50)
SHARED_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/9",
    }
}
SAFE = {"DEBUG": False, "SECRET_KEY": STRONG_KEY, "SMS_BACKEND": "http", "CACHES": SHARED_CACHE}


def error_ids(**changes: Any) -> list[str]:
    # Only the check function runs: the changed CACHES is never connected to.
    with override_settings(**{**SAFE, **changes}):
        return [message.id or "" for message in check_production_settings()]


def test_a_safe_production_configuration_passes() -> None:
    assert error_ids() == []


def test_the_demo_with_debug_asked_for_is_never_refused() -> None:
    demo = {"SECRET_KEY": "insecure-development-key-do-not-use-in-production"}
    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert error_ids(DEBUG=True, SMS_BACKEND="console", CACHES=locmem, **demo) == []


@pytest.mark.parametrize(
    "key",
    [
        "x",
        "tests-only-secret-key",
        "ab" * 40,  # long, but two characters
        "insecure-development-key-do-not-use-in-production",
        "django-insecure-" + secrets.token_urlsafe(50),
    ],
)
def test_a_weak_or_published_secret_key_is_refused(key: str) -> None:
    assert error_ids(SECRET_KEY=key) == ["madoguchi.E001"]


@pytest.mark.parametrize(
    "backend", ["console", "file", "channels.sms.backends.local.ConsoleBackend"]
)
def test_sms_backends_that_print_or_write_files_are_refused(backend: str) -> None:
    assert error_ids(SMS_BACKEND=backend) == ["madoguchi.E002"]


@pytest.mark.parametrize("backend", ["http", "twilio"])
def test_real_sms_providers_pass(backend: str) -> None:
    assert error_ids(SMS_BACKEND=backend) == []


@pytest.mark.parametrize("cache", ["locmem.LocMemCache", "dummy.DummyCache"])
def test_a_cache_of_one_process_is_refused(cache: str) -> None:
    caches = {"default": {"BACKEND": f"django.core.cache.backends.{cache}"}}
    assert error_ids(CACHES=caches) == ["madoguchi.E003"]


def test_every_refusal_says_what_to_set() -> None:
    with override_settings(DEBUG=False, SECRET_KEY="x", SMS_BACKEND="console"):
        errors = check_production_settings()
    assert [type(error) for error in errors] == [Error, Error, Error]
    assert all(error.hint for error in errors)


# --- Every kind of process refuses to start ---------------------------------------------------


def run(argv: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k in KEEP}
    return subprocess.run(  # noqa: S603 - our own interpreter and project
        [sys.executable, *argv],
        cwd=ROOT,
        env={
            **clean,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",  # never reached: they stop first
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


UNSAFE = {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "short"}
ALL_THREE = ("madoguchi.E001", "madoguchi.E002", "madoguchi.E003")
PROCESSES = {
    "manage.py check --deploy": ["manage.py", "check", "--deploy"],
    "manage.py notify_relay": ["manage.py", "notify_relay"],
    "gunicorn (config.wsgi)": ["-c", "import config.wsgi"],
    "celery worker": ["-m", "celery", "-A", "config", "worker", "--pool=solo"],
    # The schedule file goes in the test's own directory: beat replaces the
    # file it is given, and /dev/null given here once became a regular file.
    "celery beat": ["-m", "celery", "-A", "config", "beat", "--schedule={tmp}/beat-schedule"],
}


@pytest.mark.parametrize("argv", PROCESSES.values(), ids=PROCESSES.keys())
def test_a_production_process_with_unsafe_settings_exits_with_the_reasons(
    argv: list[str], tmp_path: Path
) -> None:
    result = run([arg.format(tmp=tmp_path) for arg in argv], tmp_path, **UNSAFE)
    assert result.returncode != 0
    assert all(code in result.stderr for code in ALL_THREE), result.stderr[-3000:]
    assert tables(tmp_path / "db.sqlite3") == []  # refused before touching the database


def tables(database: Path) -> list[str]:
    if not database.exists():  # opening the connection may create it, empty
        return []
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT name FROM sqlite_master")]


def test_a_bare_checkout_runs_developer_commands_but_serves_nothing(tmp_path: Path) -> None:
    """No variables at all: debug is off and the key is the public development key. Commands
    that serve nobody run (makemigrations --check is CI's lint), gunicorn refuses."""
    bare = {"DJANGO_SECRET_KEY": "", "DJANGO_DEBUG": ""}
    lint = run(["manage.py", "makemigrations", "--check", "--dry-run"], tmp_path, **bare)
    assert lint.returncode == 0, lint.stderr
    assert "No changes detected" in lint.stdout
    served = run(["-c", "import config.wsgi"], tmp_path, **bare)
    assert served.returncode != 0
    assert all(code in served.stderr for code in ALL_THREE), served.stderr[-3000:]


def test_gunicorn_starts_with_safe_settings(tmp_path: Path) -> None:
    result = run(
        ["-c", "import config.wsgi"],
        tmp_path,
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=STRONG_KEY,
        CACHE_URL="redis://127.0.0.1:6379/9",
        SMS_BACKEND="http",
        SMS_HTTP_BASE_URL="https://sms.example.jp/api",
        SMS_HTTP_TOKEN="token",  # noqa: S106 - not a secret
        SMS_HTTP_SERVICE_ID="madoguchi",
    )
    assert result.returncode == 0, result.stderr


# --- check --deploy with the README's production environment --------------------------------


def readme_production_environment() -> dict[str, str]:
    """The variables of the `export` command in the README's Production section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Production\n", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    export = next(line for line in block.splitlines() if line.startswith("export "))
    return dict(word.split("=", 1) for word in shlex.split(export)[1:])


def test_check_deploy_is_clean_with_the_readmes_production_environment(tmp_path: Path) -> None:
    env = readme_production_environment()
    assert env["DJANGO_DEBUG"] == "false" and env["DJANGO_HTTPS"] == "true"
    env["DJANGO_SECRET_KEY"] = STRONG_KEY  # the README's "..."
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path, **env)
    print(result.stdout, result.stderr)  # the closing note quotes it
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_ssl_redirect_can_be_left_to_the_citys_proxy(tmp_path: Path) -> None:
    env = {**readme_production_environment(), "DJANGO_SECRET_KEY": STRONG_KEY}
    result = run(
        [
            "-c",
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.SECURE_SSL_REDIRECT, s.SILENCED_SYSTEM_CHECKS)",
        ],
        tmp_path,
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_SSL_REDIRECT="false",
        **{k: v for k, v in env.items() if k != "DJANGO_SSL_REDIRECT"},
    )
    assert result.stdout.split() == ["False", "['security.W008']"], result.stderr


# --- Cache-Control: no-store on every answer --------------------------------------------------

SAMPLE = {"int": "1", "str": "x", "slug": "x", "path": "x", "uuid": str(uuid.uuid4())}


def every_url(resolver: URLResolver | None = None, prefix: str = "/") -> list[str]:
    """One concrete path per URL pattern (sample values for its parameters)."""
    paths = []
    for entry in (resolver or get_resolver()).url_patterns:
        route = str(entry.pattern)
        if hasattr(entry.pattern, "converters"):  # path(): <int:pk>
            route = re.sub(
                r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m.group(1) or "str", "x"), route
            )
        else:  # re_path(): the first string the regex matches, with sample groups
            template, params = normalize(route.lstrip("^").rstrip("$"))[0]
            route = template % {name: "x" for name in params}
        if isinstance(entry, URLResolver):
            paths += every_url(entry, prefix + route)
        elif isinstance(entry, URLPattern):
            paths.append(prefix + route)
    return paths


@pytest.mark.django_db
def test_every_url_answers_no_store_to_everyone(world: Any) -> None:
    superuser = User.objects.create_superuser("root", password="x")
    signed_in = Client(raise_request_exception=False)
    signed_in.force_login(superuser)
    token = Token.objects.create(user=superuser)
    api = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token.key}")
    clients = {"anonymous": Client(raise_request_exception=False), "superuser": signed_in}
    # Except the site icon, public and cached for long on purpose (tests/test_favicon.py).
    paths = [path for path in every_url() if path != "/favicon.ico"]
    assert len(paths) > 50
    cached = []
    for name, client in {**clients, "api token": api}.items():
        for path in paths:
            response = client.get(path)
            if "no-store" not in response.get("Cache-Control", ""):
                cached.append((name, path, response.status_code, response.get("Cache-Control")))
    assert cached == []
    # The downloads are among them, and their answers are real files, not error pages.
    forecast = signed_in.get("/phone/forecast.csv")
    assert forecast["Content-Type"].startswith("text/csv")
    assert "no-store" in forecast["Cache-Control"]
    sites = api.get("/api/v1/sites/")
    assert sites.status_code == 200 and sites["Cache-Control"] == "no-store"


def test_an_answer_that_chooses_its_own_caching_keeps_it(client: Client, world: Any) -> None:
    # The resident start page is never_cache (private, no-store, …): not replaced.
    cache_control = client.get("/")["Cache-Control"]
    assert "private" in cache_control and "no-store" in cache_control


# --- Content-Security-Policy ------------------------------------------------------------------


@pytest.mark.django_db
def test_every_page_carries_a_policy_without_inline_code(client: Client) -> None:
    policy = client.get("/admin/login/")["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
    )
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["base-uri"] == ["'none'"]
    assert "unsafe" not in policy


INLINE_CODE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE
)


def test_our_templates_hold_no_inline_script_or_style() -> None:
    # What the policy would block in a browser, found before any browser runs.
    templates = [
        path
        for folder in ("channels", "reservations", "vrs_export", "config")
        for path in (ROOT / folder).rglob("templates/**/*.html")
    ]
    assert len(templates) > 20
    offending = {
        str(path.relative_to(ROOT)): INLINE_CODE.findall(path.read_text(encoding="utf-8"))
        for path in templates
    }
    assert {path: found for path, found in offending.items() if found} == {}


@pytest.mark.django_db
def test_swagger_ui_loads_its_script_by_url(client: Client) -> None:
    page = client.get("/api/v1/docs/")
    html = page.content.decode()
    assert not INLINE_CODE.search(html)
    script_url = re.search(r'<script src="([^"]*script=[^"]*)"', html)
    assert script_url is not None
    script = client.get(script_url.group(1).replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


# --- The pages work in a browser under the policy ---------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_swagger_ui_and_the_line_simulator_work_under_the_policy(
    world: Any, live_server: Any, chromium: Any, settings: Any
) -> None:
    """Violations fail the test (tests/conftest.py, _no_csp_violations); this also checks the
    pages' scripts actually ran."""
    settings.LINE_SIMULATOR = True
    root = User.objects.create_superuser("root", password="correct horse battery staple")
    # A superuser gives an authenticator code after the password (its page under the policy too).
    device = TOTPDevice.objects.create(user=root, name="認証アプリ", confirmed=True)
    context = chromium.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/")  # the staff sign-in, next=/admin/
    page.fill("#id_username", "root")
    page.fill("#id_password", "correct horse battery staple")
    page.click("main [type=submit]")
    page.fill("#id_code", code_for(device))
    page.click("main [type=submit]")
    page.wait_for_selector("#site-name")

    # The changelist's action bar is driven by admin/js/actions.js: ticking a row counts it.
    page.goto(f"{live_server.url}/admin/reservations/site/")
    page.check(f"input.action-select[value='{world.site.pk}']")
    page.wait_for_selector(".action-counter:has-text('1')")
    page.select_option("select[name=action]", "generate_season_action")
    page.click("button[name=index]")
    page.wait_for_selector("form .submit-row .cancel-link")  # generate_season.html
    page.goto(f"{live_server.url}/admin/reservations/site/add/")
    page.wait_for_selector("#site_form")

    # Swagger UI renders itself from its script (served by URL): the React root appears.
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector("#swagger-ui .swagger-ui")

    page.goto(f"{live_server.url}/line/simulator/")
    page.wait_for_selector("form")
    page.goto(f"{live_server.url}/")
    page.wait_for_selector("main")
    context.close()
