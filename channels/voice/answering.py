"""A call's words and keys, shared by the provider's webhooks and the staff simulator: look
up the call's flow, ask it, record the keys and what they did, render the next TwiML."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from channels.voice.flows import Prompt, Reply, flow_for
from channels.voice.models import VoiceCall, VoiceKeyPress
from channels.voice.services import answered_by_machine, call_answered, key_press_record
from channels.voice.twiml import prompt_twiml

logger = logging.getLogger(__name__)

# The only keys a telephone sends.
_KEYS = set("0123456789*#")


class CallClosed(Exception):
    """The call has ended (or its flow is gone): nothing more is said or done."""


def _language(call: VoiceCall) -> str:
    return "en" if call.language == "en" else "ja"


def _flow_missing(call: VoiceCall) -> Prompt:
    logger.error("voice: no flow %r for call %s", call.flow, call.pk)
    return Prompt(texts=[_("ただいまご案内できません。のちほどおかけ直しください。")], repeat=False)


def answer_twiml(call: VoiceCall, *, answered_by: str) -> str:
    """The first words of an answered call: the flow's opening, or its short message when a
    machine answered."""
    if not call.is_open:
        raise CallClosed(call.pk)
    call_answered(call=call, answered_by=answered_by)
    flow = flow_for(call.flow)
    with translation.override(_language(call)):
        if flow is None:
            prompt = _flow_missing(call)
        elif answered_by_machine(call.answered_by):
            prompt = flow.machine(call)
        else:
            prompt = flow.opening(call)
        return prompt_twiml(call, prompt)


def keys_twiml(call: VoiceCall, *, step: str, digits: str) -> str:
    """The keys pressed at `step`: the flow acts on them, the press is recorded, and the flow's
    next prompt is said. Anything that is not telephone keys is answered as no input."""
    if call.result != VoiceCall.Result.IN_PROGRESS or answered_by_machine(call.answered_by):
        raise CallClosed(call.pk)
    flow = flow_for(call.flow)
    digits = digits if set(digits) <= _KEYS else ""
    with translation.override(_language(call)):
        # What the keys did and their record commit together: a cancellation made on the
        # call is never left without the key press that made it.
        with transaction.atomic():
            if flow is None:
                reply = Reply(action=VoiceKeyPress.Action.INVALID, prompt=_flow_missing(call))
            else:
                reply = flow.answer(call, step, digits[:20])
            key_press_record(call=call, step=step, digits=digits, reply=reply)
        return prompt_twiml(call, reply.prompt)
