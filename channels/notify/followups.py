"""Health follow-up's messages: the day's invitation with the personal link, one reminder to
those who have not answered, the call list for the silent, and the doctor's verdict on a photo.

They are rows of the booking notifications' own outbox (OutboundMessage, with the follow-up and
its day instead of an event) and go through the same delivery state machine, rate limit,
retries and receipts (channels.notify.delivery); this module decides what is due and to whom,
and writes its texts. `followup_messages_due` is what `manage.py followup_due` and the beat
run every few minutes: safe to run twice or concurrently (the outbox keeps one row per
follow-up, day, purpose and channel; call-list entries one per day and reason).

Routing: LINE for a resident linked on LINE, else SMS to the person's mobile number, else to
the mobile of the family member who answers for them, else an automated call to the person's
number when their municipality has turned calls on (the questionnaire by push-button; never the
doctor's verdict on a photo, which asks for a new photo), else the staff call list (nobody is
left unreached without staff knowing). A STOP/停止 reply stops all of it (followups_stop_for_phone).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels.followup.models import FollowedPerson, FollowUp, FollowUpCall, FollowUpPhoto
from channels.followup.selectors import answered_on, followups_due, on_call_list
from channels.followup.services import (
    followup_call_add,
    followup_link_token,
    followups_delete,
    followups_end_finished,
    followups_mark_sent,
    followups_stop_for_phone,
)
from channels.line.client import is_configured as line_is_configured
from channels.line.outbound import line_recipient_for
from channels.notify.models import OutboundMessage
from channels.notify.outbox import send_window_start
from channels.notify.routing import Route, calls_reach
from channels.notify.texts import sender_label, text_language
from channels.sms.text import MAX_BODY_CHARS, make_sms_safe, segment_count
from reservations.identifiers import is_mobile_phone

Message = OutboundMessage
Purpose = OutboundMessage.Purpose
Channel = OutboundMessage.Channel

FOLLOWUP_PURPOSES = (
    Purpose.FOLLOWUP_INVITATION,
    Purpose.FOLLOWUP_REMINDER,
    Purpose.FOLLOWUP_PHOTO_RESULT,
)
# Reviewed photos looked at for a verdict still to tell (older ones were told, or their
# follow-up purged).
PHOTO_LOOKBACK = dt.timedelta(days=7)


def is_followup_message(message: OutboundMessage) -> bool:
    return message.followup_id is not None


# --- Routing ---------------------------------------------------------------------------------


def sms_number_for(person: FollowedPerson) -> str | None:
    """The mobile number a follow-up SMS goes to: the person's, else the family member's who
    answers for them; none after a STOP reply."""
    if person.sms_stopped_at is not None:
        return None
    for number in (person.phone, person.proxy_phone):
        if number and is_mobile_phone(number):
            return number
    return None


def followup_route(
    person: FollowedPerson, *, with_line: bool = True, with_voice: bool = True
) -> Route:
    """How a follow-up message reaches the person; `with_voice`: an automated call may carry
    it (not the photo verdict)."""
    if with_line and person.resident_id is not None and line_is_configured():
        recipient = line_recipient_for(resident_id=person.resident_id)
        if recipient is not None:
            return Route(Channel.LINE, recipient.line_user_id, language=recipient.language)
    number = sms_number_for(person)
    if number is not None:
        return Route(Channel.SMS, number)
    if with_voice and person.phone and calls_reach(person.municipality):
        return Route(Channel.VOICE, person.phone)
    return Route(Channel.CALL_LIST, person.phone, Message.CallReason.NO_MOBILE)


# --- Texts -----------------------------------------------------------------------------------


@functools.cache
def _answer_path() -> tuple[str, str]:
    """The answer page's path around its token, reversed once per process: reverse() per
    message was a tenth of a morning's scan."""
    marker = "TOKEN"
    path = reverse("followup_answer:answer", args=[marker])
    at = path.rindex(marker)
    return path[:at], path[at + len(marker) :]


def answer_link(followup: FollowUp) -> str:
    before, after = _answer_path()
    return f"{settings.FOLLOWUP_LINK_BASE_URL}{before}{followup_link_token(followup)}{after}"


def _templates(purpose: str, photo: FollowUpPhoto | None) -> list[str]:
    """The texts of a purpose, longest first: the first that fits one SMS segment is used."""
    # Japanese first: the msgids are what most people read; English and やさしい日本語 come
    # from the notify catalogues.
    if purpose == Purpose.FOLLOWUP_INVITATION:
        return [
            _("【%(sender)s】%(name)sさん 今日の健康観察の回答をお願いします %(link)s"),
            _("【%(sender)s】今日の健康観察の回答をお願いします %(link)s"),
            _("【%(sender)s】健康観察 %(link)s"),
        ]
    if purpose == Purpose.FOLLOWUP_REMINDER:
        return [
            _("【%(sender)s】%(name)sさん 今日の健康観察がまだです。回答をお願いします %(link)s"),
            _("【%(sender)s】今日の健康観察がまだです %(link)s"),
            _("【%(sender)s】健康観察未回答 %(link)s"),
        ]
    if purpose == Purpose.FOLLOWUP_PHOTO_RESULT and photo is not None:
        if photo.status == FollowUpPhoto.Status.CONFIRMED:
            return [
                _(
                    "【%(sender)s】送っていただいた写真を医師が確認しました。"
                    "今後のご案内をお待ちください。問合せ%(phone)s"
                )
            ]
        return [
            _(
                "【%(sender)s】送っていただいた写真を確認できませんでした（%(reason)s）。"
                "もう一度送ってください %(link)s"
            )
        ]
    raise ValueError(f"no follow-up text for purpose {purpose!r}")


@dataclass(frozen=True)
class FollowUpText:
    body: str
    segments: int


def followup_text(
    *, purpose: str, followup: FollowUp, language: str, photo: FollowUpPhoto | None = None
) -> FollowUpText:
    """The text of a follow-up message in the person's language, in one SMS segment where
    one of its forms fits (the link is never shortened)."""
    language = text_language(language)
    person = followup.person
    municipality = person.municipality
    fields = {
        "sender": make_sms_safe(sender_label(municipality, language)),
        "name": make_sms_safe(person.first_name),
        "link": answer_link(followup),
        "phone": make_sms_safe(municipality.call_centre_phone or settings.NOTIFY_CALL_CENTRE_PHONE),
        "reason": make_sms_safe(photo.reason[:60]) if photo is not None else "",
    }
    with translation.override(language):
        candidates = [template % fields for template in _templates(purpose, photo)]
    fitting = [text for text in candidates if segment_count(text) == 1]
    body = fitting[0] if fitting else min(candidates, key=len)
    if len(body) > MAX_BODY_CHARS:
        body = body[: MAX_BODY_CHARS - 1] + "…"
    return FollowUpText(body=body, segments=segment_count(body))


# --- Messages --------------------------------------------------------------------------------


def followup_message(
    *,
    followup: FollowUp,
    day: dt.date,
    purpose: str,
    now: dt.datetime,
    photo: FollowUpPhoto | None = None,
    with_line: bool = True,
) -> OutboundMessage | None:
    """The (unsaved) message of this purpose for the follow-up's day, or None when the person
    can be reached by neither LINE nor SMS: they go on the staff call list instead."""
    person = followup.person
    route = followup_route(
        person, with_line=with_line, with_voice=purpose != Purpose.FOLLOWUP_PHOTO_RESULT
    )
    if route.channel == Channel.CALL_LIST:
        followup_call_add(followup, day, FollowUpCall.Reason.NOT_REACHED, now=now)
        return None
    language = route.language or person.language
    text = followup_text(purpose=purpose, followup=followup, language=language, photo=photo)
    message = OutboundMessage(
        followup=followup,
        followup_date=day,
        photo=photo,
        resident_id=person.resident_id,
        channel=route.channel,
        purpose=purpose,
        language=text_language(language),
        address=route.address,
        body=text.body,
        segments=text.segments if route.channel == Channel.SMS else 0,
    )
    # Health questions wait for the morning like a booking's reminder (outbox quiet hours); a
    # call for the calling hours.
    message.not_before = send_window_start(message, now)
    return message


def _insert(messages: list[OutboundMessage]) -> list[int]:
    """Insert, keeping rows someone else inserted first (the outbox's constraints), and return
    the ids of every message of these follow-up days, new or not, still to be sent."""
    if not messages:
        return []
    OutboundMessage.objects.bulk_create(messages, ignore_conflicts=True)
    keys = {(m.followup_id, m.followup_date, m.purpose, m.channel) for m in messages}
    stored = OutboundMessage.objects.filter(
        followup_id__in={key[0] for key in keys},
        followup_date__in={key[1] for key in keys},
        purpose__in={key[2] for key in keys},
        status=OutboundMessage.Status.QUEUED,
    ).values_list("pk", "followup_id", "followup_date", "purpose", "channel")
    return [row[0] for row in stored if tuple(row[1:]) in keys]


@dataclass
class DueReport:
    invited: int = 0
    reminded: int = 0
    to_call: int = 0
    photo_results: int = 0
    ended: int = 0
    to_deliver: list[int] = field(default_factory=list)


def _local_moment(day: dt.date, clock: dt.time) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, clock))


# Follow-ups whose messages are made, committed and handed over together: the workers start
# sending the first ones while the scan makes the rest (a morning of 10,000 invitations is not
# held back until the last is made), and a crash loses at most one uncommitted chunk, which
# the next run makes again.
CHUNK = 500


def _messages_due_for(
    chunk: list[FollowUp], today: dt.date, now: dt.datetime, report: DueReport
) -> tuple[list[OutboundMessage], list[int], list[int]]:
    """The messages (and the follow-ups invited and reminded) of one chunk; the silent go on
    the call list as they are found."""
    clock = timezone.localtime(now).time()
    ids = [followup.pk for followup in chunk]
    answered = answered_on(ids, today)
    already_called = on_call_list(ids, today)
    new: list[OutboundMessage] = []
    invited: list[int] = []
    reminded: list[int] = []
    for followup in chunk:
        if followup.pk in answered:
            continue
        if followup.invited_for != today and clock >= settings.FOLLOWUP_SEND_TIME:
            invited.append(followup.pk)
            message = followup_message(
                followup=followup, day=today, purpose=Purpose.FOLLOWUP_INVITATION, now=now
            )
            if message is not None:
                new.append(message)
            continue
        sent_at = followup.invited_at if followup.invited_for == today else None
        remind_at = _local_moment(today, followup.reminder_time)
        if followup.reminded_for != today and sent_at is not None and sent_at < remind_at <= now:
            reminded.append(followup.pk)
            message = followup_message(
                followup=followup, day=today, purpose=Purpose.FOLLOWUP_REMINDER, now=now
            )
            if message is not None:
                new.append(message)
        cutoff = _local_moment(today, followup.cutoff_time)
        if followup.pk not in already_called and sent_at is not None and sent_at < cutoff <= now:
            followup_call_add(followup, today, FollowUpCall.Reason.SILENT, now=now)
            report.to_call += 1
    return new, invited, reminded


def _photo_results(now: dt.datetime) -> list[OutboundMessage]:
    photos = (
        FollowUpPhoto.objects.exclude(status=FollowUpPhoto.Status.PENDING)
        .filter(reviewed_at__gte=now - PHOTO_LOOKBACK, followup__status=FollowUp.Status.ACTIVE)
        .exclude(pk__in=OutboundMessage.objects.filter(photo__isnull=False).values("photo_id"))
        .select_related("followup__person__municipality")
    )
    messages = []
    for photo in photos:
        message = followup_message(
            followup=photo.followup,
            day=photo.for_date,
            purpose=Purpose.FOLLOWUP_PHOTO_RESULT,
            photo=photo,
            now=now,
        )
        if message is not None:
            messages.append(message)
    return messages


HandOver = Callable[[list[int]], None]


def _commit(
    new: list[OutboundMessage],
    invited: list[int],
    reminded: list[int],
    today: dt.date,
    now: dt.datetime,
    hand_over: HandOver | None,
) -> list[int]:
    with transaction.atomic():
        # The rows and the days they mark in one transaction: a crash between the two makes
        # the next run try the same rows again, which the outbox keeps single.
        ids = _insert(new)
        followups_mark_sent(followup_ids=invited, day=today, reminder=False, now=now)
        followups_mark_sent(followup_ids=reminded, day=today, reminder=True, now=now)
    if hand_over is not None and ids:
        hand_over(ids)
    return ids


def followup_messages_for(
    *, followup_ids: list[int], now: dt.datetime, hand_over: HandOver | None = None
) -> DueReport:
    """What is due at `now` for these follow-ups (one chunk of followups_due_chunks), made,
    committed and given to `hand_over` CHUNK by CHUNK."""
    today = timezone.localtime(now).date()
    report = DueReport()
    due = followups_due(today, among=followup_ids)
    for start in range(0, len(due), CHUNK):
        new, invited, reminded = _messages_due_for(due[start : start + CHUNK], today, now, report)
        report.to_deliver += _commit(new, invited, reminded, today, now, hand_over)
        report.invited += len(invited)
        report.reminded += len(reminded)
    return report


def followups_due_chunks(*, now: dt.datetime) -> tuple[int, list[list[int]]]:
    """The scan's first step: end the follow-ups whose last day is over, and split the ids of
    those with a day today into chunks of CHUNK (the task hands each to a worker, so all the
    workers make messages at once). Returns how many ended, and the chunks."""
    today = timezone.localtime(now).date()
    ended = followups_end_finished(today=today, now=now)
    ids = [followup.pk for followup in followups_due(today)]
    return ended, [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def followup_photo_results_due(*, now: dt.datetime, hand_over: HandOver | None = None) -> list[int]:
    """The doctors' verdicts not told yet, made and handed over. Returns their messages."""
    return _commit(_photo_results(now), [], [], timezone.localtime(now).date(), now, hand_over)


def followup_messages_due(
    *, now: dt.datetime | None = None, hand_over: HandOver | None = None
) -> DueReport:
    """Everything of health follow-up due at `now` (Japan time), in this process:

    - follow-ups whose last day is over are ended;
    - from FOLLOWUP_SEND_TIME, each follow-up with a day today that is not answered yet gets
      its invitation (once);
    - from its reminder time, one reminder to those who have not answered, if the invitation
      went out before that time (a follow-up started at 14:00 is not reminded at 14:00);
    - from its cut-off, the staff call list for those still silent, on the same condition
      (unless they are on it for that day already: no message could reach them);
    - the doctor's verdict on each photo reviewed since the last run.

    Messages are committed and given to `hand_over` chunk by chunk; `to_deliver` lists them
    all. The beat's task does the same with the chunks spread over the workers
    (tasks.followup_due_task)."""
    now = now or timezone.now()
    ended, chunks = followups_due_chunks(now=now)
    report = DueReport(ended=ended)
    for chunk in chunks:
        part = followup_messages_for(followup_ids=chunk, now=now, hand_over=hand_over)
        report.invited += part.invited
        report.reminded += part.reminded
        report.to_call += part.to_call
        report.to_deliver += part.to_deliver
    verdicts = followup_photo_results_due(now=now, hand_over=hand_over)
    report.photo_results = len(verdicts)
    report.to_deliver += verdicts
    return report


# --- What delivery asks about a follow-up message -----------------------------------------


def followup_stop_reason(message: OutboundMessage) -> str | None:
    """Why a follow-up message not yet sent should not go out any more, if so."""
    followup = message.followup
    assert followup is not None
    if followup.status == FollowUp.Status.ENDED:
        return "followup_ended"
    if (
        message.purpose == Purpose.FOLLOWUP_REMINDER
        and message.followup_date is not None
        and answered_on([followup.pk], message.followup_date)
    ):
        return "followup_answered"
    if message.channel == Channel.SMS and sms_number_for(followup.person) != message.address:
        return "sms_not_allowed"  # a STOP reply, or the number changed since
    return None


def followup_not_reached(message: OutboundMessage, now: dt.datetime) -> None:
    """No message of this follow-up day can reach the person: staff phone them."""
    assert message.followup is not None and message.followup_date is not None
    followup_call_add(
        message.followup, message.followup_date, FollowUpCall.Reason.NOT_REACHED, now=now
    )


def followup_message_without_line(message: OutboundMessage, now: dt.datetime) -> None:
    """A LINE follow-up message that cannot go (or a call that cannot: calls turned off, no
    number): the same by SMS, else by an automated call (queued: the sweep sends it within a
    minute), else the call list."""
    assert message.followup is not None and message.followup_date is not None
    sibling = followup_message(
        followup=message.followup,
        day=message.followup_date,
        purpose=message.purpose,
        photo=message.photo,
        now=now,
        with_line=False,
    )
    if sibling is not None and sibling.channel == message.channel:
        # Routed back to the channel that could not carry it (calls turned on again since
        # our look): that row exists, so staff phone the person instead.
        followup_not_reached(message, now)
    elif sibling is not None:
        _insert([sibling])


def on_sms_stop_received(sender: object, *, phone: str, now: dt.datetime, **kwargs: object) -> None:
    """A STOP/停止 reply (channels.sms.inbound): follow-ups at that number end."""
    followups_stop_for_phone(phone=phone, now=now)


# --- Retention -------------------------------------------------------------------------------


def followups_purge_ended(*, now: dt.datetime, dry_run: bool = False) -> int:
    """Registered with the retention purge: follow-ups ended more than RETENTION_FOLLOWUP_DAYS
    ago, their messages (names and links in the bodies) first, then the rest
    (followups_delete). Returns the follow-ups purged (or that would be)."""
    before = now - dt.timedelta(days=settings.RETENTION_FOLLOWUP_DAYS)
    ended = FollowUp.objects.filter(status=FollowUp.Status.ENDED, ended_at__lt=before)
    if dry_run:
        return ended.count()
    ids = list(ended.order_by("pk").values_list("pk", flat=True)[:5000])
    OutboundMessage.objects.filter(followup_id__in=ids).delete()
    return followups_delete(ids)
