"""`followup_start_vaccinated`: the residents vaccinated on a date, followed once, from the
command line; bad input refused in Japanese."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from channels.followup.models import FollowUp
from tests.channels.followup.test_followups import DAY1, _dose
from tests.world import World, staff_with

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("followup_start_vaccinated", *args, stdout=out)
    return out.getvalue()


def test_the_residents_vaccinated_on_a_date_are_followed_once(world: World) -> None:
    given = _dose(world, "接種 花子")
    _dose(world, "電話なし 太郎", phone="")
    args = ["--date", DAY1.isoformat(), "--municipality", world.municipality.code]
    assert "1 人始めました" in run(*args, "--day-offsets", "1,2,7")
    followup = FollowUp.objects.get()
    assert followup.person.resident == given.resident
    assert (followup.start_date, followup.day_offsets) == (DAY1, [1, 2, 7])
    assert "0 人始めました（開始済み 1 人、電話番号なし 1 人）" in run(*args, "--days", "3")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2026-13-01", "--days", "3"], "YYYY-MM-DD"),
        (["--date", "2026-11-02", "--day-offsets", "1,x"], "カンマ区切り"),
        (["--date", "2026-11-02", "--days", "99"], "日数は1〜60日"),
        (["--date", "2026-11-02", "--days", "3", "--questionnaire", "nope"], "質問票 nope"),
    ],
)
def test_bad_input_is_refused_in_japanese(world: World, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args, "--municipality", world.municipality.code)


def test_a_member_of_staff_acts_only_for_their_municipality(world: World) -> None:
    neighbour = world.neighbour()
    staff_with("hoken", "add_followup")
    with pytest.raises(CommandError, match="担当ではありません"):
        run(
            "--date", DAY1.isoformat(), "--days", "3",
            "--municipality", neighbour.municipality.code, "--user", "hoken",
        )  # fmt: skip
    with pytest.raises(CommandError, match="自治体コード 999999"):
        run("--date", DAY1.isoformat(), "--days", "3", "--municipality", "999999")
