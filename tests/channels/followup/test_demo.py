"""followup_demo: demo people for the staff screens, made once, with a red answer on the call
list, a yellow one, and someone silent."""

from __future__ import annotations

from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from channels.followup.models import FollowUp, FollowUpAnswer, FollowUpCall
from tests.world import World, jst

pytestmark = pytest.mark.django_db


def test_the_demo_follow_ups(world: World) -> None:
    out = StringIO()
    with time_machine.travel(jst(2026, 11, 2, 13), tick=False):
        call_command("followup_demo", stdout=out)
        call_command("followup_demo", stdout=out)
    assert "6 人分" in out.getvalue() and "すでにあります" in out.getvalue()
    assert FollowUp.objects.count() == 6
    today = FollowUpAnswer.objects.filter(for_date="2026-11-02")
    assert sorted(today.values_list("alert_level", flat=True)) == [
        "none",
        "none",
        "red",
        "yellow",
    ]
    assert [call.reason for call in FollowUpCall.objects.all()] == ["red_alert"]


def test_an_unknown_municipality_is_refused(world: World) -> None:
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("followup_demo", "--municipality", "999999")
