"""Staff screens: the outbound messages and the operators' phone list, and broadcasts
(create → a second member of staff approves → progress). The services enforce the rules; the
admin only calls them."""

from __future__ import annotations

from functools import partial
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from channels.notify.broadcasts import broadcast_approve, broadcast_create, broadcast_progress
from channels.notify.delivery import call_list_mark_done
from channels.notify.models import Broadcast, OutboundMessage
from channels.notify.tasks import broadcast_send_task
from reservations.admin_scope import MunicipalityScopedAdmin, choices_q
from reservations.exceptions import ReservationError
from reservations.models import OperatingDay


def _staff_user(request: HttpRequest) -> User:
    # The admin only lets signed-in staff in.
    assert isinstance(request.user, User)
    return request.user


@admin.register(OutboundMessage)
class OutboundMessageAdmin(MunicipalityScopedAdmin[OutboundMessage]):
    scope_municipality_field = "resident__municipality"
    list_display = [
        "created_at",
        "channel",
        "purpose",
        "status",
        "call_reason",
        "address",
        "segments",
        "attempts",
    ]
    list_filter = ["channel", "status", "purpose", "call_reason"]
    search_fields = ["address", "reservation__code", "provider_message_id"]
    readonly_fields = [f.name for f in OutboundMessage._meta.fields]
    actions = ["mark_reached", "mark_not_reached"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("電話で連絡できた"))
    def mark_reached(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> None:
        for message in queryset.filter(channel=OutboundMessage.Channel.CALL_LIST):
            call_list_mark_done(message=message, user=_staff_user(request), reached=True)

    @admin.action(description=_("電話がつながらなかった"))
    def mark_not_reached(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> None:
        for message in queryset.filter(channel=OutboundMessage.Channel.CALL_LIST):
            call_list_mark_done(message=message, user=_staff_user(request), reached=False)


class BroadcastAddForm(forms.ModelForm[Broadcast]):
    """A new notice names the day to cancel; the core keeps the day with its cancellation."""

    operating_day = forms.ModelChoiceField(
        label=_("中止する稼働日"),
        queryset=OperatingDay.objects.select_related("site", "vaccine").order_by("date"),
    )

    class Meta:
        model = Broadcast
        fields = ["send_in_quiet_hours"]


# What the change page shows of the notice and of its cancellation (read through).
BROADCAST_FACTS = [
    "operating_day",
    "status",
    "created_by",
    "approved_by",
    "approved_at",
    "cancelled_reservations",
    "progress",
]


@admin.register(Broadcast)
class BroadcastAdmin(MunicipalityScopedAdmin[Broadcast]):
    # A notice belongs to the site whose day it cancels.
    scope_site_field = "cancellation__operating_day__site"
    list_display = ["operating_day", "status", "created_by", "approved_by", "progress"]
    list_select_related = ["cancellation__operating_day__site", "cancellation__requested_by"]
    actions = ["approve", "resume"]

    def get_form(
        self,
        request: HttpRequest,
        obj: Broadcast | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> Any:
        if obj is None:
            kwargs["form"] = self._add_form(request)
        return super().get_form(request, obj, change=change, **kwargs)

    def _add_form(self, request: HttpRequest) -> type[BroadcastAddForm]:
        """The add form offering only the days at the sites in scope (its day field is
        declared on the form, so the admin's own choice limits never reach it)."""
        limit = choices_q(self.admin_site, OperatingDay, request)
        if limit is None:
            return BroadcastAddForm

        class ScopedBroadcastAddForm(BroadcastAddForm):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                field = self.fields["operating_day"]
                field.queryset = field.queryset.filter(limit)  # type: ignore[attr-defined]

        return ScopedBroadcastAddForm

    def get_fields(self, request: HttpRequest, obj: Broadcast | None = None) -> Any:
        if obj is None:
            return ["operating_day", "send_in_quiet_hours"]
        return ["send_in_quiet_hours", *BROADCAST_FACTS]

    def get_readonly_fields(self, request: HttpRequest, obj: Broadcast | None = None) -> Any:
        return [] if obj is None else BROADCAST_FACTS

    @admin.display(description=_("進み具合"))
    def progress(self, obj: Broadcast) -> str:
        if not obj.pk:
            return "-"
        counts = broadcast_progress(broadcast=obj)
        return str(
            _("対象 %(recipients)s 件 / 送信済み %(sent)s 件 / 電話連絡待ち %(to_call)s 件")
            % {
                "recipients": counts["recipients"],
                "sent": counts["sent"],
                "to_call": counts["to_call"],
            }
        )

    def save_model(self, request: HttpRequest, obj: Broadcast, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["send_in_quiet_hours"])
            return
        created = broadcast_create(
            operating_day=form.cleaned_data["operating_day"],
            user=_staff_user(request),
            send_in_quiet_hours=obj.send_in_quiet_hours,
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("承認して中止・送信する"))
    def approve(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        for broadcast in queryset:
            try:
                approved = broadcast_approve(broadcast=broadcast, user=_staff_user(request))
            except ReservationError as error:
                self.message_user(request, f"{broadcast}: {error}", messages.ERROR)
                continue
            transaction.on_commit(partial(broadcast_send_task.delay, approved.pk))
            self.message_user(request, _("承認しました: %s") % approved)

    @admin.action(description=_("送信を再開する（送信済みの人には送りません）"))
    def resume(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        for broadcast in queryset.exclude(status=Broadcast.Status.DRAFT):
            transaction.on_commit(partial(broadcast_send_task.delay, broadcast.pk))
