"""Create the LINE rich menu and make it the default: two rows of three,
予約する / 予約確認 / キャンセル and 問い合わせ / 電話番号・SMS / English.

    manage.py line_rich_menu [--image menu.png] [--municipality 452025]

Without --municipality it is the settings' account (LINE_CHANNEL_SECRET and the token); with
it, that municipality's own official account (LineOfficialAccount). Each account has its own
rich menu, so run it once per account.

Each area sends the same text a resident could type, so the menu and typing behave the same.
The English panel is labelled in English so that a reader of no Japanese finds it; in English
the chat's quick replies offer 日本語 back. Without --image a plain six-panel image is generated
(colours only, no lettering): give the city's designed 2500×1686 PNG or JPEG with the six labels
for production.
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
from channels.line.client import (
    LineCredentials,
    messaging_api,
    messaging_blob_api,
    official_credentials,
    request_timeout,
    settings_account_configured,
    settings_credentials,
)
from channels.line.models import LineOfficialAccount

# LINE's large rich-menu size: two rows of three panels.
WIDTH, HEIGHT = 2500, 1686
COLUMNS, ROWS = 3, 2
COMMANDS = [
    m.COMMAND_BOOK,
    m.COMMAND_CHECK,
    m.COMMAND_CANCEL,
    m.COMMAND_INQUIRY,
    m.COMMAND_CONTACT,
    m.LANGUAGE_BUTTONS["en"],
]
PANEL_COLOURS = [
    (6, 199, 85),
    (30, 136, 229),
    (229, 57, 53),
    (117, 117, 117),
    (251, 140, 0),
    (94, 53, 177),
]


def panel_png(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A PNG of the six coloured panels (three columns, two rows), written with zlib only (no
    imaging library)."""
    panel_width, panel_height = width // COLUMNS, height // ROWS
    white = bytes((255, 255, 255))
    rows = []
    for row_index in range(ROWS):
        row = bytearray([0])  # filter type 0 for the scanline
        for x in range(width):
            column = min(x // panel_width, COLUMNS - 1)
            colour = PANEL_COLOURS[row_index * COLUMNS + column]
            # A white 8px gutter between panels so the areas read as buttons.
            row += white if x % panel_width < 8 and x >= panel_width else bytes(colour)
        gutter = bytes([0]) + white * width
        lines = [gutter if y < 8 and row_index > 0 else bytes(row) for y in range(panel_height)]
        rows.append(b"".join(lines))
    last = height - panel_height * ROWS  # rows left over by the division repeat the last line
    raw = b"".join(rows) + rows[-1][-(width * 3 + 1) :] * last

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
    width, height = WIDTH // COLUMNS, HEIGHT // ROWS
    return RichMenuRequest(
        size=RichMenuSize(width=WIDTH, height=HEIGHT),
        selected=True,
        name="madoguchi-main",
        chatBarText="メニュー",
        areas=[
            RichMenuArea(
                bounds=RichMenuBounds(
                    x=(index % COLUMNS) * width,
                    y=(index // COLUMNS) * height,
                    width=width,
                    height=height,
                ),
                action=MessageAction(label=command, text=command),
            )
            for index, command in enumerate(COMMANDS)
        ],
    )


class Command(BaseCommand):
    help = (
        "Create the rich menu (予約する, 予約確認, キャンセル, 問い合わせ, 電話番号・SMS, "
        "English) and set it as default."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--image", type=Path, help="2500x1686 PNG or JPEG with the six labels")
        parser.add_argument(
            "--municipality",
            help="code of the municipality whose own LINE account gets the menu "
            "(default: the account in settings)",
        )

    def _credentials(self, code: str | None) -> LineCredentials:
        if code is None:
            if not settings_account_configured():
                raise CommandError("Set LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN first.")
            return settings_credentials()
        account = LineOfficialAccount.objects.filter(
            municipality__code=code, is_active=True
        ).first()
        if account is None:
            raise CommandError(f"No active LINE official account for municipality {code}.")
        return official_credentials(account)

    def handle(self, *args: Any, **options: Any) -> None:
        credentials = self._credentials(options["municipality"])
        image_path: Path | None = options["image"]
        if image_path is not None:
            image = image_path.read_bytes()
            content_type = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
        else:
            image, content_type = panel_png(), "image/png"
        try:
            with messaging_api(credentials) as api:
                created = api.create_rich_menu(
                    rich_menu_request(), _request_timeout=request_timeout()
                )
                menu_id = created.rich_menu_id
                with messaging_blob_api(credentials) as blob:
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
