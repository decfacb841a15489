"""The rich-menu command, against the stand-in LINE API."""

from __future__ import annotations

import io
import zlib

import pytest
from django.core.management import CommandError, call_command

from channels.line.management.commands.line_rich_menu import panel_png
from channels.line.standin import StandInLine


def test_it_creates_uploads_and_sets_the_default_menu(standin: StandInLine) -> None:
    out = io.StringIO()
    call_command("line_rich_menu", stdout=out)
    paths = [c.path for c in standin.calls]
    assert paths[0] == "/v2/bot/richmenu"
    menu_id = paths[1].split("/")[4]
    assert paths[1:] == [
        f"/v2/bot/richmenu/{menu_id}/content",
        f"/v2/bot/user/all/richmenu/{menu_id}",
    ]
    assert all(c.status == 200 for c in standin.calls)
    menu = standin.calls[0].body
    assert [a["action"]["text"] for a in menu["areas"]] == [
        "予約する",
        "予約確認",
        "キャンセル",
        "問い合わせ",
        "電話番号・SMS",
        "English",
    ]
    # Two rows of three, inside the image and not overlapping.
    assert menu["size"] == {"width": 2500, "height": 1686}
    bounds = [a["bounds"] for a in menu["areas"]]
    assert {(b["x"], b["y"]) for b in bounds} == {(x, y) for x in (0, 833, 1666) for y in (0, 843)}
    assert all(b["x"] + b["width"] <= 2500 and b["y"] + b["height"] <= 1686 for b in bounds)
    assert standin.calls[1].headers["content-type"] == "image/png"
    assert menu_id in out.getvalue()


def test_the_generated_image_is_a_valid_png() -> None:
    for height in (20, 21):  # an odd height repeats the last line
        png = panel_png(40, height)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        idat = png[png.index(b"IDAT") + 4 : png.index(b"IEND") - 8]
        assert len(zlib.decompress(idat)) == height * (1 + 40 * 3)


def test_it_refuses_to_run_unconfigured(settings: object) -> None:
    settings.LINE_CHANNEL_SECRET = ""  # type: ignore[attr-defined]
    with pytest.raises(CommandError):
        call_command("line_rich_menu")
