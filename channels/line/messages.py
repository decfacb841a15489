"""Building LINE messages: quick replies, Flex bubbles and carousels, within LINE's limits.

Limits (Messaging API reference): 13 quick-reply items, 20 characters per quick-reply label,
12 bubbles per carousel, 300 characters of postback data. Postback data is only ever a hint
of what was tapped: the conversation checks every id it carries against the database.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from urllib.parse import urlencode

from django.utils import timezone, translation
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

from channels.line.models import CHAT_LANGUAGES
from reservations.identifiers import format_reservation_code
from reservations.localized import localized, reads_english, time_range
from reservations.models import Reservation, Site, Slot, Vaccine
from reservations.selectors import reservation_series

MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_LABEL = 20
MAX_BUBBLES = 12
MAX_POSTBACK_DATA = 300

# The rich menu and the quick-reply menu send these texts; typing them works the same. Each is
# its own msgid: a button sends the command in the chat's language (an English reader taps
# "Book" and sees "Book" in their chat), and `command_of` knows it in every chat language, so
# the rich menu's Japanese texts keep working whatever language was chosen.
COMMAND_BOOK = gettext_noop("予約する")
COMMAND_CHECK = gettext_noop("予約確認")
COMMAND_CANCEL = gettext_noop("キャンセル")
COMMAND_INQUIRY = gettext_noop("問い合わせ")
COMMAND_ADD_PERSON = gettext_noop("家族を追加")
COMMAND_STOP = gettext_noop("やめる")
COMMAND_CONTACT = gettext_noop("電話番号・SMS")
COMMANDS = (
    COMMAND_BOOK,
    COMMAND_CHECK,
    COMMAND_CANCEL,
    COMMAND_INQUIRY,
    COMMAND_ADD_PERSON,
    COMMAND_STOP,
    COMMAND_CONTACT,
)
# Choosing the chat's language: each is written in the language it switches to, so a reader
# who cannot read the other one still finds it. A few spellings people type are accepted too.
LANGUAGE_COMMANDS = {
    "english": "en",
    "英語": "en",
    "日本語": "ja",
    "japanese": "ja",
    "にほんご": "ja",
}
LANGUAGE_BUTTONS = {"en": "English", "ja": "日本語"}


def command_of(typed: str) -> str | None:
    """The command `typed` is (one of COMMANDS, by its Japanese text), in any chat language:
    full-width letters, spaces around it and letter case do not matter."""
    wanted = unicodedata.normalize("NFKC", typed).strip().casefold()
    for command in COMMANDS:
        if wanted == command.casefold():
            return command
        for language, _name in CHAT_LANGUAGES:
            with translation.override(language):
                if wanted == _(command).casefold():
                    return command
    return None


def language_of(typed: str) -> str | None:
    """The chat language `typed` asks for ("English", "日本語", ...), if it asks for one."""
    return LANGUAGE_COMMANDS.get(unicodedata.normalize("NFKC", typed).strip().casefold())


def command(name: str) -> MessageAction:
    """A quick reply that sends this command, labelled and worded in the chat's language."""
    return MessageAction(label=_(name), text=_(name))


def language_switch() -> MessageAction:
    """The quick reply to the other chat language (English in Japanese, 日本語 in English)."""
    other = "ja" if reads_english() else "en"
    return MessageAction(label=LANGUAGE_BUTTONS[other], text=LANGUAGE_BUTTONS[other])


def postback(label: str, **fields: str | int) -> PostbackAction:
    data = urlencode({key: str(value) for key, value in fields.items()})
    if len(data) > MAX_POSTBACK_DATA:
        raise ValueError("postback data too long")
    return PostbackAction(label=short_label(label), data=data, display_text=label)


def short_label(label: str) -> str:
    """A quick reply's label within LINE's 20 characters, marked "…" where it was cut (the
    whole name is what the chat then shows as the resident's answer)."""
    if len(label) <= MAX_QUICK_REPLY_LABEL:
        return label
    return label[: MAX_QUICK_REPLY_LABEL - 1] + "…"


def quick_reply(actions: Sequence[Action]) -> QuickReply:
    if len(actions) > MAX_QUICK_REPLIES:
        raise ValueError(f"at most {MAX_QUICK_REPLIES} quick replies, not {len(actions)}")
    return QuickReply(items=[QuickReplyItem(action=action) for action in actions])


def menu_actions() -> list[Action]:
    return [
        command(COMMAND_BOOK),
        command(COMMAND_CHECK),
        command(COMMAND_CANCEL),
        command(COMMAND_INQUIRY),
        command(COMMAND_CONTACT),
        language_switch(),
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
    day = timezone.localdate(slot.starts_at)
    return f"{format_day(day)} {time_range(slot.starts_at, slot.ends_at)}"


def site_name(site: Site) -> str:
    """The site's short name for a chat line; in English its English name when it has one."""
    if reads_english() and site.name_en:
        return localized(site)
    return site.short_name or site.name


def site_label(slot: Slot) -> str:
    return site_name(slot.operating_day.site)


def vaccine_name(vaccine: Vaccine) -> str:
    return localized(vaccine)


def labelled_line(label: str, value: str) -> FlexBox:
    return FlexBox(
        layout="baseline",
        spacing="sm",
        contents=[
            FlexText(text=label, size="sm", color="#666666", flex=2),
            FlexText(text=value, size="sm", wrap=True, flex=5),
        ],
    )


def bubble(title: str, rows: list[FlexComponent], buttons: list[FlexButton]) -> FlexBubble:
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
                bubble(
                    f"{time_range(slot.starts_at, slot.ends_at)} {mark}",
                    [
                        labelled_line(_("会場"), site_label(slot)),
                        labelled_line(_("日付"), format_day(local.date())),
                        # Two days at one site (flu and COVID-19) give two bubbles alike but
                        # for this line.
                        labelled_line(_("ワクチン"), vaccine_name(slot.operating_day.vaccine)),
                        labelled_line(_("空き"), _("残り%(n)d席") % {"n": seats_left}),
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
        labelled_line(_("ワクチン"), vaccine_name(reservation.vaccine)),
        labelled_line(_("予約番号"), format_reservation_code(reservation.code)),
        labelled_line(_("お名前"), reservation.resident.name),
    ]
    for member in reservation_series(reservation):
        rows.append(
            labelled_line(
                _("%(n)d回目") % {"n": member.dose_number},
                f"{format_slot(member.slot)}\n{site_label(member.slot)}",
            )
        )
    return rows


def reservation_bubble(
    reservation: Reservation, *, title: str, buttons: list[FlexButton]
) -> FlexBubble:
    return bubble(title, reservation_rows(reservation), buttons)


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
