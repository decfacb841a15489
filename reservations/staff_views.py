"""The staff bar's municipality switch, for staff who work for several municipalities (a
call-centre contractor's operators): which one the console, dashboard and audit trail act for.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from reservations.models import Municipality
from reservations.staff_areas import staff_home_url
from reservations.staff_scope import ACTING_MUNICIPALITY_SESSION_KEY, staff_scope


class ActingMunicipalityForm(forms.Form):
    municipality = forms.ModelChoiceField(
        queryset=Municipality.objects.none(),
        to_field_name="code",
        label=gettext_lazy("担当自治体"),
        error_messages={"invalid_choice": gettext_lazy("担当していない自治体です。")},
    )

    def __init__(self, *args: object, user: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["municipality"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = staff_scope(user).municipalities()


@login_required
@require_POST
def acting_municipality_set(request: HttpRequest) -> HttpResponse:
    form = ActingMunicipalityForm(request.POST, user=request.user)
    if form.is_valid():
        chosen = form.cleaned_data["municipality"]
        request.session[ACTING_MUNICIPALITY_SESSION_KEY] = chosen.pk
        messages.success(request, _("%(name)sの業務に切り替えました。") % {"name": chosen})
    else:
        messages.error(request, " ".join(str(error) for error in form.errors["municipality"]))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = staff_home_url(request.user)
    return redirect(back)
