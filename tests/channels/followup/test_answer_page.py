"""The personal answer page (/f/<token>/) through Django's test client, under a fixed clock:
wrong and ended links, a day that is not a day, answering and correcting, the errors next to
their questions, the three languages, the household list, and the page's privacy headers."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
import time_machine
from django.test import Client

from channels.followup.models import FollowedPerson, FollowUp, FollowUpAnswer, FollowUpCall
from channels.followup.services import followup_end, followup_start
from channels.waiting_room.middleware import is_gated
from reservations.models import Municipality
from tests.world import World, jst

pytestmark = pytest.mark.django_db

DAY1 = dt.date(2026, 11, 2)  # a Monday
DAY2 = DAY1 + dt.timedelta(days=1)
PHONE = "+819012345678"


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    """10:00 on DAY1 in Japan; tests move it with clock.move_to."""
    with time_machine.travel(jst(2026, 11, 2, 10), tick=False) as traveller:
        yield traveller


def follow(
    world: World,
    *,
    name: str = "日南 花子",
    phone: str = PHONE,
    proxy_phone: str = "",
    language: str = "ja",
    code: str = "home-care",
    municipality: Municipality | None = None,
    days: int | None = 3,
    day_offsets: list[int] | None = None,
) -> tuple[FollowUp, str]:
    person = FollowedPerson.objects.create(
        municipality=municipality or world.municipality,
        name=name,
        phone=phone,
        proxy_phone=proxy_phone,
        birth_date=dt.date(1960, 5, 1),
        language=language,
    )
    from channels.followup.models import Questionnaire

    started = followup_start(
        person=person,
        questionnaire=Questionnaire.objects.get(code=code, is_active=True),
        start_date=DAY1,
        days=None if day_offsets else days,
        day_offsets=day_offsets,
        now=jst(2026, 11, 1, 9),
    )
    return started.followup, started.token


def url(token: str) -> str:
    return f"/f/{token}/"


def home(temperature: str = "36.8", spo2: str = "97", symptoms: tuple[str, ...] = ("none",)):
    return {
        "q_temperature": temperature,
        "q_spo2": spo2,
        "q_pulse": "72",
        "q_symptoms": list(symptoms),
        "q_note": "",
    }


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def test_a_wrong_token_gets_the_same_plain_404_whatever_it_is(world: World, clock) -> None:
    followup, token = follow(world)
    client = Client()
    pages = [
        client.get(url(wrong))
        for wrong in (
            "x",
            token[:-1] + ("B" if token.endswith("A") else "A"),
            "A" * 22,
            "%E3%81%82",
        )
    ]
    assert {page.status_code for page in pages} == {404}
    bodies = {re.sub(r"csrf\w*", "", text(page)) for page in pages}
    assert len(bodies) == 1
    body = bodies.pop()
    assert "ページが見つかりません" in body
    assert "日南" not in body and "花子" not in body
    assert pages[0]["X-Robots-Tag"] == "noindex, nofollow"
    # A guess posted to a wrong token is the same 404 (nothing is recorded anywhere).
    assert Client().post(url("A" * 22), home()).status_code == 404
    assert not FollowUpAnswer.objects.exists()


def test_the_page_is_private_and_shows_only_the_first_name(world: World, clock) -> None:
    followup, token = follow(world, name="日南 花子")
    response = Client().get(url(token))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "same-origin"
    body = text(response)
    assert '<meta name="robots" content="noindex, nofollow">' in body
    assert "花子さんの健康観察" in body
    assert "日南 花子" not in body and "1960" not in body and "5678" not in body


def test_the_answer_page_is_never_queued_by_the_waiting_room(world: World, settings) -> None:
    settings.WAITING_ROOM_ADMIT_PER_SECOND = 0.001
    assert not is_gated("/f/AAAAAAAAAAAAAAAAAAAAAA/")
    # The resident booking pages are, so the check itself looks at the right thing.
    assert is_gated("/")


def test_the_form_asks_each_kind_of_question_as_it_should(world: World, clock) -> None:
    _followup, token = follow(world)
    body = text(Client().get(url(token)))
    assert "11月2日（月）の体調を教えてください" in body
    temperature = re.search(
        r'<input type="text" inputmode="decimal"[^>]*name="q_temperature"', body
    )
    assert temperature is not None
    assert re.search(r"入力できる範囲：34.0〜42.0℃\s", body)
    assert '<span class="unit">℃</span>' in body
    assert re.search(r"<legend>症状", body)
    assert 'type="checkbox" id="q4-8" name="q_symptoms" value="none"' in body
    assert "（ほかと一緒に選べません）" in body
    assert re.search(r'<textarea id="q5" name="q_note"', body)
    assert 'name="csrfmiddlewaretoken"' in body
    assert "家族が代わりに回答しています" in body


def test_an_answer_is_received_and_can_be_corrected(world: World, clock) -> None:
    followup, token = follow(world)
    client = Client()
    form = {**home("38.7", symptoms=("cough", "fatigue")), "by_proxy": "on"}
    response = client.post(url(token), form)
    assert response.status_code == 302
    assert response["Location"] == url(token) + "?sent=1"
    answer = FollowUpAnswer.objects.get(followup=followup, for_date=DAY1)
    assert answer.values["temperature"] == "38.7" and answer.answered_by_proxy

    received = text(client.get(response["Location"]))
    assert "今日の回答は受け付けました" in received
    assert "送信しました。ありがとうございました。" in received
    assert "38.7℃" in received and "せき、だるさ" in received
    assert "（回答なし）" in received  # the note left blank
    assert "訂正する" in received
    assert "119" not in received  # nothing alarming for an answer without a red alert
    # Coming back later the same day: received, without the "just sent" line.
    again = text(client.get(url(token)))
    assert "今日の回答は受け付けました" in again and "送信しました" not in again

    correcting = text(client.get(url(token) + "?correct=1"))
    assert 'value="38.7"' in correcting
    assert re.search(r'value="cough" checked', correcting)
    assert re.search(r'id="by-proxy" name="by_proxy" value="on" checked', correcting)
    assert "前の回答と置き換わります" in correcting

    clock.move_to(jst(2026, 11, 2, 11))
    assert client.post(url(token), home("37.1")).status_code == 302
    answer.refresh_from_db()
    assert answer.values["temperature"] == "37.1" and not answer.answered_by_proxy
    assert [old["values"]["temperature"] for old in answer.history] == ["38.7"]
    assert FollowUpAnswer.objects.filter(followup=followup).count() == 1


def test_a_red_answer_adds_whom_to_phone_but_never_the_alert(world: World, clock) -> None:
    followup, token = follow(world)
    client = Client()
    response = client.post(url(token), home(spo2="92", symptoms=("breathless",)), follow=True)
    body = text(response)
    assert FollowUpAnswer.objects.get(followup=followup).alert_level == "red"
    assert FollowUpCall.objects.filter(followup=followup, reason="red_alert").exists()
    assert "今日の回答は受け付けました" in body
    assert 'href="tel:0987000000"' in body and "0987-00-0000" in body
    assert "119番" in body
    for word in ("赤", "アラート", "red", "SpO2が93%以下", "至急", "危険な"):
        assert word not in body


def test_errors_are_shown_next_to_their_questions_with_the_form_kept(world: World, clock) -> None:
    followup, token = follow(world)
    form = home("abc", spo2="", symptoms=("none", "cough"))
    form["q_note"] = "昨日から少し咳"
    response = Client().post(url(token), form)
    assert response.status_code == 200
    body = text(response)
    assert "回答に誤りがあります。" in body and 'role="alert"' in body
    assert re.search(r'<p class="error" id="q1-error">数字で入力してください', body)
    assert re.search(r'<p class="error" id="q2-error">回答してください。', body)
    assert re.search(r'<p class="error" id="q4-error">「なし」はほかの選択肢と一緒に', body)
    assert 'aria-describedby="q1-hint q1-error" aria-invalid="true"' in body
    # What was typed and chosen is still there.
    assert 'value="abc"' in body and re.search(r'value="cough" checked', body)
    assert "昨日から少し咳</textarea>" in body
    assert not FollowUpAnswer.objects.filter(followup=followup).exists()


def test_a_day_that_is_not_a_day_names_the_next_one(world: World, clock) -> None:
    _followup, token = follow(world, day_offsets=[0, 3])
    clock.move_to(jst(2026, 11, 3, 10))
    response = Client().get(url(token))
    body = text(response)
    assert response.status_code == 200
    assert "今日（11月3日（火））は回答する日ではありません" in body
    assert "次に回答する日は11月5日（木）です" in body
    assert '<form method="post"' not in body
    # Posting anyway (an old tab) records nothing.
    assert Client().post(url(token), home()).status_code == 200
    assert not FollowUpAnswer.objects.exists()


def test_an_ended_follow_up_says_the_link_is_over_with_the_number(world: World, clock) -> None:
    followup, token = follow(world)
    followup_end(followup, FollowUp.EndReason.STAFF, now=jst(2026, 11, 2, 9))
    response = Client().get(url(token))
    assert response.status_code == 410
    body = text(response)
    assert "このリンクの受付は終わりました" in body and "0987-00-0000" in body
    assert Client().post(url(token), home()).status_code == 410

    # Past the last day, before the nightly scan has ended it: over all the same.
    _other, other_token = follow(world, name="日南 一郎", days=1)
    clock.move_to(jst(2026, 11, 3, 10))
    assert Client().get(url(other_token)).status_code == 410


def test_the_page_speaks_the_persons_language_and_switches_by_link(world: World, clock) -> None:
    _followup, token = follow(world, language="ja-easy")
    client = Client()
    easy = text(client.get(url(token)))
    assert "からだの ねつ（たいおん）" in easy and 'lang="ja"' in easy
    # The page's own words from the ja_Easy catalogue, not only the questionnaire's labels.
    assert "花子さんの けんこう かんさつ" in easy and "おくる" in easy

    response = client.get(url(token) + "?lang=en")
    body = text(response)
    assert '<html lang="en">' in body
    assert "Body temperature" in body and "Short of breath" in body
    assert response["Content-Language"] == "en"
    cookie = response.cookies["followup_lang"]
    assert cookie.value == "en" and cookie["path"] == url(token)
    # Remembered by the cookie without the parameter, also when the answer is sent.
    assert "Body temperature" in text(client.get(url(token)))
    received = text(client.post(url(token), home(), follow=True))
    assert "Body temperature" in received and "None" in received

    # An unknown language is ignored (the remembered one stays).
    assert "Body temperature" in text(client.get(url(token) + "?lang=xx"))
    # A fresh phone shows the person's own language.
    assert "からだの ねつ" in text(Client().get(url(token)))


def test_the_household_lists_the_others_of_the_same_city_on_the_same_phone(
    world: World, clock
) -> None:
    parent, token = follow(world, name="日南 花子")
    child, child_token = follow(world, name="日南 太郎", code="post-vaccination")
    # A child without a phone of its own, with the parent's as its proxy's.
    small, small_token = follow(world, name="日南 次郎", phone="+819000000001", proxy_phone=PHONE)
    follow(world, name="日南 他人", phone="+819099999999")  # another phone
    later, _ = follow(world, name="日南 三郎", day_offsets=[2])  # no day today
    ended, _ = follow(world, name="日南 四郎")
    followup_end(ended, FollowUp.EndReason.STAFF, now=jst(2026, 11, 2, 9))
    elsewhere = Municipality.objects.create(code="452025", name="都城市")
    follow(world, name="都城 花子", municipality=elsewhere)  # same phone, another city

    Client().post(
        url(child_token),
        {
            "q_fever": "36.5",
            "q_injection_site": "none",
            "q_allergy": "none",
            "q_medical_visit": "none",
        },
    )
    body = text(Client().get(url(token)))
    section = body[body.index("同じ電話で回答するご家族") :]
    assert f'href="/f/{child_token}/">太郎さんの回答ページ' in section
    assert f'href="/f/{small_token}/">次郎さんの回答ページ' in section
    assert section.count("さんの回答ページ") == 2
    assert "今日は回答済み" in section and "今日はまだ回答していません" in section
    for absent in ("他人", "三郎", "四郎", "都城"):
        assert absent not in body
    # The child's page lists the parent (the same phone), the proxy's child is not on its phone.
    child_page = text(Client().get(url(child_token)))
    assert f'href="/f/{token}/">花子さんの回答ページ' in child_page


def test_the_form_needs_its_csrf_token(world: World, clock) -> None:
    _followup, token = follow(world)
    client = Client(enforce_csrf_checks=True)
    assert client.post(url(token), home()).status_code == 403
    page = text(client.get(url(token)))
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert csrf is not None
    posted = client.post(url(token), {**home(), "csrfmiddlewaretoken": csrf.group(1)})
    assert posted.status_code == 302
