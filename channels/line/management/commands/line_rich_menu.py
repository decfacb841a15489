"""Create the LINE rich menu (予約する, 予約確認, キャンセル, 問い合わせ) and make it default.

    manage.py line_rich_menu [--image menu.png]

Each area sends the same text a resident could type, so the menu and typing behave the same.
Without --image a plain four-panel image is generated (colours only, no lettering): give the
city's designed 2500×843 PNG or JPEG with the four labels for production.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from linebot.v3.messaging import (
    ApiException,
    MessageAction,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
)

from channels.line import messages as m
from channels.line.client import is_configured, messaging_api, messaging_blob_api, request_timeout

WIDTH, HEIGHT = 2500, 843
COMMANDS = [m.COMMAND_BOOK, m.COMMAND_CHECK, m.COMMAND_CANCEL, m.COMMAND_INQUIRY]
PANEL_COLOURS = [(6, 199, 85), (30, 136, 229), (229, 57, 53), (117, 117, 117)]


def panel_png(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A PNG of four coloured vertical panels, written with zlib only (no imaging library)."""
    panel = width // len(PANEL_COLOURS)
    row = bytearray([0])  # filter type 0 for the scanline
    for x in range(width):
        colour = PANEL_COLOURS[min(x // panel, len(PANEL_COLOURS) - 1)]
        # A white 8px gutter between panels so the areas read as buttons.
        row += bytes((255, 255, 255)) if x % panel < 8 and x >= panel else bytes(colour)
    raw = bytes(row) * height

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def rich_menu_request() -> RichMenuRequest:
    width = WIDTH // len(COMMANDS)
    return RichMenuRequest(
        size=RichMenuSize(width=WIDTH, height=HEIGHT),
        selected=True,
        name="madoguchi-main",
        chatBarText="メニュー",
        areas=[
            RichMenuArea(
                bounds=RichMenuBounds(x=index * width, y=0, width=width, height=HEIGHT),
                action=MessageAction(label=command, text=command),
            )
            for index, command in enumerate(COMMANDS)
        ],
    )


class Command(BaseCommand):
    help = (
        "Create the rich menu (予約する, 予約確認, キャンセル, 問い合わせ) and set it as default."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--image", type=Path, help="2500x843 PNG or JPEG with the labels")

    def handle(self, *args: Any, **options: Any) -> None:
        if not is_configured():
            raise CommandError("Set LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN first.")
        image_path: Path | None = options["image"]
        if image_path is not None:
            image = image_path.read_bytes()
            content_type = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
        else:
            image, content_type = panel_png(), "image/png"
        try:
            with messaging_api() as api:
                created = api.create_rich_menu(
                    rich_menu_request(), _request_timeout=request_timeout()
                )
                menu_id = created.rich_menu_id
                with messaging_blob_api() as blob:
                    blob.set_rich_menu_image(
                        menu_id,
                        image,
                        _headers={"Content-Type": content_type},
                        _request_timeout=request_timeout(),
                    )
                api.set_default_rich_menu(menu_id, _request_timeout=request_timeout())
        except ApiException as exc:
            raise CommandError(f"LINE refused the rich menu: {exc.status} {exc.body}") from exc
        self.stdout.write(f"Rich menu {menu_id} created and set as the default.")
