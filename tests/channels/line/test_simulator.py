"""The staff-only chat simulator: signed events through the real webhook, answers captured by
the built-in stand-in for LINE's API."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import User
from django.test import Client

from channels.line.models import LineLink, SimulatorDelivery
from tests.world import World


@pytest.fixture
def simulator_on(settings: Any, live_server: Any, eager_tasks: None) -> str:
    settings.LINE_CHANNEL_SECRET = ""
    settings.LINE_CHANNEL_ACCESS_TOKEN = ""
    settings.LINE_API_BASE_URL = ""
    settings.LINE_SIMULATOR = True
    settings.LINE_SIMULATOR_API_URL = f"{live_server.url}/line/simulator/api"
    return str(urlparse(live_server.url).netloc)


@pytest.mark.django_db
def test_it_is_for_staff_only_and_off_by_default(client: Client, settings: Any) -> None:
    settings.LINE_SIMULATOR = False
    staff = User.objects.create_user("staff", password="x", is_staff=True)
    assert client.get("/line/simulator/").status_code == 302  # to the login page
    client.force_login(staff)
    assert client.get("/line/simulator/").status_code == 404
    assert client.post("/line/webhook/").status_code == 503


@pytest.mark.django_db
def test_real_line_settings_switch_the_simulator_off(client: Client, settings: Any) -> None:
    settings.LINE_SIMULATOR = True
    settings.LINE_CHANNEL_SECRET = "real"
    settings.LINE_CHANNEL_ACCESS_TOKEN = "real"
    client.force_login(User.objects.create_user("staff", password="x", is_staff=True))
    assert client.get("/line/simulator/").status_code == 404
    assert client.post("/line/simulator/api/v2/bot/message/push").status_code == 404


def test_a_staff_member_links_and_books_in_the_simulator(
    transactional_db: None, world: World, simulator_on: str, season_clock: object
) -> None:
    from django.utils import timezone

    day = timezone.localdate() + dt.timedelta(days=4)  # the season clock's today
    world.slot(day, 10)
    ticket = world.resident()
    client = Client(HTTP_HOST=simulator_on)
    client.force_login(User.objects.create_user("staff", password="x", is_staff=True))

    def send(**form: str) -> str:
        assert client.post("/line/simulator/", form).status_code == 302
        return client.get("/line/simulator/").content.decode()

    assert "接種券番号" in send(kind="follow")
    send(kind="text", text=ticket.number)
    page = send(kind="text", text="昭和25年4月1日")
    assert "連携しました" in page
    assert LineLink.objects.get().resident == ticket.resident
    page = send(kind="text", text="予約する")
    assert "接種会場を選んでください" in page and 'name="data"' in page
    kinds = set(SimulatorDelivery.objects.values_list("kind", flat=True))
    assert kinds == {"user", "reply"}
