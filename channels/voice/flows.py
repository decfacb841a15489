"""What a call says and what its keys do, registered by the app the call is for.

The voice channel plays flows; it does not write them. `channels.notify` registers the
booking reminder, the cancelled-day notice and the follow-up questionnaire (it owns those
messages and may call the core and health follow-up); a flow is looked up by the name stored
on the call, so a call placed before a deployment is still answered after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from channels.voice.models import VoiceCall


@dataclass(frozen=True)
class Ask:
    """Wait for keys after the texts: `step` names the question (it comes back with the
    keys), `num_digits` ends the input after that many keys, else `finish_on_key` (#) does."""

    step: str
    num_digits: int | None = 1
    finish_on_key: str = ""
    timeout_seconds: int = 8


@dataclass(frozen=True)
class Prompt:
    """Texts to say, in order, then either a question (`ask`) or the end of the call.
    `repeat`: the texts are said twice (elderly listeners miss the first words of a call)."""

    texts: list[str]
    ask: Ask | None = None
    repeat: bool = True
    # Said when the question gets no keys at all, before the call ends.
    goodbye: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reply:
    """What a flow did with the keys: recorded on the call (VoiceKeyPress.Action, a short
    detail for staff), then the next prompt."""

    action: str
    prompt: Prompt
    detail: str = ""


class Flow(Protocol):
    def opening(self, call: VoiceCall) -> Prompt:
        """What a person who answers hears first."""

    def machine(self, call: VoiceCall) -> Prompt:
        """The short message left on an answering machine (no question)."""

    def answer(self, call: VoiceCall, step: str, digits: str) -> Reply:
        """The keys pressed at `step` (without the finish key): act, and say what next."""


_flows: dict[str, Flow] = {}


def flow_register(name: str, flow: Flow) -> None:
    _flows[name] = flow


def flow_for(name: str) -> Flow | None:
    return _flows.get(name)


def flow_names() -> list[str]:
    return sorted(_flows)
