"""Building LINE messages: quick replies, Flex bubbles and carousels, within LINE's limits.

Limits (Messaging API reference): 13 quick-reply items, 20 characters per quick-reply label,
12 bubbles per carousel, 300 characters of postback data. Postback data is only ever a hint
of what was tapped: the conversation checks every id it carries against the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from linebot.v3.messaging import (
    Action,
    DatetimePickerAction,
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexCarousel,
    FlexComponent,
    FlexMessage,
    FlexSeparator,
    FlexText,
    Message,
    MessageAction,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
)

from reservations.identifiers import format_reservation_code
from reservations.models import Reservation, Slot
from reservations.selectors import reservation_series

MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_LABEL = 20
MAX_BUBBLES = 12
MAX_POSTBACK_DATA = 300

# The rich menu and the quick-reply menu send these texts; typing them works the same.
COMMAND_BOOK = "予約する"
COMMAND_CHECK = "予約確認"
COMMAND_CANCEL = "キャンセル"
COMMAND_INQUIRY = "問い合わせ"
COMMAND_ADD_PERSON = "家族を追加"
COMMAND_STOP = "やめる"


def postback(label: str, **fields: str | int) -> PostbackAction:
    data = urlencode({key: str(value) for key, value in fields.items()})
    if len(data) > MAX_POSTBACK_DATA:
        raise ValueError("postback data too long")
    return PostbackAction(label=label[:MAX_QUICK_REPLY_LABEL], data=data, display_text=label)


def quick_reply(actions: Sequence[Action]) -> QuickReply:
    if len(actions) > MAX_QUICK_REPLIES:
        raise ValueError(f"at most {MAX_QUICK_REPLIES} quick replies, not {len(actions)}")
    return QuickReply(items=[QuickReplyItem(action=action) for action in actions])


def menu_actions() -> list[Action]:
    return [
        MessageAction(label=_("予約する"), text=COMMAND_BOOK),
        MessageAction(label=_("予約確認"), text=COMMAND_CHECK),
        MessageAction(label=_("キャンセル"), text=COMMAND_CANCEL),
        MessageAction(label=_("問い合わせ"), text=COMMAND_INQUIRY),
    ]


def text(body: str, *, actions: Sequence[Action] | None = None) -> TextMessage:
    return TextMessage(text=body, quick_reply=quick_reply(actions) if actions else None)


def with_menu(body: str) -> TextMessage:
    return text(body, actions=menu_actions())


WEEKDAYS = (
    gettext_noop("月"),
    gettext_noop("火"),
    gettext_noop("水"),
    gettext_noop("木"),
    gettext_noop("金"),
    gettext_noop("土"),
    gettext_noop("日"),
)


def format_day(day: dt.date) -> str:
    return _("%(month)d月%(day)d日(%(weekday)s)") % {
        "month": day.month,
        "day": day.day,
        "weekday": _(WEEKDAYS[day.weekday()]),
    }


def format_slot(slot: Slot) -> str:
    start = timezone.localtime(slot.starts_at)
    end = timezone.localtime(slot.ends_at)
    return f"{format_day(start.date())} {start:%H:%M}〜{end:%H:%M}"


def site_label(slot: Slot) -> str:
    site = slot.operating_day.site
    return site.short_name or site.name


def _line(label: str, value: str) -> FlexBox:
    return FlexBox(
        layout="baseline",
        spacing="sm",
        contents=[
            FlexText(text=label, size="sm", color="#666666", flex=2),
            FlexText(text=value, size="sm", wrap=True, flex=5),
        ],
    )


def _bubble(title: str, rows: list[FlexComponent], buttons: list[FlexButton]) -> FlexBubble:
    body: list[FlexComponent] = [FlexText(text=title, weight="bold", size="md", wrap=True)]
    if rows:
        body.append(FlexSeparator(margin="md"))
        body.append(FlexBox(layout="vertical", margin="md", spacing="sm", contents=rows))
    return FlexBubble(
        body=FlexBox(layout="vertical", contents=body),
        footer=FlexBox(layout="vertical", spacing="sm", contents=buttons) if buttons else None,
    )


def slot_carousels(
    slots: Sequence[tuple[Slot, int, str]], *, action: str, **fields: str | int
) -> list[Message]:
    """One bubble per time (slot, seats left, ○△ mark), 12 per carousel."""
    messages: list[Message] = []
    for start in range(0, len(slots), MAX_BUBBLES):
        bubbles = []
        for slot, seats_left, mark in slots[start : start + MAX_BUBBLES]:
            local = timezone.localtime(slot.starts_at)
            bubbles.append(
                _bubble(
                    f"{local:%H:%M}〜 {mark}",
                    [
                        _line(_("会場"), site_label(slot)),
                        _line(_("日付"), format_day(local.date())),
                        _line(_("空き"), _("残り%(n)d席") % {"n": seats_left}),
                    ],
                    [
                        FlexButton(
                            style="primary",
                            height="sm",
                            action=postback(_("この時間にする"), a=action, t=slot.pk, **fields),
                        )
                    ],
                )
            )
        messages.append(
            FlexMessage(alt_text=_("予約できる時間の一覧"), contents=FlexCarousel(contents=bubbles))
        )
    return messages


def reservation_rows(reservation: Reservation) -> list[FlexComponent]:
    rows: list[FlexComponent] = [
        _line(_("予約番号"), format_reservation_code(reservation.code)),
        _line(_("お名前"), reservation.resident.name),
    ]
    for member in reservation_series(reservation):
        rows.append(
            _line(
                _("%(n)d回目") % {"n": member.dose_number},
                f"{format_slot(member.slot)}\n{site_label(member.slot)}",
            )
        )
    return rows


def reservation_bubble(
    reservation: Reservation, *, title: str, buttons: list[FlexButton]
) -> FlexBubble:
    return _bubble(title, reservation_rows(reservation), buttons)


def flex(alt_text: str, bubbles: list[FlexBubble]) -> list[Message]:
    messages: list[Message] = []
    for start in range(0, len(bubbles), MAX_BUBBLES):
        chunk = bubbles[start : start + MAX_BUBBLES]
        contents = chunk[0] if len(chunk) == 1 else FlexCarousel(contents=chunk)
        messages.append(FlexMessage(alt_text=alt_text, contents=contents))
    return messages


def button(label: str, *, primary: bool = False, **fields: str | int) -> FlexButton:
    return FlexButton(
        style="primary" if primary else "secondary",
        height="sm",
        action=postback(label, **fields),
    )


def date_picker(
    label: str, *, initial: dt.date, first: dt.date, last: dt.date, **fields: str | int
) -> DatetimePickerAction:
    return DatetimePickerAction(
        label=label,
        data=urlencode({key: str(value) for key, value in fields.items()}),
        mode="date",
        initial=initial.isoformat(),
        min=first.isoformat(),
        max=last.isoformat(),
    )


def sorry_text() -> str:
    return _("申し訳ありません。処理中に問題が起きました。もう一度お試しください。")
