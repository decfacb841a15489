"""`manage.py followup_export` and the cohort page's CSV download: one row per answer of the
observation days in range, UTF-8 with a BOM and CRLF, the answer in words, the alert level,
Japanese refusals, and an audit row per person exported."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client

from channels.followup.exporting import EXPORT_HEADER
from channels.followup.services import followup_answer_record
from channels.phone.models import RecordAccess
from tests.channels.followup.staff_world import (
    DAY1,
    DAY2,
    DAY3,
    NOW,
    at,
    follow,
    followed,
    health_staff,
    home,
)
from tests.world import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):
        yield


@pytest.fixture
def answers(world: World) -> World:
    """Two people of 日南市 (one a resident) over three days, and one of 都城市."""
    ticket = world.resident(name="住民 太郎")
    resident = ticket.resident
    first = follow(followed(world.municipality, "住民 太郎", resident=resident))
    followup_answer_record(first, DAY1, home(temperature="37.2"), now=at(DAY1, 9, 5))
    followup_answer_record(
        first, DAY2, home(spo2="92", symptoms=["breathless", "cough"]), now=at(DAY2, 8)
    )
    second = follow(followed(world.municipality, "=名簿 花子", phone="+819022223333"))
    followup_answer_record(second, DAY2, home(), now=at(DAY2, 18), by_proxy=True)
    followup_answer_record(second, DAY3, home(), now=at(DAY3, 9))
    neighbour = world.neighbour()
    other = follow(followed(neighbour.municipality, "隣町 別子"))
    followup_answer_record(other, DAY2, home(), now=at(DAY2, 9))
    return world


def export(*args: str) -> str:
    out = io.StringIO()
    call_command("followup_export", *args, stdout=out)
    return out.getvalue()


def rows_of(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def test_the_file_has_a_bom_crlf_and_one_row_per_answer(answers: World, tmp_path: Path) -> None:
    target = tmp_path / "followup.csv"
    export(
        "--from",
        "2026-11-02",
        "--to",
        "2026-11-03",
        "--municipality",
        "452041",
        "--output",
        str(target),
    )
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == 4 and raw.count(b"\n") == 4  # header + 3 answers, CRLF only
    rows = rows_of(raw.decode("utf-8"))
    assert tuple(rows[0]) == EXPORT_HEADER
    body = rows[1:]
    assert [(r[1], r[6]) for r in body] == [
        ("住民 太郎", "2026-11-02"),
        ("'=名簿 花子", "2026-11-03"),  # a formula-looking name is neutralised
        ("住民 太郎", "2026-11-03"),
    ]
    first = dict(zip(EXPORT_HEADER, body[0], strict=True))
    assert first["自治体コード"] == "452041"
    assert first["生年月日"] == "1950-04-01"
    assert first["電話番号"] == "090-1111-2222"
    assert (first["質問票"], first["版"]) == ("自宅療養 健康観察", "1")
    assert first["回答日時"] == "2026-11-02 09:05:00"  # Japan time
    assert first["代理回答"] == "いいえ"
    assert first["回答"] == ("体温=37.2℃; SpO2（血中酸素飽和度）=97%; 脈拍=72回/分; 症状=なし")
    assert (first["アラート"], first["アラート内容"]) == ("なし", "")
    red = dict(zip(EXPORT_HEADER, body[2], strict=True))
    assert red["回答"].endswith("症状=息苦しい・せき")
    assert red["アラート"] == "赤"
    assert red["アラート内容"] == "SpO2が93%以下です。 / 息苦しさがあります。"
    proxy = dict(zip(EXPORT_HEADER, body[1], strict=True))
    assert (proxy["代理回答"], proxy["回答日時"]) == ("はい", "2026-11-03 18:00:00")


def test_every_municipality_without_the_option_and_stdout_keeps_crlf(answers: World) -> None:
    text = export("--from", "2026-11-01", "--to", "2026-11-30")
    rows = rows_of(text)
    assert len(rows) == 1 + 5
    assert {r[0] for r in rows[1:]} == {"452041", "452025"}
    assert text.count("\r\n") == 6


def test_bad_input_is_refused_in_japanese(answers: World, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--from の日付は YYYY-MM-DD の形で指定してください"):
        export("--from", "2026/11/02", "--to", "2026-11-03")
    with pytest.raises(CommandError, match="終了日には開始日以降の日付を指定してください"):
        export("--from", "2026-11-03", "--to", "2026-11-02")
    with pytest.raises(CommandError, match="自治体 999999 は登録されていません"):
        export("--from", "2026-11-02", "--to", "2026-11-03", "--municipality", "999999")
    with pytest.raises(CommandError, match="職員 nobody がいません"):
        export("--from", "2026-11-02", "--to", "2026-11-03", "--user", "nobody")
    with pytest.raises(CommandError, match="ファイルのパスを指定してください"):
        export("--from", "2026-11-02", "--to", "2026-11-03", "--output", str(tmp_path))
    assert not RecordAccess.objects.exists()


def test_an_export_by_a_member_of_staff_is_audited_per_person(answers: World) -> None:
    staff = health_staff("hoken", answers.municipality)
    export(
        "--from", "2026-11-02", "--to", "2026-11-04", "--municipality", "452041", "--user", "hoken"
    )
    rows = list(RecordAccess.objects.order_by("id"))
    assert len(rows) == 2  # two people, however many answers
    assert {r.channel for r in rows} == {"command"}
    assert {r.user_id for r in rows} == {staff.pk}
    assert sorted(
        (r.resident_id is None, r.subject.startswith("followup.person:")) for r in rows
    ) == [
        (False, True),
        (True, True),
    ]
    assert rows[0].detail["export"] == "followup_csv"


def test_the_cohort_page_downloads_the_acting_municipalitys_answers(answers: World) -> None:
    staff = health_staff("hoken", answers.municipality)
    client = Client()
    client.force_login(staff)
    page = client.get("/followup/", {"day": "2026-11-03"}).content.decode()
    assert 'action="/followup/export.csv"' in page and 'value="2026-11-03"' in page
    before = RecordAccess.objects.count()
    response = client.get(
        "/followup/export.csv", {"date_from": "2026-11-03", "date_to": "2026-11-03"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="followup-452041-20261103-20261103.csv"' in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"
    rows = rows_of(response.content.decode("utf-8"))
    assert [r[1] for r in rows[1:]] == ["'=名簿 花子", "住民 太郎"]  # not 都城市's person
    added = RecordAccess.objects.order_by("id")[before:]
    assert len(added) == 2 and {r.channel for r in added} == {"followup"}

    refused = client.get(
        "/followup/export.csv", {"date_from": "2026-11-04", "date_to": "2026-11-01"}, follow=True
    )
    assert "終了日には開始日以降の日付を指定してください。" in refused.content.decode()
    garbage = client.get("/followup/export.csv", {"date_from": "昨日"}, follow=True)
    assert garbage.status_code == 200
