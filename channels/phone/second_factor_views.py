"""The second factor's two pages after the password step (channels/phone/second_factor.py):
the code page, and the enrolment page for a user without a confirmed device."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from channels.phone import second_factor
from reservations.staff_areas import staff_home_url

# Well below what a redirect may carry (Django refuses more than 16384 characters).
MAX_NEXT_LENGTH = 2000


def _destination(request: HttpRequest) -> str:
    """Where the user was going (`next`, if it is a page of this site), else their home."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    # A path of this site only (anything else, or a path too long to redirect to, is ignored).
    if (
        wanted.startswith("/")
        and len(wanted) <= MAX_NEXT_LENGTH
        and url_has_allowed_host_and_scheme(
            wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return wanted
    home = staff_home_url(request.user)
    # As LoginView: without any staff area, the console's own page says what is missing.
    return home if home != "/" else reverse("phone:home")


def _refusal(check: second_factor.CodeCheck) -> str:
    if check.wait_seconds is not None:
        return _(
            "確認コードの入力に続けて失敗したため、%(seconds)d秒後まで受け付けません。"
            "時間をおいて、認証アプリの新しいコードを入力してください。"
        ) % {"seconds": check.wait_seconds}
    return _("確認コードが正しくありません。認証アプリの最新のコードを入力してください。")


@login_required
@require_http_methods(["GET", "POST"])
def code(request: HttpRequest) -> HttpResponse:
    destination = _destination(request)
    if not second_factor.owes_second_factor(request.user):
        return HttpResponseRedirect(destination)
    device = second_factor.confirmed_device(request.user)
    if device is None:
        return redirect(
            f"{reverse('phone:second_factor_enrol')}?{urlencode({'next': destination})}"
        )
    form = second_factor.CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        check = second_factor.check_code(request, device.pk, form.cleaned_data["code"])
        if check.accepted:
            return HttpResponseRedirect(destination)
        form.add_error("code", _refusal(check))
        status = 429 if check.wait_seconds is not None else 200
    return render(
        request,
        "phone/second_factor_code.html",
        {"form": form, "next": destination},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    destination = _destination(request)
    if not second_factor.owes_second_factor(request.user):
        return HttpResponseRedirect(destination)
    if second_factor.confirmed_device(request.user) is not None:
        # A confirmed device is changed only by an administrator resetting it, never here:
        # otherwise a stolen password would be enough to enrol a thief's phone.
        return redirect(f"{reverse('phone:second_factor')}?{urlencode({'next': destination})}")
    device = second_factor.enrolment_device(request.user)
    form = second_factor.CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        check = second_factor.check_code(request, device.pk, form.cleaned_data["code"])
        if check.accepted:
            return HttpResponseRedirect(destination)
        form.add_error("code", _refusal(check))
        status = 429 if check.wait_seconds is not None else 200
    return render(
        request,
        "phone/second_factor_enrol.html",
        {
            "form": form,
            "next": destination,
            # Made here from the device's own secret, never from anything the request sent.
            "qr_code": mark_safe(second_factor.qr_code_svg(device)),  # noqa: S308
            "secret": second_factor.secret_for_typing(device),
        },
        status=status,
    )
