"""The staff sign-in's second factor: a six-digit code from an authenticator app (TOTP).

Who owes one is settings.STAFF_OTP_REQUIRED: "roles" (administrators and exporters, who hold or
take out every resident's vaccination records, known by their export permissions; superusers)
or "all" (every member of staff). After the password step at settings.LOGIN_URL such a user
is sent to the code page; one without a confirmed device is sent to the enrolment page first,
which shows a new secret as a QR code and confirms it with a code from the app. Until a code
is given, SecondFactorMiddleware lets them open no staff page: a stolen password shows nothing.

django-otp keeps the devices (TOTPDevice) and remembers the verified device in the session
(django_otp.login), so signing out ends it and the next sign-in asks again. Wrong codes are
counted on the device by django-otp's own throttling (each failure doubles the wait before the
next try), not by django-axes: a wrong code is not a wrong password, and the password's lock
must not be spent by someone who already knows it. An administrator with the rights resets a
lost phone by deleting the device in the admin; the next sign-in enrols again.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from base64 import b32encode
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

# django-otp and qrcode ship no type information.
import django_otp  # type: ignore[import-untyped]
import qrcode  # type: ignore[import-untyped]
import qrcode.image.svg  # type: ignore[import-untyped]
from django import forms
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice  # type: ignore[import-untyped]

# With STAFF_OTP_REQUIRED "roles": the permissions that make the exporters' role (and the
# administrators', who hold every permission of the booking core, reservations/roles.py),
# taking vaccination records out of the system. Checked as permissions rather than group
# names, so that they also catch someone given them directly, and cost no query of their own
# (every staff page checks a permission, which loads the same cache).
SECOND_FACTOR_PERMISSIONS = ("reservations.export_vrs", "reservations.reconcile_vrs")
# The paths of the staff areas (staff_areas.py) and the admin: an unverified user is stopped here.
STAFF_PATH_PREFIXES = ("/phone/", "/venue/", "/exports/", "/admin/")
DEVICE_NAME = "認証アプリ"


def must_use_second_factor(user: Any) -> bool:
    """Whether this signed-in user gives a code after the password (STAFF_OTP_REQUIRED)."""
    if not getattr(user, "is_authenticated", False) or not user.is_staff:
        return False
    if settings.STAFF_OTP_REQUIRED == "all" or user.is_superuser:
        return True
    return any(user.has_perm(permission) for permission in SECOND_FACTOR_PERMISSIONS)


def owes_second_factor(user: Any) -> bool:
    """Signed in with the password, yet still to give a code. (OTPMiddleware gives the user
    is_verified(); a user without it has not been through that middleware: not verified.)"""
    is_verified = getattr(user, "is_verified", None)
    verified = bool(is_verified()) if callable(is_verified) else False
    return not verified and must_use_second_factor(user)


def code_page_url(destination: str = "") -> str:
    """The code page, leading on to `destination` (a local path) once the code is given."""
    url = reverse("phone:second_factor")
    # A page address too long to come back to is dropped: the user lands on their home.
    if not destination or len(destination) > 2000:
        return url
    return f"{url}?{urlencode({'next': destination})}"


class SecondFactorMiddleware:
    """After OTPMiddleware and StaffIdleTimeoutMiddleware. For a signed-in member of staff
    who owes a second factor, every staff page redirects to the code page; the sign-in, the
    sign-out and the second factor's own pages stay open. Anyone else passes untouched: a
    request outside the staff areas (every resident's) costs nothing here."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if (
            request.path.startswith(STAFF_PATH_PREFIXES)
            and owes_second_factor(request.user)
            and request.path not in _open_paths()
        ):
            # Only a GET is worth coming back to; a form's POST would be lost anyway.
            destination = request.get_full_path() if request.method == "GET" else ""
            return HttpResponseRedirect(code_page_url(destination))
        return self.get_response(request)


def _open_paths() -> frozenset[str]:
    return frozenset(
        reverse(name)
        for name in (
            "phone:login",
            "phone:logout",
            "phone:second_factor",
            "phone:second_factor_enrol",
            "admin:logout",
        )
    )


# --- Devices and codes ----------------------------------------------------------------------


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def enrolment_device(user: Any) -> TOTPDevice:
    """The device being enrolled: the same one on every visit until it is confirmed, so that
    reloading the page does not change the code the app has just scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


@dataclass(frozen=True)
class CodeCheck:
    accepted: bool
    # Set when the device refused to check at all: seconds until the next try is heard.
    wait_seconds: int | None = None


def check_code(request: HttpRequest, device_pk: int, code: str) -> CodeCheck:
    """Check `code` against this user's device (confirming it if it is being enrolled) and,
    if right, mark the session verified. The device row is locked for the check, so two
    requests cannot both spend one code or both slip past the throttle."""
    user = request.user
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(pk=device_pk, user=user).first()
        if device is None:
            # Deleted meanwhile (an administrator reset it): nothing to check against.
            return CodeCheck(accepted=False)
        allowed, refusal = device.verify_is_allowed()
        if not allowed:
            return CodeCheck(accepted=False, wait_seconds=_seconds_until(refusal))
        if not device.verify_token(code):
            return CodeCheck(accepted=False)
        if not device.confirmed:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
    django_otp.login(request, device)
    return CodeCheck(accepted=True)


def _seconds_until(refusal: dict[str, Any] | None) -> int:
    locked_until: dt.datetime | None = (refusal or {}).get("locked_until")
    if locked_until is None:
        return 1
    return max(1, math.ceil((locked_until - timezone.now()).total_seconds()))


def qr_code_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// address as an SVG QR code (dark on white, no inline style, so
    the Content-Security-Policy allows it inline)."""
    image = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=10
    )
    return str(image.to_string(encoding="unicode"))


def secret_for_typing(device: TOTPDevice) -> str:
    """The base32 secret in groups of four, for an app that cannot scan the QR code."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("確認コード（6桁）"),
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "pattern": "[0-9０-９ ]*",
                "autofocus": True,
                "class": "code-input",
                "size": 8,
            }
        ),
    )

    def clean_code(self) -> str:
        # Full-width digits typed with the Japanese input method, and the space some apps
        # show in the middle of the code, are the same code.
        code = unicodedata.normalize("NFKC", self.cleaned_data["code"]).replace(" ", "")
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            raise forms.ValidationError(
                _("認証アプリに表示されている6桁の数字を入力してください。")
            )
        return code
