"""Staff actions on health follow-up: acknowledging and resolving alerts, recording calls,
reviewing photos; each writes who and when on its row, and only once (the second member of
staff is told it was done)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client

from channels.followup.models import FollowUpAnswer, FollowUpCall, FollowUpPhoto
from channels.followup.services import FollowUpError, followup_answer_record
from channels.followup.staff import alert_acknowledge, alert_resolve, call_done, photo_review
from tests.channels.followup.staff_world import (
    DAY1,
    DAY2,
    NOW,
    at,
    doctor,
    follow,
    followed,
    health_staff,
    home,
    photo,
)
from tests.world import World

pytestmark = pytest.mark.django_db

LATER = NOW + dt.timedelta(minutes=5)


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def photo_root(settings: Any, tmp_path: Path) -> Path:
    settings.FOLLOWUP_PHOTO_ROOT = tmp_path / "photos"
    return tmp_path / "photos"


def red_answer(world: World, name: str = "油津 花子", spo2: str = "91") -> FollowUpAnswer:
    followup = follow(followed(world.municipality, name))
    return followup_answer_record(followup, DAY1, home(spo2=spo2), now=at(DAY1, 9)).answer


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Alerts --------------------------------------------------------------------------------------


def test_a_second_acknowledgement_is_harmless_and_keeps_the_first(world: World) -> None:
    answer = red_answer(world)
    first, second = health_staff("ichi", world.municipality), health_staff("ni", world.municipality)
    assert alert_acknowledge(answer=answer, user=first, now=NOW) is True
    assert alert_acknowledge(answer=answer, user=second, now=LATER) is False
    answer.refresh_from_db()
    assert (answer.acknowledged_by_id, answer.acknowledged_at) == (first.pk, NOW)
    assert answer.resolved_at is None


def test_resolving_needs_a_note_acknowledges_and_happens_once(world: World) -> None:
    answer = red_answer(world)
    staff = health_staff("ichi", world.municipality)
    with pytest.raises(FollowUpError) as refused:
        alert_resolve(answer=answer, user=staff, note="  \n ", now=NOW)
    assert refused.value.code == "note_required"
    assert FollowUpAnswer.objects.get(pk=answer.pk).acknowledged_at is None  # nothing written

    alert_resolve(answer=answer, user=staff, note="電話で状態を確認、受診を勧めた", now=NOW)
    answer.refresh_from_db()
    assert (answer.acknowledged_by_id, answer.acknowledged_at) == (staff.pk, NOW)
    assert (answer.resolved_by_id, answer.resolved_at) == (staff.pk, NOW)
    assert answer.resolution_note == "電話で状態を確認、受診を勧めた"
    other = health_staff("ni", world.municipality)
    with pytest.raises(FollowUpError) as again:
        alert_resolve(answer=answer, user=other, note="重ねて", now=LATER)
    assert again.value.code == "resolved"
    answer.refresh_from_db()
    assert (answer.resolved_by_id, answer.resolution_note) == (
        staff.pk,
        "電話で状態を確認、受診を勧めた",
    )


def test_resolving_keeps_someone_elses_acknowledgement(world: World) -> None:
    answer = red_answer(world)
    first, second = health_staff("ichi", world.municipality), health_staff("ni", world.municipality)
    alert_acknowledge(answer=answer, user=first, now=NOW)
    alert_resolve(answer=answer, user=second, note="対応済み", now=LATER)
    answer.refresh_from_db()
    assert (answer.acknowledged_by_id, answer.resolved_by_id) == (first.pk, second.pk)


def test_an_answer_without_an_alert_has_nothing_to_handle(world: World) -> None:
    followup = follow(followed(world.municipality))
    answer = followup_answer_record(followup, DAY1, home(), now=at(DAY1, 9)).answer
    staff = health_staff("ichi", world.municipality)
    with pytest.raises(FollowUpError):
        alert_acknowledge(answer=answer, user=staff, now=NOW)
    # Nor is it found by the alert pages.
    response = signed_in(staff).post(f"/followup/alerts/{answer.pk}/ack/")
    assert response.status_code == 404


def test_the_alerts_page_lists_red_first_then_oldest_and_handles_them(world: World) -> None:
    yellow_followup = follow(
        followed(world.municipality, "黄田 注意"), start=DAY1 - dt.timedelta(1)
    )
    followup_answer_record(
        yellow_followup, DAY1 - dt.timedelta(1), home(temperature="38.6"), now=at(DAY1, 7)
    )
    yellow = followup_answer_record(
        yellow_followup, DAY1, home(temperature="38.8"), now=at(DAY1, 8)
    ).answer
    assert yellow.alert_level == "yellow"
    late_red = red_answer(world, "赤坂 後子")
    FollowUpAnswer.objects.filter(pk=late_red.pk).update(answered_at=at(DAY1, 9, 30))
    early_red = red_answer(world, "赤坂 先子")
    FollowUpAnswer.objects.filter(pk=early_red.pk).update(answered_at=at(DAY1, 8, 30))
    staff = health_staff("ichi", world.municipality)
    client = signed_in(staff)

    page = client.get("/followup/alerts/").content.decode()
    order = [page.index(name) for name in ("赤坂 先子", "赤坂 後子", "黄田 注意")]
    assert order == sorted(order)
    assert "赤（至急）" in page and "黄（注意）" in page  # the level in words
    assert "SpO2が93%以下です。" in page and "38.5℃以上の発熱が2日続いています。" in page

    acked = client.post(f"/followup/alerts/{early_red.pk}/ack/", follow=True)
    assert "確認済みにしました" in acked.content.decode()
    assert "ichi さんが確認済み" in acked.content.decode()
    twice = client.post(f"/followup/alerts/{early_red.pk}/ack/", follow=True)
    assert "すでにほかの職員が確認しています" in twice.content.decode()

    missing = client.post(f"/followup/alerts/{early_red.pk}/resolve/", {"note": ""}, follow=True)
    assert "対応の内容を記録してください。" in missing.content.decode()
    assert FollowUpAnswer.objects.get(pk=early_red.pk).resolved_at is None

    done = client.post(
        f"/followup/alerts/{early_red.pk}/resolve/", {"note": "家族に連絡済み"}, follow=True
    )
    assert "対応済みにしました" in done.content.decode()
    # Resolved: off the list; the other two stay.
    assert f'id="a-{early_red.pk}"' not in done.content.decode()
    assert f'id="a-{late_red.pk}"' in done.content.decode()
    resolved = FollowUpAnswer.objects.get(pk=early_red.pk)
    assert (resolved.resolved_by_id, resolved.resolved_at) == (staff.pk, NOW)


# --- Calls ---------------------------------------------------------------------------------------


def test_a_call_is_recorded_once(world: World) -> None:
    answer = red_answer(world)
    call = FollowUpCall.objects.get(followup=answer.followup)
    first, second = health_staff("ichi", world.municipality), health_staff("ni", world.municipality)
    with pytest.raises(FollowUpError):
        call_done(call=call, user=first, outcome="maybe", note="", now=NOW)
    call_done(call=call, user=first, outcome="not_reached", note="留守電に伝言", now=NOW)
    with pytest.raises(FollowUpError) as again:
        call_done(call=call, user=second, outcome="reached", note="", now=LATER)
    assert again.value.code == "call_done"
    call.refresh_from_db()
    assert (call.done_by_id, call.done_at, call.outcome, call.note) == (
        first.pk,
        NOW,
        "not_reached",
        "留守電に伝言",
    )


def test_the_call_list_puts_red_first_and_moves_done_calls_down(world: World) -> None:
    silent_followup = follow(followed(world.municipality, "無回 答男", proxy_phone="+819055556666"))
    silent = FollowUpCall.objects.create(
        followup=silent_followup,
        for_date=DAY1,
        reason="silent",
        priority=1,
        created_at=at(DAY1, 7),
    )
    red = FollowUpCall.objects.get(followup=red_answer(world, "赤坂 急子").followup)
    client = signed_in(health_staff("ichi", world.municipality))
    page = client.get("/followup/calls/").content.decode()
    assert page.index("赤坂 急子") < page.index("無回 答男")  # red first, though newer
    assert 'href="tel:+819055556666"' in page and "090-5555-6666" in page

    missing = client.post(f"/followup/calls/{silent.pk}/done/", {"note": "x"}, follow=True)
    assert "電話の結果を選んでください。" in missing.content.decode()
    done = client.post(
        f"/followup/calls/{silent.pk}/done/", {"outcome": "reached", "note": "元気"}, follow=True
    )
    body = done.content.decode()
    assert "無回 答男さんへの電話を記録しました。" in body
    today = body.split("今日の記録", 1)[1]
    assert "無回 答男" in today and "本人・家族と話せた" in today and "元気" in today
    assert FollowUpCall.objects.get(pk=red.pk).done_at is None


# --- Photos --------------------------------------------------------------------------------------


def test_a_photo_is_reviewed_once_and_a_rejection_needs_a_reason(
    world: World, photo_root: Path
) -> None:
    followup = follow(followed(world.municipality))
    first = photo(followup, photo_root)
    second = photo(followup, photo_root, day=DAY2, name="Zq8Wm2Lr5Tx1Nc7Vb4Hs6Jd.png")
    doc, other = doctor("ishi", world.municipality), doctor("ishi2", world.municipality)
    with pytest.raises(FollowUpError) as no_reason:
        photo_review(photo=first, user=doc, confirmed=False, reason=" ", now=NOW)
    assert no_reason.value.code == "reason_required"
    photo_review(photo=first, user=doc, confirmed=True, reason="", now=NOW)
    with pytest.raises(FollowUpError) as again:
        photo_review(photo=first, user=other, confirmed=False, reason="不鮮明", now=LATER)
    assert again.value.code == "reviewed"
    first.refresh_from_db()
    assert (first.status, first.reviewed_by_id, first.reviewed_at) == ("confirmed", doc.pk, NOW)

    photo_review(photo=second, user=other, confirmed=False, reason="線が読み取れません", now=NOW)
    second.refresh_from_db()
    assert (second.status, second.reason) == ("rejected", "線が読み取れません")


def test_a_deleted_photo_cannot_be_reviewed(world: World, photo_root: Path) -> None:
    gone = photo(follow(followed(world.municipality)), photo_root)
    FollowUpPhoto.objects.filter(pk=gone.pk).update(deleted_at=NOW, stored_name="")
    with pytest.raises(FollowUpError):
        photo_review(
            photo=gone, user=doctor("ishi", world.municipality), confirmed=True, reason="", now=NOW
        )


def test_the_photo_queue_reviews_through_the_page(world: World, photo_root: Path) -> None:
    followup = follow(followed(world.municipality, "写真 送子"))
    pending = photo(followup, photo_root)
    client = signed_in(doctor("ishi", world.municipality))
    page = client.get("/followup/photos/").content.decode()
    assert "写真 送子" in page and f'src="/followup/photos/{pending.pk}/image/"' in page

    refused = client.post(
        f"/followup/photos/{pending.pk}/review/", {"decision": "reject", "reason": ""}, follow=True
    )
    assert "確認できない理由を入力してください" in refused.content.decode()
    assert FollowUpPhoto.objects.get(pk=pending.pk).status == "pending"

    done = client.post(
        f"/followup/photos/{pending.pk}/review/",
        {"decision": "reject", "reason": "写真が暗く判定できません"},
        follow=True,
    )
    assert "「確認できない」にしました" in done.content.decode()
    assert "確認待ちの写真はありません。" in done.content.decode()
    reviewed = FollowUpPhoto.objects.get(pk=pending.pk)
    assert (reviewed.status, reviewed.reason) == ("rejected", "写真が暗く判定できません")
    # Reviewed: a second verdict is refused, the first stays.
    again = client.post(
        f"/followup/photos/{pending.pk}/review/", {"decision": "confirm"}, follow=True
    )
    assert "すでに確認済みです" in again.content.decode()
    assert FollowUpPhoto.objects.get(pk=pending.pk).status == "rejected"
