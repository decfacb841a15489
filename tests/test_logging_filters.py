"""Logs never carry ticket numbers, birth dates, phone numbers or names: the filter on every
handler, Django's request lines, the worker's handlers, gunicorn's access log, and the code's
own log calls (ids, never names)."""

from __future__ import annotations

import ast
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from config.logging_filters import DATE, PHONE, TICKET, RedactPersonalData, redact

ROOT = Path(__file__).resolve().parent.parent

TICKETS = ["1234567890", "１２３４５６７８９０"]
PHONES = [
    "090-1234-5678",
    "09012345678",
    "03-1234-5678",
    "0312345678",
    "03(1234)5678",
    "0987-00-0000",
    "0120 123 456",
    "０９０－１２３４－５６７８",
    "+819012345678",
    "+81-90-1234-5678",
    "+81 3 1234 5678",
]
DATES = [
    "1950-04-01",
    "1950/4/1",
    "1950.04.01",
    "1950年4月1日",
    "19500401",
    "昭和25年4月1日",
    "令和元年5月1日",
    "昭25.4.1",
    "S25.4.1",
    "s25/4/1",
    "R060401",
    "１９５０年４月１日",
]
PERSONAL = TICKETS + PHONES + DATES


@pytest.mark.parametrize("value", TICKETS)
def test_ticket_numbers_are_hidden(value: str) -> None:
    assert redact(f"ticket {value} refused") == f"ticket {TICKET} refused"


@pytest.mark.parametrize("value", PHONES)
def test_phone_numbers_are_hidden(value: str) -> None:
    assert redact(f"SMS to {value} failed") == f"SMS to {PHONE} failed"


@pytest.mark.parametrize("value", DATES)
def test_dates_that_may_be_birth_dates_are_hidden(value: str) -> None:
    assert redact(f"born {value}.") == f"born {DATE}."


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"GET /phone/?q=%E5%B1%B1%E7%94%B0 HTTP/1.1" 200 512', '"GET /phone/ HTTP/1.1" 200 512'),
        ('"GET /phone/?q=1234567890&page=2 HTTP/1.1" 200 9', '"GET /phone/ HTTP/1.1" 200 9'),
        (
            "Not Found: https://x.example.lg.jp/p/abc/?token=t",
            "Not Found: https://x.example.lg.jp/p/abc/",
        ),
        ('"GET /health/ HTTP/1.1" 200 2', '"GET /health/ HTTP/1.1" 200 2'),
    ],
)
def test_request_lines_lose_their_query_string(line: str, expected: str) -> None:
    assert redact(line) == expected


@pytest.mark.parametrize(
    "text",
    [
        "LINE event 01TEST00000000000000000001 failed",
        "notify relay: started (poll 0.20 s, batch 1000)",
        "message 42: queued, retry later",
        "VRS export batch 7 downloaded by user 3: 120 rows, sha256 " + "ab12" * 16,
        "100% of slots at 09:00-17:00",
    ],
)
def test_ordinary_log_lines_pass_unchanged(text: str) -> None:
    assert redact(text) == text


def _handler(stream: StringIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactPersonalData())
    return handler


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, StringIO]]:
    stream = StringIO()
    logger = logging.getLogger("tests.redaction")
    handler = _handler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


@pytest.mark.parametrize("value", PERSONAL)
def test_a_value_in_the_arguments_is_hidden(
    captured: tuple[logging.Logger, StringIO], value: str
) -> None:
    logger, stream = captured
    logger.warning("resident %s: %s", 42, value)
    assert value not in stream.getvalue()
    assert "resident 42: [" in stream.getvalue()


@pytest.mark.parametrize("value", PERSONAL)
def test_a_value_in_the_message_itself_is_hidden(
    captured: tuple[logging.Logger, StringIO], value: str
) -> None:
    logger, stream = captured
    logger.warning(f"resident 42 typed {value}")  # the careless call under test
    assert value not in stream.getvalue()


def test_a_value_in_a_traceback_is_hidden(captured: tuple[logging.Logger, StringIO]) -> None:
    logger, stream = captured
    try:
        raise ValueError("duplicate key (number)=(1234567890), phone 090-1234-5678")
    except ValueError:
        logger.exception("import failed")
    output = stream.getvalue()
    assert "Traceback" in output and "ValueError" in output
    assert "1234567890" not in output and "090-1234-5678" not in output


def test_dict_arguments_and_bad_arguments_are_handled(
    captured: tuple[logging.Logger, StringIO],
) -> None:
    logger, stream = captured
    logger.warning("ticket %(ticket)s", {"ticket": "1234567890"})
    logger.warning("two placeholders %s %s", "1234567890")  # one argument short
    assert "1234567890" not in stream.getvalue()


# --- As configured (settings.LOGGING) --------------------------------------------------------


def _swap_streams(handlers: Iterable[logging.Handler], stream: StringIO) -> list[Any]:
    swapped = []
    for handler in handlers:
        assert isinstance(handler, logging.StreamHandler)
        swapped.append((handler, handler.setStream(stream)))
    return swapped


@pytest.fixture
def configured_output(settings: Any) -> Iterator[Callable[[str], logging.Logger]]:
    """What the configured handlers of a logger write, read from memory."""
    stream = StringIO()
    swapped: list[Any] = []

    def logger_for(name: str) -> logging.Logger:
        logger = logging.getLogger(name)
        owner = logger
        while owner is not None and not _configured(owner.handlers):
            owner = owner.parent if owner.propagate else None  # type: ignore[assignment]
        assert owner is not None, f"{name} reaches no handler"
        swapped.extend(_swap_streams(_configured(owner.handlers), stream))
        return logger

    logger_for.stream = stream  # type: ignore[attr-defined]
    yield logger_for
    for handler, previous in swapped:
        handler.setStream(previous)


def _configured(handlers: Iterable[logging.Handler]) -> list[logging.Handler]:
    # settings.LOGGING names its handlers; pytest's own capturing handlers have no name.
    return [handler for handler in handlers if handler.name]


def test_every_configured_handler_redacts() -> None:
    handlers = _configured(
        [*logging.getLogger().handlers, *logging.getLogger("django.server").handlers]
    )
    assert {handler.name for handler in handlers} == {"console", "django.server"}
    for handler in handlers:
        assert any(isinstance(f, RedactPersonalData) for f in handler.filters), handler
    # Django's default handlers (unfiltered) are gone from its logger: it uses the root's.
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django").propagate


def test_the_development_server_logs_the_path_without_its_query(
    configured_output: Callable[[str], logging.Logger],
) -> None:
    # As django.core.servers.basehttp.WSGIRequestHandler.log_message calls it.
    logger = configured_output("django.server")
    logger.info(
        '"%s" %s %s',
        "GET /phone/?q=%E5%B1%B1%E7%94%B0%20%E5%A4%AA%E9%83%8E&ticket=1234567890 HTTP/1.1",
        "200",
        "5120",
        extra={"request": None, "server_time": "07/Dec/2026 10:00:00", "status_code": 200},
    )
    output = configured_output.stream.getvalue()  # type: ignore[attr-defined]
    assert '"GET /phone/ HTTP/1.1" 200 5120' in output
    assert "?q=" not in output and "1234567890" not in output


def test_a_server_error_is_logged_without_personal_data(
    configured_output: Callable[[str], logging.Logger],
) -> None:
    logger = configured_output("django.request")
    try:
        raise RuntimeError("resident 090-1234-5678 born 1950-04-01")
    except RuntimeError:
        logger.error("Internal Server Error: %s", "/phone/r/1234567890/", exc_info=True)
    output = configured_output.stream.getvalue()  # type: ignore[attr-defined]
    assert "Internal Server Error" in output and "RuntimeError" in output
    for value in ("090-1234-5678", "1950-04-01", "1234567890"):
        assert value not in output


def test_a_worker_puts_the_filter_back_on_its_own_handlers() -> None:
    from config.celery import redact_worker_logs

    logger = logging.getLogger("tests.worker")
    handler = logging.StreamHandler(StringIO())
    logger.addHandler(handler)
    try:
        redact_worker_logs(logger=logger)
        redact_worker_logs(logger=logger)  # set up twice: still one filter
        assert sum(isinstance(f, RedactPersonalData) for f in handler.filters) == 1
    finally:
        logger.removeHandler(handler)


# --- The code's own log calls ----------------------------------------------------------------

LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
# Attributes that hold a person's name or identifiers (Resident.name, name_kana, birth_date,
# phone, Ticket.number, Call.notes, ExportBatch.requested_by_name, a staff user's names…).
PERSONAL_ATTRIBUTE = ("name", "kana", "birth", "phone", "number", "notes", "text", "email")


def _personal_attributes(call: ast.Call) -> list[str]:
    found = []
    for argument in [*call.args[1:], *(k.value for k in call.keywords)]:
        for node in ast.walk(argument):
            # `type(error).__name__` or `Signals(n).name` name a class or a signal, not a person:
            # only attributes read from a variable (a model instance) count.
            if (
                isinstance(node, ast.Attribute)
                and not isinstance(node.value, ast.Call)
                and any(part in node.attr.lower() for part in PERSONAL_ATTRIBUTE)
            ):
                found.append(ast.unparse(node))
    return found


def log_calls_with_personal_fields(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOG_METHODS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("logger", "log", "logging", "LOGGER")
        ):
            found += [f"line {node.lineno}: {a}" for a in _personal_attributes(node)]
    return found


def test_the_check_finds_a_name_in_a_log_call() -> None:
    bad = 'logger.info("batch %s by %s", batch.pk, batch.requested_by_name)\n'
    assert log_calls_with_personal_fields(bad) == ["line 1: batch.requested_by_name"]
    assert log_calls_with_personal_fields('logger.info("x %s", resident.name_kana)\n')
    assert not log_calls_with_personal_fields('logger.info("x %s", type(e).__name__)\n')


def test_no_log_call_in_the_code_logs_a_personal_field() -> None:
    offenders = []
    for package in ("reservations", "channels", "vrs_export", "config"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for found in log_calls_with_personal_fields(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(ROOT)} {found}")
    assert offenders == []


# --- gunicorn's access log -------------------------------------------------------------------


def tiny_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """A WSGI app for the gunicorn run below (the config is what is tested, not Django)."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_gunicorn_logs_the_path_without_the_query_or_the_referer() -> None:
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "config/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "tests.test_logging_filters:tiny_app",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        url = f"http://127.0.0.1:{port}/phone/?q=%E5%B1%B1%E7%94%B0&ticket=1234567890"
        request = urllib.request.Request(  # noqa: S310 - loopback
            url, headers={"Referer": f"http://127.0.0.1:{port}/phone/?q=09012345678"}
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                    assert response.status == 200
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        time.sleep(0.3)  # the access log line is written after the response
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=20)
    access = stdout.decode()
    assert '"GET /phone/ HTTP/1.1" 200' in access, (access, stderr.decode()[-2000:])
    for leaked in ("?q=", "%E5%B1%B1", "1234567890", "09012345678"):
        assert leaked not in access


def test_the_readme_production_command_uses_the_gunicorn_config() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    production = readme.split("## Production", 1)[1]
    commands = [line for line in production.splitlines() if line.startswith("gunicorn ")]
    assert commands
    assert all("-c config/gunicorn.conf.py" in line for line in commands)
