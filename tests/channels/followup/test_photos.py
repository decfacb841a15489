"""Photo answers: what a phone uploads is kept as pixels only (no EXIF, GPS, XMP, ICC, text),
upright, in a private file with a random name; anything too large or not a JPEG/PNG/HEIC
photo is refused with a sentence; files are deleted after the retention period; and a photo
never outlives an answer that was refused."""

from __future__ import annotations

import datetime as dt
import io
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image, PngImagePlugin
from pillow_heif import register_heif_opener

from channels.followup.models import (
    FollowedPerson,
    FollowUp,
    FollowUpAnswer,
    FollowUpPhoto,
    Question,
    Questionnaire,
)
from channels.followup.photos import (
    PhotoGone,
    PhotoRefused,
    answer_record_with_photos,
    photo_path,
    photo_store,
    photos_delete_expired,
)
from channels.followup.services import FollowUpError, followup_start
from tests.world import World, jst

pytestmark = pytest.mark.django_db

register_heif_opener()

DAY1 = dt.date(2026, 11, 2)
NOW = jst(2026, 11, 2, 10)
GPS_IFD = 0x8825
ORIENTATION = 0x0112
# A point in 日南市: what must never reach our disk.
GPS = {1: "N", 2: (31.0, 36.0, 0.0), 3: "E", 4: (131.0, 22.0, 0.0)}


@pytest.fixture
def photo_root(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    settings.FOLLOWUP_PHOTO_ROOT = root
    return root


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def kit_questionnaire() -> Questionnaire:
    questionnaire = Questionnaire.objects.create(
        code="test-kit", title="検査キット", title_en="Test kit", published_at=NOW
    )
    Question.objects.create(
        questionnaire=questionnaire,
        order=1,
        key="temperature",
        kind="number",
        label="体温",
        unit="℃",
        min_value=34,
        max_value=42,
        decimal_places=1,
    )
    Question.objects.create(
        questionnaire=questionnaire,
        order=2,
        key="kit",
        kind="photo",
        label="検査キットの写真",
        label_en="Photo of the test kit",
    )
    return questionnaire


def kit_followup(world: World) -> tuple[FollowUp, str]:
    person = FollowedPerson.objects.create(
        municipality=world.municipality,
        name="日南 花子",
        phone="+819012345678",
        birth_date=dt.date(1960, 5, 1),
    )
    started = followup_start(
        person=person,
        questionnaire=kit_questionnaire(),
        start_date=DAY1,
        days=3,
        now=jst(2026, 11, 1, 9),
    )
    return started.followup, started.token


def jpeg_with_gps(size: tuple[int, int] = (40, 20), orientation: int = 6) -> bytes:
    """A phone's photo: GPS position, camera model, an orientation tag and an XMP packet."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))  # left half blue
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Phone 15"
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update(GPS)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, xmp=b"<x:xmpmeta>Hanako's phone</x:xmpmeta>")
    return out.getvalue()


def upload(data: bytes, name: str = "IMG_0001.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored_files(root: Path) -> list[Path]:
    return sorted(root.iterdir()) if root.exists() else []


def test_the_uploaded_photo_is_stored_without_any_metadata(
    world: World, photo_root: Path, clock: Any
) -> None:
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as check:  # the test photo does carry it all
        assert check.getexif().get_ifd(GPS_IFD)[2] == (31.0, 36.0, 0.0)

    followup, token = kit_followup(world)
    response = Client().post(f"/f/{token}/", {"q_temperature": "36.6", "q_kit": upload(original)})
    assert response.status_code == 302, response.content.decode()[:2000]

    photo = FollowUpPhoto.objects.get()
    answer = FollowUpAnswer.objects.get(followup=followup)
    assert answer.values == {"temperature": "36.6", "kit": str(photo.pk)}
    assert (photo.followup, photo.for_date, photo.question_key) == (followup, DAY1, "kit")
    assert (photo.status, photo.content_type, photo.uploaded_at) == ("pending", "image/jpeg", NOW)

    path = photo_path(photo)
    assert stored_files(photo_root) == [path]
    assert "IMG_0001" not in path.name and len(path.stem) >= 30
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(photo_root.stat().st_mode) == 0o700
    data = path.read_bytes()
    assert photo.size_bytes == len(data)
    for trace in (b"Exif", b"PhoneMaker", b"Phone 15", b"xmpmeta", b"Hanako", b"ICC_PROFILE"):
        assert trace not in data
    with Image.open(path) as stored:
        assert stored.format == "JPEG"
        assert dict(stored.getexif()) == {}
        assert "exif" not in stored.info and "xmp" not in stored.info
        assert "icc_profile" not in stored.info
        # Turned upright by its orientation tag (6: rotate 90° clockwise) before the tag went.
        assert stored.size == (20, 40)
        top = stored.convert("RGB").getpixel((10, 5))
        assert top[2] > 150 and top[0] < 100  # the blue half is now on top

    received = Client().get(f"/f/{token}/").content.decode()
    assert "写真を送りました" in received


def test_a_png_stays_a_png_without_its_text_and_colour_profile(
    world: World, photo_root: Path
) -> None:
    followup, _token = kit_followup(world)
    image = Image.new("RGBA", (12, 8), (10, 200, 10, 128))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "日南 花子")
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info, icc_profile=b"\0" * 128)
    photo = photo_store(
        followup=followup,
        for_date=DAY1,
        question_key="kit",
        upload=upload(out.getvalue(), "screen.png", "image/png"),
        now=NOW,
    )
    assert photo.content_type == "image/png" and photo_path(photo).suffix == ".png"
    with Image.open(photo_path(photo)) as stored:
        assert stored.format == "PNG" and stored.mode == "RGBA" and stored.size == (12, 8)
        assert "Author" not in stored.info and "icc_profile" not in stored.info


def test_a_heic_photo_is_kept_as_a_jpeg(world: World, photo_root: Path) -> None:
    followup, _token = kit_followup(world)
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 60, 200)).save(out, format="HEIF")
    photo = photo_store(
        followup=followup,
        for_date=DAY1,
        question_key="kit",
        upload=upload(out.getvalue(), "IMG_0002.HEIC", "image/heic"),
        now=NOW,
    )
    assert photo.content_type == "image/jpeg"
    with Image.open(photo_path(photo)) as stored:
        assert stored.format == "JPEG" and stored.size == (32, 24)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"%PDF-1.4 not a picture at all", "kit.jpg", "写真として読み取れませんでした"),
        (b"", "empty.jpg", "写真として読み取れませんでした"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 200, "broken.jpg", "写真として読み取れませんでした"),
        ("gif", "kit.gif", "JPEG・PNG・HEICの写真を選んでください"),
        ("big", "big.jpg", "写真が大きすぎます。"),
    ],
    ids=["not-an-image", "empty", "broken-jpeg", "gif", "too-big"],
)
def test_what_is_not_a_photo_we_take_is_refused_next_to_its_question(
    world: World, photo_root: Path, clock: Any, settings: Any, data: Any, name: str, message: str
) -> None:
    settings.FOLLOWUP_PHOTO_MAX_BYTES = 2048
    if data == "gif":
        out = io.BytesIO()
        Image.new("RGB", (8, 8)).save(out, format="GIF")
        data = out.getvalue()
    elif data == "big":
        data = jpeg_with_gps()
        data += b"\0" * (2049 - len(data))  # a valid JPEG with trailing bytes, over the limit
    followup, token = kit_followup(world)
    response = Client().post(f"/f/{token}/", {"q_temperature": "36.6", "q_kit": upload(data, name)})
    assert response.status_code == 200
    body = response.content.decode()
    assert '<p class="error" id="q2-error">' in body and message in body
    assert 'value="36.6"' in body  # the rest of the form is kept
    assert not FollowUpPhoto.objects.exists() and not FollowUpAnswer.objects.exists()
    assert stored_files(photo_root) == []


def test_the_size_limit_is_said_in_megabytes(world: World, photo_root: Path, settings: Any) -> None:
    settings.FOLLOWUP_PHOTO_MAX_BYTES = 10 * 1024 * 1024
    followup, _token = kit_followup(world)
    with pytest.raises(PhotoRefused, match="10MB以下"):
        photo_store(
            followup=followup,
            for_date=DAY1,
            question_key="kit",
            upload=upload(b"\xff" * (10 * 1024 * 1024 + 1)),
            now=NOW,
        )


def test_a_required_photo_left_out_is_asked_for_and_a_correction_keeps_it(
    world: World, photo_root: Path, clock: Any
) -> None:
    followup, token = kit_followup(world)
    client = Client()
    missing = client.post(f"/f/{token}/", {"q_temperature": "36.6"}).content.decode()
    assert '<p class="error" id="q2-error">回答してください。' in missing

    assert (
        client.post(
            f"/f/{token}/", {"q_temperature": "36.6", "q_kit": upload(jpeg_with_gps())}
        ).status_code
        == 302
    )
    first = FollowUpPhoto.objects.get()
    correcting = client.get(f"/f/{token}/?correct=1").content.decode()
    assert "写真は送信済みです" in correcting

    # Corrected without choosing the photo again: the photo sent stays the answer.
    assert client.post(f"/f/{token}/", {"q_temperature": "37.2"}).status_code == 302
    answer = FollowUpAnswer.objects.get(followup=followup)
    assert answer.values == {"temperature": "37.2", "kit": str(first.pk)}
    # With a new photo, the new one is the answer (the first stays for the doctor's history).
    assert (
        client.post(
            f"/f/{token}/", {"q_temperature": "37.2", "q_kit": upload(jpeg_with_gps())}
        ).status_code
        == 302
    )
    second = FollowUpPhoto.objects.exclude(pk=first.pk).get()
    answer.refresh_from_db()
    assert answer.values["kit"] == str(second.pk)
    assert [old["values"]["kit"] for old in answer.history] == [str(first.pk), str(first.pk)]


def test_a_refused_answer_leaves_no_photo_behind(world: World, photo_root: Path) -> None:
    followup, _token = kit_followup(world)
    not_a_day = DAY1 + dt.timedelta(days=10)
    with pytest.raises(FollowUpError, match="観察日ではありません"):
        answer_record_with_photos(
            followup,
            not_a_day,
            {"temperature": "36.6"},
            {"kit": upload(jpeg_with_gps())},
            now=jst(2026, 11, 12, 10),
        )
    assert not FollowUpPhoto.objects.exists()
    assert stored_files(photo_root) == []


def test_a_photo_whose_row_fails_leaves_no_file(world: World, photo_root: Path) -> None:
    followup, _token = kit_followup(world)
    with pytest.raises(Exception):  # noqa: B017 (the database's own integrity error)
        photo_store(
            followup=followup,
            for_date=None,  # type: ignore[arg-type]
            question_key="kit",
            upload=upload(jpeg_with_gps()),
            now=NOW,
        )
    assert stored_files(photo_root) == []


def test_photos_past_the_retention_period_are_deleted(
    world: World, photo_root: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.FOLLOWUP_PHOTO_RETENTION_DAYS = 30
    followup, _token = kit_followup(world)

    def stored_at(moment: dt.datetime) -> FollowUpPhoto:
        return photo_store(
            followup=followup,
            for_date=DAY1,
            question_key="kit",
            upload=upload(jpeg_with_gps()),
            now=moment,
        )

    old = stored_at(jst(2026, 10, 1, 10))
    recent = stored_at(jst(2026, 10, 20, 10))
    old_path, recent_path = photo_path(old), photo_path(recent)
    now = jst(2026, 11, 2, 10)
    with django_capture_on_commit_callbacks(execute=True):
        assert photos_delete_expired(now=now) == 1
    old.refresh_from_db()
    assert (old.deleted_at, old.stored_name) == (now, "")
    assert not old_path.exists() and recent_path.exists()
    with pytest.raises(PhotoGone):
        photo_path(old)
    recent.refresh_from_db()
    assert recent.deleted_at is None
    with django_capture_on_commit_callbacks(execute=True):
        assert photos_delete_expired(now=now) == 0


def test_the_retention_purge_runs_the_photo_deletion(
    world: World, photo_root: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from reservations.retention import purge_expired_data

    followup, _token = kit_followup(world)
    photo = photo_store(
        followup=followup,
        for_date=DAY1,
        question_key="kit",
        upload=upload(jpeg_with_gps()),
        now=jst(2026, 11, 2, 10),
    )
    path = photo_path(photo)
    later = jst(2026, 11, 2, 10) + dt.timedelta(
        days=settings.FOLLOWUP_PHOTO_RETENTION_DAYS, hours=1
    )
    assert purge_expired_data(now=later, dry_run=True)["followup.photos"] == 1
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_expired_data(now=later)["followup.photos"] == 1
    assert not path.exists()


def test_an_ended_follow_up_purged_takes_its_photo_files(
    world: World, photo_root: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from channels.followup.services import followup_end
    from reservations.retention import purge_expired_data

    followup, _token = kit_followup(world)
    photo = photo_store(
        followup=followup,
        for_date=DAY1,
        question_key="kit",
        upload=upload(jpeg_with_gps()),
        now=jst(2026, 11, 2, 10),
    )
    path = photo_path(photo)
    followup_end(followup, "staff", now=jst(2026, 11, 2, 11))
    later = jst(2026, 11, 2, 12) + dt.timedelta(days=settings.RETENTION_FOLLOWUP_DAYS)
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_expired_data(now=later)["followup.ended_followups"] == 1
    assert not path.exists() and not FollowUpPhoto.objects.exists()


def test_a_photo_answer_must_be_a_photo_of_this_follow_up(world: World, photo_root: Path) -> None:
    """Another caller than the page (a forged form, the API) cannot name any photo."""
    from channels.followup.services import AnswerInvalid, followup_answer_record

    followup, _token = kit_followup(world)
    other = followup_start(
        person=followup.person,
        questionnaire=followup.questionnaire,
        start_date=DAY1,
        days=1,
        now=jst(2026, 11, 1, 9),
    ).followup
    theirs = photo_store(
        followup=other,
        for_date=DAY1,
        question_key="kit",
        upload=upload(jpeg_with_gps()),
        now=jst(2026, 11, 2, 10),
    )
    for value in (str(theirs.pk), "../../etc/passwd", "999999"):
        with pytest.raises(AnswerInvalid) as refused:
            followup_answer_record(
                followup, DAY1, {"temperature": "36.5", "kit": value}, now=jst(2026, 11, 2, 10)
            )
        assert refused.value.errors == {"kit": "写真をもう一度送ってください。"}
