"""Sign-in on the start page: what people really type, one error for every wrong guess, and a
lockout with the call-centre number."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.channels.web.conftest import Clock, full_width, sign_in, sign_in_data
from tests.world import World

pytestmark = pytest.mark.django_db

D = dt.date


def test_it_accepts_full_width_digits_hyphens_and_spaces(client: Client, world: World) -> None:
    ticket = world.resident(D(1947, 5, 3))
    n = ticket.number
    typed = full_width(f"{n[:4]}－{n[4:7]} {n[7:]}")
    url = sign_in(client, ticket, ticket_number=typed)
    assert "日南 花子" in client.get(url).content.decode()


@pytest.mark.parametrize(
    "fields",
    [
        {"birth_era": "S", "birth_year": "22", "birth_month": "5", "birth_day": "3"},
        {"birth_era": "S", "birth_year": "２２", "birth_month": "０５", "birth_day": "３"},
        {"birth_year": "", "birth_date_text": "S22.5.3"},
        {"birth_year": "", "birth_date_text": "昭和22年5月3日"},
        {"birth_year": "", "birth_date_text": "１９４７／５／３"},
    ],
)
def test_it_accepts_wareki_and_western_birth_dates(
    client: Client, world: World, fields: dict[str, str]
) -> None:
    ticket = world.resident(D(1947, 5, 3))
    sign_in(client, ticket, **fields)


def test_it_gives_one_error_for_unknown_ticket_and_wrong_birth_date(
    client: Client, world: World
) -> None:
    ticket = world.resident(D(1947, 5, 3))
    wrong_birth = client.post("/", sign_in_data(ticket, birth=D(1947, 5, 4)))
    unknown = client.post("/", sign_in_data(ticket, ticket_number="9999999999"))
    message = "接種券番号または生年月日が正しくありません"
    assert wrong_birth.status_code == unknown.status_code == 200
    assert message in wrong_birth.content.decode() and message in unknown.content.decode()
    # The input is kept, so the resident corrects one digit instead of starting again.
    assert 'value="9999999999"' in unknown.content.decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ticket_number": "12345"}, "接種券番号は10桁の数字で入力してください"),
        ({"birth_year": "", "birth_month": "", "birth_day": ""}, "生年月日（年・月・日）を入力"),
        ({"birth_era": "H", "birth_year": "31", "birth_month": "5", "birth_day": "1"}, ""),
        ({"birth_year": "", "birth_date_text": "きのう"}, ""),
        ({"birth_year": "2999"}, ""),
        ({"booking_for": "proxy", "relationship": ""}, "予約する人との関係を選んでください"),
        ({"municipality": "999999"}, ""),
        ({"booking_for": "nonsense"}, ""),
    ],
)
def test_it_explains_bad_input_without_failing(
    client: Client, world: World, fields: dict[str, str], message: str
) -> None:
    ticket = world.resident(D(1947, 5, 3))
    response = client.post("/", sign_in_data(ticket, **fields))
    assert response.status_code == 200
    page = response.content.decode()
    assert "invalid-feedback" in page or "alert-danger" in page
    assert message in page


SIGN_IN_FIELDS = [
    "municipality",
    "ticket_number",
    "birth_era",
    "birth_year",
    "birth_month",
    "birth_day",
    "birth_date_text",
    "booking_for",
    "relationship",
]


# The attempt counters carry over between examples; a 429 is an acceptable answer too.
@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(st.sampled_from(SIGN_IN_FIELDS), st.text(max_size=60)))
def test_it_never_fails_on_any_typed_text(db: None, fields: dict[str, Any]) -> None:
    response = Client().post("/", fields)
    assert response.status_code in (200, 429)


def test_it_locks_a_ticket_after_repeated_failures(
    client: Client, world: World, settings: Any
) -> None:
    settings.CREDENTIALS_TICKET_FAILURE_LIMIT = 3
    ticket = world.resident(D(1947, 5, 3))
    for _attempt in range(3):
        client.post("/", sign_in_data(ticket, birth=D(1947, 5, 4)))
    # Now even the right birth date is refused until the window ends, from any address.
    other = Client(REMOTE_ADDR="203.0.113.9")
    locked = other.post("/", sign_in_data(ticket))
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "この接種券番号での確認に続けて失敗したため" in page and "0987-00-0000" in page


def test_it_tells_the_tries_left_and_the_lock_in_japanese_and_english(
    world: World, settings: Any, clock: Clock
) -> None:
    settings.CREDENTIALS_TICKET_FAILURE_LIMIT = 3
    ticket = world.resident(D(1947, 5, 3))
    japanese = Client(HTTP_ACCEPT_LANGUAGE="ja")
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    first = japanese.post("/", sign_in_data(ticket, birth=D(1947, 5, 4))).content.decode()
    assert "あと2回間違えると、この接種券番号は15分間ロックされます。" in first
    second = english.post("/", sign_in_data(ticket, birth=D(1947, 5, 4))).content.decode()
    assert "1 more wrong try locks this ticket number for 15 min." in second
    # The third failure, at 09:05, locks the number until 09:20.
    clock.advance(minutes=5)
    third = japanese.post("/", sign_in_data(ticket, birth=D(1947, 5, 4)))
    assert third.status_code == 200
    assert (
        "この接種券番号での確認に続けて失敗したため、15分間ロックしました。"
        "09:20以降（約15分後）にもう一度お試しいただくか、コールセンター（0987-00-0000）に"
        "お電話ください。"
    ) in third.content.decode()
    clock.advance(minutes=3)
    locked = english.post("/", sign_in_data(ticket))
    assert locked.status_code == 429
    assert (
        "After repeated failed checks, this ticket number is locked for 15 min. Please try "
        "again after 09:20 (in about 12 min) or call the call centre (0987-00-0000)."
    ) in locked.content.decode()
    clock.advance(minutes=12)
    sign_in(english, ticket)


def test_it_warns_of_the_lock_before_the_first_try(
    client: Client, world: World, settings: Any
) -> None:
    settings.CREDENTIALS_TICKET_FAILURE_LIMIT = 4
    settings.CREDENTIALS_TICKET_WINDOW_MINUTES = 20
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "続けて 4 回まちがえると、その接種券番号は 20 分間ロックされ" in page


def test_a_blocked_address_cannot_lock_a_residents_ticket(
    world: World, settings: Any, clock: Clock
) -> None:
    settings.CREDENTIALS_CLIENT_FAILURE_LIMIT = 2
    owner = world.resident(D(1947, 5, 3))
    stranger = Client(REMOTE_ADDR="198.51.100.7")
    for guess in range(2):
        stranger.post("/", sign_in_data(owner, ticket_number=f"55555{guess:05d}"))
    for _try in range(10):
        refused = stranger.post("/", sign_in_data(owner, birth=D(1947, 5, 4)))
        assert refused.status_code == 429
        assert "この接続元からの確認に続けて失敗したため" in refused.content.decode()
    sign_in(Client(REMOTE_ADDR="203.0.113.9"), owner)


def test_it_counts_the_address_behind_trusted_proxies(
    world: World, settings: Any, clock: Clock
) -> None:
    settings.CREDENTIALS_CLIENT_FAILURE_LIMIT = 2
    settings.TRUSTED_PROXIES = 1
    real = world.resident(D(1947, 5, 3))

    def behind_the_proxy(forwarded_for: str) -> Client:
        return Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for)

    # A spoofed entry in front of the proxy's own does not give a fresh limit.
    for spoofed in ("192.0.2.1", "192.0.2.2"):
        guesser = behind_the_proxy(f"{spoofed}, 198.51.100.7")
        guesser.post("/", sign_in_data(real, ticket_number="5555500001"))
    assert (
        behind_the_proxy("192.0.2.3, 198.51.100.7").post("/", sign_in_data(real)).status_code == 429
    )
    # Someone else behind the same proxy is not affected.
    sign_in(behind_the_proxy("198.51.100.8"), real)


def test_it_locks_an_address_that_tries_many_tickets(
    world: World, settings: Any, clock: Clock
) -> None:
    settings.CREDENTIALS_CLIENT_FAILURE_LIMIT = 4
    guesser = Client(REMOTE_ADDR="198.51.100.7")
    for guess in range(4):
        data = sign_in_data(world.resident(), ticket_number=f"55555{guess:05d}")
        assert guesser.post("/", data).status_code == 200
    real = world.resident(D(1947, 5, 3))
    assert guesser.post("/", sign_in_data(real)).status_code == 429
    # Another address is not affected; the window ends and the guesser may try again.
    sign_in(Client(REMOTE_ADDR="198.51.100.8"), real)
    clock.advance(minutes=settings.CREDENTIALS_CLIENT_WINDOW_MINUTES + 1)
    sign_in(guesser, real)


def test_it_defaults_to_the_home_municipality(client: Client, world: World) -> None:
    page = client.get("/").content.decode()
    assert '<option value="452041" selected>' in page


def test_it_counts_an_ipv6_client_by_its_64(world: World, settings: Any, clock: Clock) -> None:
    settings.CREDENTIALS_CLIENT_FAILURE_LIMIT = 2
    real = world.resident(D(1947, 5, 3))
    # Privacy addresses: a new one per try, all in the household's one /64.
    for guess, address in enumerate(("2001:db8:1:2::1", "2001:db8:1:2:abcd:ef01:2345:6789")):
        guesser = Client(REMOTE_ADDR=address)
        guesser.post("/", sign_in_data(real, ticket_number=f"555550000{guess}"))
    assert Client(REMOTE_ADDR="2001:db8:1:2::3").post("/", sign_in_data(real)).status_code == 429
    # The next /64 (another household at the same provider) is not affected.
    sign_in(Client(REMOTE_ADDR="2001:db8:1:3::1"), real)
