"""Photo answers (a home test kit held up to the phone's camera): checked, stripped of every
piece of metadata, stored outside the web root, and deleted after the retention period.

A phone's photo carries where and when it was taken (EXIF GPS), the phone's model and often
the owner's name; none of that is ours to keep. So the pixels alone are kept: the picture is
decoded (a file that is not really a JPEG, PNG or HEIC is refused), turned upright by its EXIF
orientation, copied into a fresh image without any metadata, and encoded again (JPEG, or PNG
for a PNG). The file gets a random name under FOLLOWUP_PHOTO_ROOT, readable by this user only;
the FollowUpPhoto row is what the answer and the doctor's review refer to.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from channels.followup.models import FollowUp, FollowUpPhoto, Question
from channels.followup.selectors import RawValue, answer_check, questionnaire_questions
from channels.followup.services import (
    AnswerInvalid,
    AnswerRecorded,
    FollowUpError,
    followup_answer_record,
)

# HEIC is what iPhones take by default; Pillow reads it through pillow-heif's opener.
register_heif_opener()

# What Pillow calls the formats we take (MPO is a JPEG with a second, preview frame, as many
# phones write them).
_ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "HEIF"})
# A test kit needs a few megapixels; a larger picture is scaled down (a 48-megapixel photo
# would cost memory to decode and storage to keep for no reading the doctor needs).
MAX_SIDE_PIXELS = 4000
# Refused before decoding: a small file that unpacks to a huge image (a "decompression bomb").
MAX_PIXELS = 60_000_000
JPEG_QUALITY = 85
_STORED_NAME = re.compile(r"[A-Za-z0-9_-]{20,60}\.(?:jpg|png)")


class PhotoRefused(FollowUpError):
    """The upload is not a photo we take (too large, not a JPEG/PNG/HEIC, unreadable)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="photo_refused")


class PhotoGone(FollowUpError):
    """The photo's file was deleted after the retention period."""

    def __init__(self) -> None:
        super().__init__(_("この写真は保存期間を過ぎたため削除しました。"), code="photo_deleted")


@dataclass(frozen=True)
class CleanPhoto:
    """A photo decoded and encoded again without metadata, ready to be written."""

    data: bytes
    content_type: str
    extension: str


def _too_large() -> PhotoRefused:
    megabytes = settings.FOLLOWUP_PHOTO_MAX_BYTES / (1024 * 1024)
    return PhotoRefused(
        _("写真が大きすぎます。%(max)sMB以下の写真を選んでください。")
        % {"max": f"{megabytes:.0f}" if megabytes >= 1 else f"{megabytes:.1f}"}
    )


def _not_a_photo() -> PhotoRefused:
    return PhotoRefused(
        _("写真として読み取れませんでした。JPEG・PNG・HEICの写真を選んでください。")
    )


def photo_clean(upload: UploadedFile) -> CleanPhoto:
    """Check an uploaded file and re-encode its pixels without any metadata, or PhotoRefused.

    Nothing is written: the answer's other questions are checked before anything is stored."""
    size = upload.size or 0
    if size > settings.FOLLOWUP_PHOTO_MAX_BYTES:
        raise _too_large()
    if size == 0:
        raise _not_a_photo()
    upload.seek(0)
    raw = upload.read(settings.FOLLOWUP_PHOTO_MAX_BYTES + 1)
    if len(raw) > settings.FOLLOWUP_PHOTO_MAX_BYTES:
        raise _too_large()  # the size the client declared was not the size it sent
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse at our limit.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as opened:
                source_format = opened.format or ""
                if source_format not in _ACCEPTED_FORMATS:
                    raise _not_a_photo()
                if opened.width * opened.height > MAX_PIXELS:
                    raise _not_a_photo()
                opened.load()
                upright = ImageOps.exif_transpose(opened)
    except PhotoRefused:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        ValueError,
        SyntaxError,  # what some of Pillow's decoders raise on a broken file
    ) as exc:
        raise _not_a_photo() from exc
    return _encode(upright, keep_png=source_format == "PNG")


def _encode(image: Image.Image, *, keep_png: bool) -> CleanPhoto:
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if keep_png:
        mode = "RGBA" if has_alpha else ("L" if image.mode in ("1", "L") else "RGB")
    else:
        mode = "L" if image.mode in ("1", "L") else "RGB"
        if has_alpha:
            # JPEG has no transparency: a see-through part becomes white, not black.
            rgba = image.convert("RGBA")
            image = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image.alpha_composite(rgba)
    converted = image.convert(mode)
    if max(converted.size) > MAX_SIDE_PIXELS:
        converted.thumbnail((MAX_SIDE_PIXELS, MAX_SIDE_PIXELS), Image.Resampling.LANCZOS)
    # A fresh image made from the pixels alone: no EXIF, GPS, XMP, ICC profile or text chunk
    # of the original can ride along (Pillow copies an image's `info` with it, and its PNG
    # writer reads the ICC profile from there).
    bare = Image.frombytes(converted.mode, converted.size, converted.tobytes())
    out = io.BytesIO()
    if keep_png:
        bare.save(out, format="PNG", optimize=True)
        return CleanPhoto(data=out.getvalue(), content_type="image/png", extension="png")
    bare.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return CleanPhoto(data=out.getvalue(), content_type="image/jpeg", extension="jpg")


def _photo_root() -> Path:
    root = Path(settings.FOLLOWUP_PHOTO_ROOT)
    if not root.is_dir():
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir's mode passes through the umask; the photos' folder is this user's alone.
        root.chmod(0o700)
    return root


def _write_private(path: Path, data: bytes) -> None:
    # O_EXCL: a random name that exists already is never overwritten; 0600 whatever the umask.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        if fd != -1:
            os.close(fd)


def _store_clean(
    *,
    followup: FollowUp,
    for_date: dt.date,
    question_key: str,
    clean: CleanPhoto,
    now: dt.datetime,
) -> FollowUpPhoto:
    path = _photo_root() / f"{secrets.token_urlsafe(24)}.{clean.extension}"
    _write_private(path, clean.data)
    try:
        with transaction.atomic():
            return FollowUpPhoto.objects.create(
                followup=followup,
                for_date=for_date,
                question_key=question_key,
                stored_name=path.name,
                content_type=clean.content_type,
                size_bytes=len(clean.data),
                uploaded_at=now,
            )
    except BaseException:
        # No row, no file: a photo nobody can find is a photo nobody deletes.
        path.unlink(missing_ok=True)
        raise


def photo_store(
    *,
    followup: FollowUp,
    for_date: dt.date,
    question_key: str,
    upload: UploadedFile,
    now: dt.datetime,
) -> FollowUpPhoto:
    """Check `upload`, keep its pixels only (see the module's docstring) under a random name
    and record it as a photo awaiting the doctor's review. PhotoRefused with a Japanese message
    for a file too large or not a JPEG/PNG/HEIC photo."""
    clean = photo_clean(upload)
    return _store_clean(
        followup=followup, for_date=for_date, question_key=question_key, clean=clean, now=now
    )


def photo_path(photo: FollowUpPhoto) -> Path:
    """Where the photo's file is (for the doctor's review view, which serves it). PhotoGone
    once it was deleted."""
    if photo.deleted_at is not None or not photo.stored_name:
        raise PhotoGone()
    if not _STORED_NAME.fullmatch(photo.stored_name):
        # Only photo_store names files; anything else in the column never leaves the folder.
        raise PhotoGone()
    return Path(settings.FOLLOWUP_PHOTO_ROOT) / photo.stored_name


def photos_delete_expired(*, now: dt.datetime) -> int:
    """Delete the files of photos uploaded more than FOLLOWUP_PHOTO_RETENTION_DAYS before
    `now`; their rows stay (with the review's outcome), marked deleted. Returns how many."""
    cutoff = now - dt.timedelta(days=settings.FOLLOWUP_PHOTO_RETENTION_DAYS)
    expired = FollowUpPhoto.objects.filter(uploaded_at__lt=cutoff, deleted_at__isnull=True)
    root = Path(settings.FOLLOWUP_PHOTO_ROOT)
    deleted = 0
    for photo in expired.only("id", "stored_name").iterator():
        with transaction.atomic():
            # The row first, the file once the row says so: a crash in between leaves a file
            # without a row pointing at it, never a row pointing at nothing it claims to have.
            updated = FollowUpPhoto.objects.filter(pk=photo.pk, deleted_at__isnull=True).update(
                deleted_at=now, stored_name=""
            )
            if updated and _STORED_NAME.fullmatch(photo.stored_name):
                transaction.on_commit(partial((root / photo.stored_name).unlink, missing_ok=True))
        deleted += updated
    return deleted


def photos_purge(*, now: dt.datetime, dry_run: bool = False) -> int:
    """photos_delete_expired as the retention purge calls it (registered in apps.py)."""
    if dry_run:
        cutoff = now - dt.timedelta(days=settings.FOLLOWUP_PHOTO_RETENTION_DAYS)
        return FollowUpPhoto.objects.filter(uploaded_at__lt=cutoff, deleted_at__isnull=True).count()
    return photos_delete_expired(now=now)


# ---------------------------------------------------------------------------
# An answer with photos
# ---------------------------------------------------------------------------

# What a photo question's raw value is while its upload is being checked: answer_check only
# needs to see that the question was answered.
_PHOTO_PENDING = "photo"


def answer_record_with_photos(
    followup: FollowUp,
    for_date: dt.date,
    raw_values: Mapping[str, RawValue],
    uploads: Mapping[str, UploadedFile],
    *,
    now: dt.datetime,
    by_proxy: bool = False,
) -> AnswerRecorded:
    """services.followup_answer_record for an answer page's form: the photos uploaded for
    photo questions (`uploads`, by question key) are checked with the other answers first, so a
    mistake anywhere stores nothing; then stored, and the answer records each photo's id as
    that question's value. AnswerInvalid carries the photos' refusals by question key too.

    One transaction: if the answer is refused after the photos were stored (the follow-up
    ended meanwhile), their rows roll back and their files are removed."""
    photo_keys = {
        question.key
        for question in questionnaire_questions(followup.questionnaire)
        if question.kind == Question.Kind.PHOTO
    }
    errors: dict[str, str] = {}
    cleaned: dict[str, CleanPhoto] = {}
    for key, upload in uploads.items():
        if key not in photo_keys:
            errors[key] = _("この質問票にない質問です。")
            continue
        try:
            cleaned[key] = photo_clean(upload)
        except PhotoRefused as refused:
            errors[key] = refused.message
    values: dict[str, RawValue] = dict(raw_values)
    values.update({key: _PHOTO_PENDING for key in cleaned})
    check = answer_check(questionnaire_questions(followup.questionnaire), values)
    errors = {**check.errors, **errors}
    if errors:
        raise AnswerInvalid(errors)

    written: list[Path] = []
    try:
        with transaction.atomic():
            for key, clean in cleaned.items():
                photo = _store_clean(
                    followup=followup,
                    for_date=for_date,
                    question_key=key,
                    clean=clean,
                    now=now,
                )
                written.append(photo_path(photo))
                values[key] = str(photo.pk)
            return followup_answer_record(followup, for_date, values, now=now, by_proxy=by_proxy)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        raise
