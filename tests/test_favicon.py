"""/favicon.ico, which every browser asks for: a real icon, public and cached for long."""

from __future__ import annotations

import runpy
import struct
from pathlib import Path

import pytest
from django.test import Client

from config.urls import FAVICON_DIR, FAVICON_MAX_AGE

DRAWING = Path(__file__).resolve().parent.parent / "bin" / "draw-favicon"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.django_db


def icon_images(data: bytes) -> list[tuple[int, int, bytes]]:
    """(width, height, PNG bytes) of every image of an .ico file, checking its directory."""
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind) == (0, 1)  # an icon, not a cursor
    images = []
    for index in range(count):
        width, height, _colours, _zero, planes, bits, size, offset = struct.unpack_from(
            "<BBBBHHII", data, 6 + 16 * index
        )
        assert (planes, bits) == (1, 32)
        image = data[offset : offset + size]
        assert len(image) == size
        images.append((width or 256, height or 256, image))
    return images


def test_it_answers_with_an_icon_browsers_keep(client: Client) -> None:
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] in ("image/vnd.microsoft.icon", "image/x-icon")
    cache = {part.strip() for part in response["Cache-Control"].split(",")}
    assert cache == {"public", f"max-age={FAVICON_MAX_AGE}"}
    assert FAVICON_MAX_AGE >= 7 * 24 * 60 * 60
    # Public and cacheable, so it must carry nothing of the visitor's: no cookie is set.
    assert not response.cookies
    assert response["X-Content-Type-Options"] == "nosniff"
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert body == (FAVICON_DIR / "favicon.ico").read_bytes()


def test_the_icon_holds_sharp_pngs_of_the_usual_sizes() -> None:
    data = (FAVICON_DIR / "favicon.ico").read_bytes()

    images = icon_images(data)

    assert [(w, h) for w, h, _png in images] == [(16, 16), (32, 32), (48, 48)]
    for width, height, image in images:
        assert image.startswith(PNG_SIGNATURE)
        ihdr_width, ihdr_height = struct.unpack_from(">II", image, 16)
        assert (ihdr_width, ihdr_height) == (width, height)


def test_the_committed_icon_is_what_the_drawing_script_draws() -> None:
    drawing = runpy.run_path(str(DRAWING))

    assert drawing["ico"]() == (FAVICON_DIR / "favicon.ico").read_bytes()


def test_it_answers_a_head_request_and_refuses_a_post(client: Client) -> None:
    assert client.head("/favicon.ico").status_code == 200
    assert client.post("/favicon.ico").status_code == 405


def test_an_unchanged_icon_is_not_sent_again(client: Client) -> None:
    first = client.get("/favicon.ico")

    again = client.get("/favicon.ico", headers={"if-modified-since": first["Last-Modified"]})

    assert again.status_code == 304
