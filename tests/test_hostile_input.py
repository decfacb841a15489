"""No input gives a 500: every URL pattern, every query parameter and form field, every role.

The URL patterns come from the URLconf itself (includes and the admin too), so a new page is
attacked without anyone listing it here. Path parameters are filled with real ids of a small
seeded city and with hostile values; the fields of each page are found by asking it: the query
parameters the view reads (recorded while it runs), the <input>/<select>/<textarea> names of
the forms it renders (their action URL says which pattern receives them), the links it offers
(`href="?..."`), and for the API the parameters and bodies of its OpenAPI schema.

Every URL pattern and every field gets every hostile class at least once, one field at a time
(the others keep the page's own values, so the hostile one reaches as deep as it can), and each
role (anonymous, a signed-in resident, every staff group, a superuser) sends the whole corpus at
once to every pattern. The test counts 5xx answers and names each one; the count must be 0.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import django.core.handlers.wsgi
import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.http import QueryDict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, RoutePattern
from rest_framework.authtoken.models import Token

from channels.phone.roles import ensure_phone_permissions
from channels.phone.services import call_start
from reservations import roles
from reservations.models import Actor, Channel, Reservation, Ticket
from reservations.services.booking import Requester, reservation_book
from reservations.services.vaccinations import day_lot_add
from tests.world import World, jst

# --- The corpus ----------------------------------------------------------------------------------

# Invalid UTF-8 cannot be a Python str; it is sent as raw bytes (percent-escaped in query strings
# and form bodies, as bytes in JSON bodies). Deep JSON is sent as JSON; in a form it is text.
INVALID_UTF8 = "invalid_utf8"
DEEP_JSON = "deep_json"
DEPTH = 5_000

HOSTILE: dict[str, str] = {
    "nul": "12\x0034",
    "control": "a\x01\x08\x1b\x7fb",
    "long_text": "x" * 10_000,
    "long_digits": "9" * 10_000,
    "digits_30": "1" * 30,
    "negative": "-1",
    "negative_30": "-" + "9" * 30,
    "year_0": "0000-01-01",
    "year_9999": "9999-12-31",
    "not_a_number": "NaN",
    INVALID_UTF8: "",  # see raw_bytes()
    DEEP_JSON: "[" * DEPTH + "]" * DEPTH,
    "emoji": "😷💉👵🏻",
    "rare_kanji": "𠮷野家",
    "rtl_override": "\u202eexe.txt",
}
CLASSES = list(HOSTILE)

# Values JSON bodies can carry that a form cannot: wrong types and absurd numbers.
JSON_ONLY: dict[str, str] = {
    "null": "null",
    "list": "[1, 2]",
    "object": '{"a": {"b": 1}}',
    "huge_number": "1" + "0" * 30,
    "float_exponent": "1e999",
    "true": "true",
}


def raw_query(value_class: str) -> str:
    """The percent-escaped form of a hostile value for a query string or form body."""
    if value_class == INVALID_UTF8:
        return "%FF%FE"
    return quote(HOSTILE[value_class], safe="")


def json_literal(value_class: str) -> str:
    if value_class in JSON_ONLY:
        return JSON_ONLY[value_class]
    if value_class == DEEP_JSON:
        return HOSTILE[DEEP_JSON]
    if value_class == INVALID_UTF8:
        return '"\udcff\udcfe"'  # replaced by the bytes FF FE when encoded, see json_body()
    return json.dumps(HOSTILE[value_class])


def json_body(values: dict[str, str]) -> bytes:
    """A JSON object from field -> JSON literal (already serialised, may be 5,000 deep)."""
    text = "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in values.items()) + "}"
    return text.encode("utf-8", errors="surrogateescape")


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

# Whole bodies that are not what any endpoint expects.
RAW_BODIES: dict[str, tuple[bytes, str]] = {
    "deep_json_body": (HOSTILE[DEEP_JSON].encode(), "application/json"),
    "deep_object_body": (('{"a":' * DEPTH + "1" + "}" * DEPTH).encode(), "application/json"),
    "invalid_utf8_json": (b'{"events": ["\xff\xfe"]}', "application/json"),
    "json_null": (b"null", "application/json"),
    "json_list_of_ints": (b"[1, 2, 3]", "application/json"),
    "nul_json": (b'{"a": "\\u0000"}', "application/json"),
    "invalid_utf8_form": (b"a=\xff\xfe&\xff=1", "application/x-www-form-urlencoded"),
    "nul_form": (b"a=%00&b\x00=1", "application/x-www-form-urlencoded"),
    "garbage_multipart": (b"--x\r\n\xff\x00", "multipart/form-data; boundary=x"),
}

# Headers the code reads. Each gets a hostile value in turn (header values cannot hold NUL or
# line breaks on the wire; WSGI servers pass the rest through).
HEADERS = ["Accept-Language", "Authorization", "Idempotency-Key", "X-Line-Signature", "Cookie"]


def header_value(value_class: str) -> str:
    """As a WSGI server hands a header over: its bytes, decoded as latin-1."""
    if value_class == INVALID_UTF8:
        return "\xff\xfe"
    return HOSTILE[value_class][:8000].encode("utf-8").decode("latin-1")


# --- The city the attack runs against ----------------------------------------------------------

STAFF_ROLES = [
    roles.OPERATORS,
    roles.VENUE_STAFF,
    roles.EXPORTERS,
    roles.ADMINISTRATORS,
    roles.CALL_SUPERVISORS,
    roles.CALL_MANAGERS,
]
ANONYMOUS, RESIDENT, SUPERUSER = "anonymous", "resident", "superuser"
ROLES = [ANONYMOUS, RESIDENT, *STAFF_ROLES, SUPERUSER]
SMS_RECEIPT_TOKEN = "receipt-token"  # noqa: S105 - a test value


@dataclass
class City:
    world: World
    resident_ticket: Ticket
    resident_reservation: Reservation
    venue_reservation: Reservation
    walk_in: Ticket
    clients: dict[str, Client] = field(default_factory=dict)
    resident_token: str = ""
    staff: dict[str, User] = field(default_factory=dict)

    def log_in_staff(self) -> None:
        """(Again:) the logout pages and the admin's password forms end staff sessions."""
        for role, user in self.staff.items():
            token, _created = Token.objects.get_or_create(user=user)
            client = Client(
                raise_request_exception=False, headers={"Authorization": f"Token {token.key}"}
            )
            client.force_login(user)
            self.clients[role] = client

    def sign_in_resident(self) -> None:
        client = Client(raise_request_exception=False)
        born = self.resident_ticket.resident.birth_date
        response = client.post(
            "/",
            {
                "municipality": self.resident_ticket.municipality.code,
                "ticket_number": self.resident_ticket.number,
                "birth_era": "western",
                "birth_year": str(born.year),
                "birth_month": str(born.month),
                "birth_day": str(born.day),
                "booking_for": Actor.RESIDENT,
            },
            REMOTE_ADDR="192.0.2.1",
        )
        assert response.status_code == 302, response.content[:500]
        self.resident_token = str(response["Location"]).split("/")[2]
        self.clients[RESIDENT] = client


def seed(world: World) -> City:
    ensure_phone_permissions()
    today = dt.date(2026, 11, 2)
    later = today + dt.timedelta(days=7)
    today_slot = world.slot(today, 11)
    later_slot = world.slot(later, 10)
    world.slot(later, 11)
    mine, theirs, walk_in = world.resident(), world.resident(), world.resident()
    operator = world.phone()
    booked = reservation_book(ticket=mine, slot=later_slot, requester=operator)
    at_venue = reservation_book(ticket=theirs, slot=today_slot, requester=operator)
    users: dict[str, User] = {roles.OPERATORS: world.operator}
    for role in STAFF_ROLES[1:]:
        user = User.objects.create_user(f"staff-{len(users)}", password="x", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        users[role] = User.objects.get(pk=user.pk)
    users[SUPERUSER] = User.objects.create_superuser("root", password="x")
    day_lot_add(
        operating_day=today_slot.operating_day,
        lot_number="FA1234",
        vials_opened=2,
        requester=Requester(
            channel=Channel.COUNTER, actor=Actor.OPERATOR, user=users[roles.VENUE_STAFF]
        ),
    )
    call_start(operator=world.operator, municipality=world.municipality, now=jst(2026, 11, 2, 9))
    city = City(world, mine, booked, at_venue, walk_in)
    city.clients[ANONYMOUS] = Client(raise_request_exception=False)
    city.staff = users
    city.log_in_staff()
    city.sign_in_resident()
    return city


# --- The URLconf ---------------------------------------------------------------------------------

PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<regex>[^()]*(?:\([^()]*\)[^()]*)*)\)")


@dataclass
class Route:
    """One URL pattern, with the full path template and what each parameter accepts."""

    key: str
    template: str  # "phone/r/{pk}/book/"
    parameters: dict[str, re.Pattern[str]]
    callback: Callable[..., Any]


def _piece(pattern: RoutePattern | RegexPattern) -> tuple[str, dict[str, re.Pattern[str]]]:
    text = str(pattern)
    parameters: dict[str, re.Pattern[str]] = {}
    if isinstance(pattern, RoutePattern):
        for match in PARAMETER.finditer(text):
            converter = pattern.converters[match["name"]]
            parameters[match["name"]] = re.compile(converter.regex)
        return PARAMETER.sub(lambda m: "{" + m["name"] + "}", text), parameters
    text = text.removeprefix("^").removesuffix("$").removesuffix("\\Z")
    for match in REGEX_GROUP.finditer(text):
        parameters[match["name"]] = re.compile(match["regex"])
    text = REGEX_GROUP.sub(lambda m: "{" + m["name"] + "}", text)
    return text.replace("\\", ""), parameters


def routes() -> list[Route]:
    found: list[Route] = []

    def walk(patterns: list[Any], template: str, parameters: dict[str, Any], key: str) -> None:
        for pattern in patterns:
            piece, more = _piece(pattern.pattern)
            route_key = key + str(pattern.pattern).removeprefix("^" if key else "")
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, template + piece, {**parameters, **more}, route_key)
            else:
                assert isinstance(pattern, URLPattern)
                found.append(
                    Route(
                        route_key, "/" + template + piece, {**parameters, **more}, pattern.callback
                    )
                )

    walk(get_resolver().url_patterns, "", {}, "")
    # The admin last, its deletions at the very end: they take rows the other pages need.
    return sorted(found, key=lambda r: (r.key.startswith("admin/"), r.key.endswith("/delete/")))


def real_values(route: Route, city: City) -> dict[str, str]:
    """Ids of rows that exist, so the view gets past its lookups."""
    model_admin = getattr(route.callback, "model_admin", None)
    values: dict[str, str] = {}
    for name, accepts in route.parameters.items():
        if name == "object_id" and model_admin is not None:
            row = model_admin.model._default_manager.order_by("pk").first()
            values[name] = str(row.pk) if row is not None else "1"
        elif name == "app_label":
            values[name] = accepts.pattern.split("|")[0]
        else:
            values[name] = {
                "token": city.resident_token,
                "code": (
                    city.venue_reservation.code
                    if route.key.startswith("venue/")
                    else city.resident_reservation.code
                ),
                "pk": str(city.resident_ticket.resident_id),
                "reservation_id": str(city.resident_reservation.pk),
                "day_id": str(city.venue_reservation.slot.operating_day_id),
                "ticket_id": str(city.walk_in.pk),
                "provider": "http",
                "kind": "reply",
                "content_type_id": "1",
                "object_id": "1",
                "url": "nothing/here/",
            }.get(name, "1")
    return values


def url_of(route: Route, values: dict[str, str]) -> str:
    return route.template.format(**{k: quote(v, safe="") for k, v in values.items()})


def hostile_path_values(route: Route) -> Iterator[tuple[str, str, str]]:
    """(parameter, class, value) for every hostile class the parameter's converter accepts."""
    for name, accepts in route.parameters.items():
        for value_class in CLASSES:
            value = "\udcff\udcfe" if value_class == INVALID_UTF8 else HOSTILE[value_class]
            if value_class == INVALID_UTF8 or accepts.fullmatch(value):
                yield name, value_class, value


# --- Finding the fields of a page ----------------------------------------------------------------


class _RecordingQueryDict(QueryDict):
    """request.GET that remembers which names the view asked for."""

    asked: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.asked.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def getlist(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().getlist(key, default)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


class FormParser(HTMLParser):
    """The forms of a page (action, method, field defaults) and its `?query` links."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.links: list[str] = []
        self._form: dict[str, Any] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href", "").startswith("?"):
            self.links.append(a["href"])
        if tag == "form":
            self._form = {
                "action": a.get("action", ""),
                "method": a.get("method", "get").lower(),
                "fields": {},
            }
            self.forms.append(self._form)
            return
        if self._form is None or not a.get("name"):
            return
        name, fields = a["name"], self._form["fields"]
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a or name not in fields:
                    fields[name] = a.get("value", "on")
            elif kind not in ("submit", "button", "image", "file", "reset") or name not in fields:
                fields.setdefault(name, a.get("value", ""))
        elif tag == "button":
            fields.setdefault(name, a.get("value", ""))
        elif tag == "select":
            self._select = name
            fields.setdefault(name, "")
        elif tag == "option" and self._select:
            if "selected" in a or not fields.get(self._select):
                fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = name
            fields.setdefault(name, "")

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


SKIP_FIELDS = {"csrfmiddlewaretoken"}


@dataclass
class Fields:
    """What one pattern reads: query parameters and body fields, with a harmless value each,
    and which roles were shown each (so a role that can reach the field sends it)."""

    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    json: dict[str, str] = field(default_factory=dict)  # name -> JSON literal
    query_roles: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # Roles the view served (200, or 405 from a POST-only view): past sign-in and permissions.
    reached_by: set[str] = field(default_factory=set)
    form_roles: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def add_query(self, name: str, value: str, role: str) -> None:
        if name not in SKIP_FIELDS:
            self.query.setdefault(name, value)
            self.query_roles[name].add(role)

    def add_form(self, name: str, value: str, role: str) -> None:
        if name not in SKIP_FIELDS:
            self.form.setdefault(name, value)
            self.form_roles[name].add(role)


def route_key_of(path: str) -> str | None:
    try:
        return resolve(urlsplit(path).path).route
    except Resolver404:
        return None


def discover(city: City, all_routes: list[Route], monkeypatch: pytest.MonkeyPatch) -> dict:
    """GET every pattern as every role and note the fields it reads or shows."""
    fields: dict[str, Fields] = defaultdict(Fields)
    monkeypatch.setattr(django.core.handlers.wsgi, "QueryDict", _RecordingQueryDict)
    for route in all_routes:
        path = url_of(route, real_values(route, city))
        for role in ROLES:
            _RecordingQueryDict.asked = set()
            response = city.clients[role].get(path, REMOTE_ADDR="198.51.100.1")
            if response.status_code in (200, 405):
                fields[route.key].reached_by.add(role)
            for name in _RecordingQueryDict.asked:
                fields[route.key].add_query(name, "", role)
            if "html" not in response.get("Content-Type", ""):
                continue
            page = FormParser()
            page.feed(response.content.decode("utf-8", errors="replace"))
            for link in page.links:
                for name, value in parse_qsl(link[1:], keep_blank_values=True):
                    fields[route.key].add_query(name, value, role)
            for form in page.forms:
                target = route_key_of(form["action"] or path) if form["action"] else route.key
                if target is None:
                    continue
                for name, value in form["fields"].items():
                    if form["method"] == "post":
                        fields[target].add_form(name, value, role)
                    else:
                        fields[target].add_query(name, value, role)
    monkeypatch.undo()
    _schema_fields(city, fields)
    return fields


def _schema_fields(city: City, fields: dict[str, Fields]) -> None:
    """The API's parameters and JSON bodies, from its OpenAPI schema."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    code = city.resident_reservation.code
    defaults = json_defaults(city)
    for template, operations in schema["paths"].items():
        key = route_key_of(template.replace("{code}", code))
        assert key is not None, template
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    for role in ROLES:
                        fields[key].add_query(parameter["name"], "", role)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            for name in _properties(schema, body["schema"]):
                fields[key].json[name] = defaults.get(name, '"x"')


def _properties(schema: dict[str, Any], node: dict[str, Any]) -> list[str]:
    """Property names of a body schema, through $ref and oneOf / anyOf / allOf."""
    if "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    names = list(node.get("properties", {}))
    for combined in ("oneOf", "anyOf", "allOf"):
        for part in node.get(combined, []):
            names += [n for n in _properties(schema, part) if n not in names]
    return names


def field_samples(city: City) -> dict[str, str]:
    """Good values for fields a page leaves blank, so that a hostile value in one field meets
    the rest of a valid submission (a blank required field would stop it at the form)."""
    ticket = city.walk_in  # not the signed-in resident: failed tries count against a ticket
    born = ticket.resident.birth_date
    return {
        "ticket_number": ticket.number,
        "birth_era": "western",
        "birth_year": str(born.year),
        "birth_month": str(born.month),
        "birth_day": str(born.day),
        "lot_number": "FA1234",
        "vials_opened": "1",
        "doctor_name": "日南 一郎",
        "override_reason": "医師の判断",
        "vaccinated_at": "10:30",
        "phone": "090-1234-5678",
        "notes": "折り返し希望",
        "relationship": "長男",
        "q": city.venue_reservation.code,
        "username": "operator",
        "password": "wrong-password",
    }


def json_defaults(city: City) -> dict[str, str]:
    ticket, slot = city.walk_in, city.resident_reservation.slot
    return {
        name: json.dumps(value)
        for name, value in {
            "municipality_code": ticket.municipality.code,
            "ticket_number": ticket.number,
            "birth_date": ticket.resident.birth_date.isoformat(),
            "slot": slot.pk,
            "channel": "api",
            "dose_number": 1,
            "book_next_dose": True,
            "phone": "090-1234-5678",
            "sms_consent": True,
            "reservation": city.venue_reservation.code,
            "vaccine": "pfizer-12",
            "vaccinated_at": "2026-11-02T10:00:00+09:00",
            "lot_number": "FA1234",
            "doctor_name": "日南 一郎",
            "site": slot.operating_day.site_id,
            "outcome": "vaccinated",
        }.items()
    }


# --- Sending -------------------------------------------------------------------------------------


@dataclass
class Attempt:
    role: str
    method: str
    route: Route
    what: str  # "query q=nul", "form key=long_text", "path pk=digits_30", ...
    url: str
    body: bytes | None = None
    content_type: str = FORM
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Tally:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    failures: list[str] = field(default_factory=list)


def send(city: City, attempt: Attempt, tally: Tally, address: Iterator[str]) -> None:
    client = city.clients[attempt.role]
    extra: dict[str, Any] = {"REMOTE_ADDR": next(address)}
    url = attempt.url
    if attempt.route.key.startswith("sms/"):
        # The receipt token is checked first; the body must reach the parser.
        url += ("&" if "?" in url else "?") + f"token={SMS_RECEIPT_TOKEN}"
        extra["HTTP_AUTHORIZATION"] = ""
    if attempt.method == "GET":
        response = client.get(url, headers=attempt.headers, **extra)
    else:
        response = client.generic(
            "POST",
            url,
            attempt.body or b"",
            content_type=attempt.content_type,
            headers=attempt.headers,
            **extra,
        )
    tally.requests += 1
    tally.statuses[response.status_code] += 1
    if response.status_code >= 500:
        exc_info = getattr(response, "exc_info", None)
        reason = repr(exc_info[1])[:300] if exc_info else response.content[:200]
        tally.failures.append(
            f"{response.status_code} {attempt.method} {url[:200]!r} as {attempt.role} "
            f"[{attempt.what}]: {reason}"
        )
    if attempt.role == RESIDENT and attempt.route.key in ("signout/", "p/<str:token>/forget/"):
        city.sign_in_resident()
    if "logout" in attempt.route.key or attempt.route.key.startswith("admin/auth/user/"):
        city.log_in_staff()


def form_body(values: dict[str, str], hostile: dict[str, str]) -> bytes:
    """A urlencoded body: the page's own values, with `hostile` (name -> class) in place."""
    parts = [
        f"{quote(name, safe='')}={raw_query(hostile[name]) if name in hostile else quote(value)}"
        for name, value in values.items()
    ]
    return "&".join(parts).encode("ascii")


def query_string(values: dict[str, str], hostile: dict[str, str]) -> str:
    body = form_body(values, hostile).decode()
    return "?" + body if body else ""


def attempts(city: City, route: Route, fields: Fields, turn: Iterator[int]) -> Iterator[Attempt]:
    """Every request for one pattern, in a fixed order; `turn` spreads classes over roles.

    Our own pages get each hostile class in one field at a time. The admin's pages (about 190
    patterns, Django's own views over our models) get each class in all their fields at once,
    which keeps the run short and still puts every class in every field."""
    base = url_of(route, real_values(route, city))
    samples = field_samples(city)
    form = {name: value or samples.get(name, "") for name, value in fields.form.items()}
    is_admin = route.key.startswith("admin/")
    is_json = bool(fields.json) or route.key.startswith(("api/", "line/", "sms/"))
    staff = [r for r in ROLES if r not in (ANONYMOUS, RESIDENT)]

    def pick(candidates: list[str] | set[str]) -> str:
        ordered = [role for role in ROLES if role in candidates] or ROLES
        return ordered[next(turn) % len(ordered)]

    def cycled(offset: int) -> str:
        return CLASSES[(offset + len(route.key)) % len(CLASSES)]

    # Each role: every query parameter and form field hostile at once (one class each).
    for offset, role in enumerate(ROLES):
        value_class = cycled(offset)
        everything = {name: value_class for name in fields.query}
        query = base + query_string(fields.query, everything)
        yield Attempt(role, "GET", route, f"all query={value_class}", query)
        if is_admin:
            continue
        if is_json:
            body = {name: json_literal(value_class) for name in fields.json or {"events": ""}}
            yield Attempt(
                role, "POST", route, f"all json={value_class}", base, json_body(body), JSON
            )
        everything = {name: value_class for name in form}
        body = form_body(form, everything)
        yield Attempt(role, "POST", route, f"all form={value_class}", base, body)

    # Headers the code reads, each with a class in turn.
    for offset, header in enumerate(HEADERS):
        value_class = cycled(offset * 3)
        yield Attempt(
            pick(fields.reached_by),
            "POST" if is_json else "GET",
            route,
            f"header {header}={value_class}",
            base,
            headers={header: header_value(value_class)},
        )

    # Path parameters: every class the converter lets through.
    for name, value_class, value in hostile_path_values(route):
        values = {**real_values(route, city), name: value}
        path = route.template.format(
            **{k: "%FF%FE" if v == "\udcff\udcfe" else quote(v, safe="") for k, v in values.items()}
        )
        yield Attempt(pick(fields.reached_by), "GET", route, f"path {name}={value_class}", path)
        if not is_admin:
            body = form_body(form, {})
            yield Attempt(
                pick(fields.reached_by), "POST", route, f"path {name}={value_class}", path, body
            )

    if is_admin:
        for value_class in CLASSES:
            if fields.query:
                everything = {name: value_class for name in fields.query}
                query = base + query_string(fields.query, everything)
                roles_seen = set().union(*fields.query_roles.values())
                yield Attempt(pick(roles_seen), "GET", route, f"all query={value_class}", query)
            if form:
                body = form_body(form, {name: value_class for name in form})
                roles_seen = set().union(*fields.form_roles.values())
                yield Attempt(
                    pick(roles_seen), "POST", route, f"all form={value_class}", base, body
                )
    else:
        # One field at a time, every class, the rest as the page gave them.
        for name in fields.query:
            for value_class in CLASSES:
                query = base + query_string(fields.query, {name: value_class})
                role = pick(fields.query_roles[name])
                yield Attempt(role, "GET", route, f"query {name}={value_class}", query)
        for name in form:
            for value_class in CLASSES:
                body = form_body(form, {name: value_class})
                role = pick(fields.form_roles[name])
                yield Attempt(role, "POST", route, f"form {name}={value_class}", base, body)
    for name in fields.json:
        for value_class in [*CLASSES, *JSON_ONLY]:
            body = json_body({**fields.json, name: json_literal(value_class)})
            yield Attempt(
                pick(staff), "POST", route, f"json {name}={value_class}", base, body, JSON
            )

    # Whole bodies of the wrong shape (the admin: the form-encoded ones).
    for what, (raw, content_type) in RAW_BODIES.items():
        if is_admin and content_type != FORM:
            continue
        role = pick(fields.reached_by)
        yield Attempt(role, "POST", route, f"body {what}", base, raw, content_type)


@pytest.fixture
def frozen(now: dt.datetime) -> Iterator[None]:
    # Not ticking: the same requests meet the same holds, windows and session ages every run.
    with time_machine.travel(now, tick=False):
        yield


def test_no_input_gives_a_server_error(
    world: World,
    frozen: None,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # LINE configured, so its webhook checks signatures (unsigned bodies: 4xx) instead of
    # answering 503 "not configured"; the SMS receipt token, so bodies reach the parser.
    settings.LINE_CHANNEL_SECRET = "line-secret"
    settings.LINE_CHANNEL_ACCESS_TOKEN = "line-token"
    settings.SMS_HTTP_RECEIPT_TOKEN = SMS_RECEIPT_TOKEN
    city = seed(world)
    all_routes = routes()
    assert len(all_routes) > 200  # the admin's patterns are in the walk
    fields = discover(city, all_routes, monkeypatch)
    tally = Tally()
    addresses = (f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" for i in itertools.count(1))
    turn = itertools.count()
    for route in all_routes:
        for attempt in attempts(city, route, fields[route.key], turn):
            send(city, attempt, tally, addresses)

    field_count = sum(len(f.query) + len(f.form) + len(f.json) for f in fields.values())
    summary = (
        f"{tally.requests} requests, {sum(n for s, n in tally.statuses.items() if s >= 500)} 5xx "
        f"({len(all_routes)} URL patterns, {field_count} fields, {len(ROLES)} roles); "
        f"statuses {dict(sorted(tally.statuses.items()))}"
    )
    with capsys.disabled():
        print("\nhostile input:", summary)
    assert not tally.failures, summary + "\n" + "\n".join(tally.failures[:200])


@pytest.mark.django_db
def test_control_characters_get_a_page_in_the_visitors_language(client: Client) -> None:
    response = client.get("/?notice=%00", headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "characters that cannot be used" in response.content.decode()

    response = client.post(
        "/", "ticket_number=12%0734", content_type=FORM, headers={"Accept-Language": "ja"}
    )
    assert response.status_code == 400
    assert "使えない文字" in response.content.decode()


@pytest.mark.django_db
def test_invalid_utf8_and_json_clients_get_the_json_error_shape(client: Client) -> None:
    response = client.get("/api/v1/slots/?date=%FF%FE", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_characters"
    # Tab, line feed and carriage return are ordinary text (a memo has lines).
    assert client.get("/?notice=a%09b%0Ac%0D").status_code == 200
