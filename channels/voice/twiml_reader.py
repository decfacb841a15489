"""Read a TwiML <Response> back into verbs: the Twilio stand-in plays them in tests, and the
staff simulator shows them as text.

Only the verbs our calls use are understood (Say, Pause, Gather with Say/Pause inside,
Redirect, Hangup); anything else is a TwimlError rather than a verb silently skipped, so a
document the simulator cannot play shows up as an error instead of a shorter call.

The document comes over HTTP, so it is parsed with expat directly: a DOCTYPE (and with it any
entity declaration, the "billion laughs" and external-entity attacks) is refused before a
single entity can be expanded. ElementTree's own parser gives no hook for that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

# Twilio's defaults for attributes a document leaves out.
DEFAULT_LANGUAGE = "en-US"
DEFAULT_GATHER_TIMEOUT = 5
DEFAULT_FINISH_ON_KEY = "#"
_METHODS = ("GET", "POST")


class TwimlError(ValueError):
    """The document is not TwiML this reader can play: malformed XML, a DOCTYPE, another root
    element, an unknown verb or an attribute with a value Twilio would not accept."""


@dataclass(frozen=True)
class Say:
    text: str
    language: str = DEFAULT_LANGUAGE
    # Times the text is said; Twilio reads 0 as "until the call ends".
    loop: int = 1


@dataclass(frozen=True)
class Pause:
    length: int = 1


@dataclass(frozen=True)
class Gather:
    # None: Twilio posts the keys back to the document's own URL.
    action: str | None = None
    method: str = "POST"
    num_digits: int | None = None
    # "" means no finish key.
    finish_on_key: str = DEFAULT_FINISH_ON_KEY
    timeout: int = DEFAULT_GATHER_TIMEOUT
    input: str = "dtmf"
    prompts: list[Say | Pause] = field(default_factory=list)


@dataclass(frozen=True)
class Redirect:
    url: str
    method: str = "POST"


@dataclass(frozen=True)
class Hangup:
    pass


Verb: TypeAlias = Say | Pause | Gather | Redirect | Hangup


def read_twiml(document: str | bytes) -> list[Verb]:
    """The verbs of a <Response> document, in order."""
    root = _parse(document)
    if root.tag != "Response":
        raise TwimlError(f"the root element is <{root.tag}>, not <Response>")
    return [_verb(element) for element in root]


def spoken_text(verbs: list[Verb]) -> list[str]:
    """The texts said, in order, Gather prompts included; a looped text is listed once."""
    texts: list[str] = []
    for verb in verbs:
        if isinstance(verb, Say):
            texts.append(verb.text)
        elif isinstance(verb, Gather):
            texts.extend(prompt.text for prompt in verb.prompts if isinstance(prompt, Say))
    return texts


def _parse(document: str | bytes) -> Element:
    # A str is already decoded: tell expat so, whatever its XML declaration says. Bytes keep
    # the encoding they declare.
    if isinstance(document, str):
        data = document.encode("utf-8")
        parser = expat.ParserCreate(encoding="UTF-8")
    else:
        data = document
        parser = expat.ParserCreate()
    builder = TreeBuilder()

    def refuse_doctype(*_args: object) -> None:
        raise TwimlError("a DOCTYPE is not allowed in TwiML")

    def refuse_entity(*_args: object) -> None:
        raise TwimlError("entity declarations are not allowed in TwiML")

    def refuse_external_entity(*_args: object) -> int:
        raise TwimlError("external entities are not allowed in TwiML")

    def start(tag: str, attributes: dict[str, str]) -> None:
        builder.start(tag, attributes)

    def end(tag: str) -> None:
        builder.end(tag)

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_external_entity
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise TwimlError(f"not well-formed XML: {error}") from error
    try:
        return builder.close()
    except AssertionError as error:  # TreeBuilder's way of saying "no element at all"
        raise TwimlError("the document has no element") from error


def _verb(element: Element) -> Verb:
    if element.tag == "Say":
        return _say(element)
    if element.tag == "Pause":
        return _pause(element)
    if element.tag == "Gather":
        prompts: list[Say | Pause] = []
        for child in element:
            if child.tag == "Say":
                prompts.append(_say(child))
            elif child.tag == "Pause":
                prompts.append(_pause(child))
            else:
                raise TwimlError(f"<{child.tag}> inside <Gather> is not supported")
        num_digits = element.get("numDigits")
        return Gather(
            action=element.get("action"),
            method=_method(element),
            num_digits=_integer(element, "numDigits", minimum=1) if num_digits else None,
            finish_on_key=element.get("finishOnKey", DEFAULT_FINISH_ON_KEY),
            timeout=_integer(element, "timeout", DEFAULT_GATHER_TIMEOUT, minimum=1),
            input=element.get("input", "dtmf"),
            prompts=prompts,
        )
    if element.tag == "Redirect":
        url = (element.text or "").strip()
        if not url:
            raise TwimlError("<Redirect> has no URL")
        return Redirect(url=url, method=_method(element))
    if element.tag == "Hangup":
        return Hangup()
    raise TwimlError(f"<{element.tag}> is not a verb this reader supports")


def _say(element: Element) -> Say:
    return Say(
        # SSML inside (<prosody>, <break/>, <emphasis>…) changes how the text sounds, not what
        # is said: the text is every piece of text in the element, in order.
        text="".join(element.itertext()).strip(),
        language=element.get("language", DEFAULT_LANGUAGE),
        loop=_integer(element, "loop", 1, minimum=0),
    )


def _pause(element: Element) -> Pause:
    return Pause(length=_integer(element, "length", 1, minimum=1))


def _method(element: Element) -> str:
    method = element.get("method", "POST").upper()
    if method not in _METHODS:
        raise TwimlError(f"<{element.tag}> method={method!r} is neither GET nor POST")
    return method


def _integer(element: Element, name: str, default: int = 0, *, minimum: int) -> int:
    raw = element.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TwimlError(f"<{element.tag}> {name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise TwimlError(f"<{element.tag}> {name}={value} is below {minimum}")
    return value
