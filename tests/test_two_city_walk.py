"""Two cities, one deployment: staff of city A never see or change city B (issue 18).

City A is 日南市 (452041, the home municipality), city B 都城市 (452025) with its own site, day,
slots, residents, tickets, bookings, a recorded dose, a phone call, a LINE link, messages, export
runs and a member of staff. A's staff, one per role, each assigned to A only (made with
staff_add's service), A's partner API key and a DRF token of A's operator then walk every URL
pattern of the project. The patterns are read from the URLconf, never listed here: a URL added
later is walked without touching this file. Each URL parameter is filled with B's value by its
name (PARAMETERS; for the admin's object pages, B's row of the model: CityB.objects); a
parameter nobody decided about fails the test, naming the pattern, so a new kind of URL forces a
decision instead of being skipped.

Every URL is requested three ways: GET, POST with no body, and POST with a body of B's ids under
the field names forms use (JSON for the API; for the admin a delete_selected of B's row,
"post=yes" confirmations and a new password). A URL without parameters (a list, a search, an API
collection) also gets a GET with B's ids, numbers and surname in its query string.

Each answer must not be a 500 and must not contain a B resident's name, ticket number or
予約番号 (nor B's staff login name), in the body (UTF-8 or Shift_JIS, JSON unescaped) or a
redirect's Location; a value the request itself carried (a code in the path, a number in the
query) is not looked for in its own answer, which may echo it back in a form or a ?next= link.
So that a page showing only what its path carried (the API's booking) is still caught, a URL
naming one of B's own rows must not answer 2xx at all. Each request runs in a savepoint: after
one that wrote anything but its session, B's rows are compared with the walk's start, then rolled
back, so a request that deletes B's resident cannot hide what later URLs would have shown, and a
change is pinned to the request that made it.

Resident pages (channels/web, `p/<token>/…`) are public and address a person by a random token
that exists only in the browser's session: no staff session holds B's, so they are walked with a
token of nobody's, on the default host (A's, the home municipality), anonymously as well as with
each role. A municipality's own pages (`/m/<code>/…`, a city's host) are another URLconf
(channels/web/municipal_urls.py, chosen by middleware) holding the same resident pages, which
serve a city's days by design and name no resident: this walk reads the root URLconf only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.http import HttpResponseBase
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django_otp.plugins.otp_totp.models import TOTPDevice  # type: ignore[import-untyped]
from rest_framework.authtoken.models import Token

from channels.api.models import PartnerKey
from channels.followup.models import (
    FollowedPerson,
    FollowUp,
    FollowUpAnswer,
    FollowUpCall,
    FollowUpPhoto,
    Questionnaire,
)
from channels.followup.services import followup_answer_record, followup_start
from channels.line.models import LineAccount, LineLink
from channels.notify.models import Broadcast, OutboundMessage
from channels.phone.models import Call, CallVolumeEvent, RecordAccess, SeasonPlan
from channels.sms.models import SmsReceipt
from channels.venue.references import walk_in_reference
from channels.voice.models import VoiceCall, VoiceKeyPress
from reservations.identifiers import format_reservation_code
from reservations.models import (
    Campaign,
    Channel,
    CohortOpening,
    DayCancellation,
    DayLot,
    EligibilityRule,
    IntervalRule,
    Municipality,
    OpeningCheck,
    OperatingDay,
    Program,
    Reservation,
    ReservationEvent,
    Resident,
    Site,
    Slot,
    StaffAssignment,
    Ticket,
    Vaccination,
)
from reservations.services.booking import Requester, reservation_book
from reservations.services.rules import rules_load
from reservations.services.staff import ROLE_GROUPS, staff_account_save
from tests.world import World, jst, world_build
from vrs_export.models import ExportBatch, ReconcileRun

NOW = jst(2026, 11, 2, 9, 0)
D = dt.date
STAFF_PASSWORD = "walker-桜-passphrase-2026"  # noqa: S105
# Fewer patterns than this means the walk lost its way (an empty walk must not pass).
MIN_PATTERNS = 150

# Roles whose answers show no booking of A's in this world: every path carries B's ids, the
# exporters' lists hold vaccinations only (A has none), the API lists no bookings (that its
# credentials work is test_a_credentials_reach_a_booking's), anonymous callers see nothing.
SEES_NOTHING_OF_A = {"exporter", "partner_key", "staff_token", "anonymous"}
STAFF_ROLES = list(
    ROLE_GROUPS
)  # operator, supervisor, manager, venue, exporter, admin, health, doctor
ROLES = [*STAFF_ROLES, "partner_key", "staff_token", "anonymous"]


# --- The two cities ------------------------------------------------------------------------


@dataclass
class CityB:
    municipality: Municipality
    site: Site
    day: OperatingDay
    slot: Slot
    other_slot: Slot
    campaign: Campaign
    resident: Resident
    ticket: Ticket
    reservation: Reservation
    vaccinated: Resident
    vaccination: Vaccination
    staff: User
    device: TOTPDevice
    # Health follow-up: B's follow-up, its red answer, the call that answer put on the list,
    # and a photo awaiting a doctor (the staff screens under /followup/).
    followup: FollowUp
    answer: FollowUpAnswer
    followup_call: FollowUpCall
    photo: FollowUpPhoto
    # An automated call to B's resident, ringing, with a key pressed (/voice/…).
    voice_call: VoiceCall
    objects: dict[str, int | str] = field(default_factory=dict)  # admin model label → B's pk
    # What must never reach A's staff: label → text.
    markers: dict[str, str] = field(default_factory=dict)


@dataclass
class CityA:
    world: World
    users: dict[str, User]
    api_key: str
    token: str
    # A's own ticket number and 予約番号: a walk that never shows them did not sign in.
    own: list[str] = field(default_factory=list)


@dataclass
class TwoCities:
    a: CityA
    b: CityB


def _city_a() -> World:
    # The `world` fixture's 日南市 (tests/world.py), built once for the module.
    rules_load()
    return world_build()


def _city_b(world: World) -> CityB:
    neighbour = world.neighbour()
    municipality, site = neighbour.municipality, neighbour.site
    slot = neighbour.slot(D(2026, 11, 10), 10, capacity=5, reserved=1)
    other_slot = neighbour.slot(D(2026, 11, 10), 11, capacity=5, reserved=1)
    day = slot.operating_day
    campaign = Campaign.objects.create(
        code="miyakonojo-local",
        name="都城市独自接種",
        program=Program.objects.get(code="covid-primary"),
        municipality=municipality,
        starts_on=D(2026, 10, 1),
    )

    def resident(name: str, kana: str, number: str) -> Ticket:
        person = Resident.objects.create(
            municipality=municipality,
            name=name,
            name_kana=kana,
            birth_date=D(1950, 4, 1),
            phone="+819087654321",
        )
        return Ticket.objects.create(municipality=municipality, number=number, resident=person)

    ticket = resident("霧島 紫苑", "キリシマ シオン", "4520299991")
    reservation = reservation_book(
        ticket=ticket,
        slot=slot,
        requester=Requester(channel=Channel.WEB),
        now=NOW,
    )
    vaccinated_ticket = resident("霧島 蒼汰", "キリシマ ソウタ", "4520299992")
    vaccination = Vaccination.objects.create(
        resident=vaccinated_ticket.resident,
        ticket=vaccinated_ticket,
        campaign=world.campaign,
        vaccine=world.vaccine,
        antigen=world.vaccine.antigen,
        dose_number=1,
        vaccinated_on=D(2026, 10, 20),
        site=site,
        site_name=site.name,
        lot_number="MK0001",
        given_in_municipality_code=municipality.code,
    )
    staff = staff_account_save(
        username="miyakonojo-kakari",
        role="admin",
        municipality_codes=[municipality.code],
        password=STAFF_PASSWORD,
    ).user
    device = TOTPDevice.objects.create(user=staff, name="都城", confirmed=True)
    Token.objects.create(user=staff)
    b_key, _clear = PartnerKey.objects.create_key(
        name="miyakonojo-portal",
        partner="都城市ポータル",
        user=staff,
        may_book=True,
        may_read_reservations=True,
    )
    assert isinstance(b_key, PartnerKey)
    b_key.municipalities.set([municipality])
    call = Call.objects.create(operator=staff, municipality=municipality, started_at=NOW)
    call.residents.add(ticket.resident)
    access = RecordAccess.objects.create(
        user=staff,
        resident=ticket.resident,
        municipality=municipality,
        action=RecordAccess.Action.VIEWED,
        call=call,
        at=NOW,
    )
    plan = SeasonPlan.objects.create(
        municipality=municipality,
        name="都城市の冬",
        starts_on=D(2026, 10, 1),
        ends_on=D(2027, 1, 31),
    )
    volume = CallVolumeEvent.objects.create(
        municipality=municipality, date=D(2026, 11, 3), kind="mailout", multiplier=2
    )
    account = LineAccount.objects.create(line_user_id="U" + "b" * 32)
    link = LineLink.objects.create(
        account=account, resident=ticket.resident, ticket=ticket, linked_at=NOW
    )
    event = ReservationEvent.objects.filter(reservation=reservation).order_by("pk").first()
    assert event is not None
    message = OutboundMessage.objects.create(
        event=event,
        reservation=reservation,
        resident=ticket.resident,
        channel="sms",
        purpose="confirmation",
        address="+819087654321",
        body=f"{ticket.resident.name}様 予約番号 {format_reservation_code(reservation.code)}",
        provider="test",
        provider_message_id="SMb0001",
    )
    receipt = SmsReceipt.objects.create(
        provider="test",
        provider_message_id="SMb0001",
        provider_status="delivered",
        outcome="delivered",
    )
    later_day = neighbour.day(D(2026, 11, 20))
    cancellation = DayCancellation.objects.create(operating_day=later_day, requested_by=staff)
    broadcast = Broadcast.objects.create(cancellation=cancellation)
    opening = CohortOpening.objects.create(
        municipality=municipality, campaign=campaign, opens_at=NOW + dt.timedelta(days=3)
    )
    check = OpeningCheck.objects.create(opening=opening, ran_at=NOW, trigger="admin", blocked=False)
    DayLot.objects.create(operating_day=day, lot_number="MK0001")
    batch = ExportBatch.objects.create(
        format="ledger",
        encoding="utf-8",
        date_from=D(2026, 10, 1),
        date_to=D(2026, 10, 31),
        municipality_code=municipality.code,
        status="written",
        via="command",
        requested_by=staff,
        requested_by_name=staff.username,
        started_at=NOW,
    )
    run = ReconcileRun.objects.create(
        mode="preview",
        via="command",
        municipality_code=municipality.code,
        sha256="0" * 64,
        requested_by=staff,
        requested_by_name=staff.username,
        started_at=NOW,
    )
    official = None
    try:
        official_model = apps.get_model("line", "LineOfficialAccount")
    except LookupError:
        pass  # a deployment with one LINE account for all (before issue 18's per-city ones)
    else:
        official = official_model.objects.create(
            municipality=municipality,
            channel_id="2000000452",
            channel_secret="b-line-secret-" + "5" * 18,
            channel_access_token="b-line-token-" + "7" * 40,
        )
    national_rule = EligibilityRule.objects.order_by("pk").first()
    national_interval = IntervalRule.objects.order_by("pk").first()
    assert national_rule is not None and national_interval is not None
    # Health follow-up: a home-care patient of B on the shipped (national) questionnaire.
    home_care = Questionnaire.objects.get(code="home-care", version=1)
    followed = FollowedPerson.objects.create(
        municipality=municipality,
        resident=ticket.resident,
        name=ticket.resident.name,
        phone="+819087654321",
        birth_date=ticket.resident.birth_date,
        ticket_number=ticket.number,
    )
    followup = followup_start(
        person=followed,
        questionnaire=home_care,
        start_date=D(2026, 11, 2),
        days=7,
        now=jst(2026, 11, 2, 9, 0),
    ).followup
    # A red answer today (SpO2 90): B's alert, and B's call at the top of B's call list.
    answer = followup_answer_record(
        followup,
        D(2026, 11, 2),
        {"temperature": "37.0", "spo2": "90", "pulse": "80", "symptoms": ["none"]},
        now=jst(2026, 11, 2, 8, 30),
    ).answer
    followup_call = FollowUpCall.objects.get(followup=followup)
    photo = FollowUpPhoto.objects.create(
        followup=followup,
        for_date=D(2026, 11, 2),
        question_key="kit",
        stored_name="walkerPhotoOfCityB0000001.jpg",
        content_type="image/jpeg",
        size_bytes=1000,
        uploaded_at=jst(2026, 11, 2, 8, 40),
    )
    voice_call = VoiceCall.objects.create(
        reference="walker-b-reminder",
        flow="reminder",
        to="+819087654321",
        municipality=municipality,
        resident=ticket.resident,
        provider="console",
        provider_call_id="console-walker-b",
        result=VoiceCall.Result.IN_PROGRESS,
        line=0,
        placed_at=jst(2026, 11, 2, 10, 0),
        answered_at=jst(2026, 11, 2, 10, 0),
    )
    VoiceKeyPress.objects.create(
        call=voice_call,
        step="menu",
        digits="1",
        action=VoiceKeyPress.Action.CONFIRMED,
        pressed_at=jst(2026, 11, 2, 10, 1),
    )

    city = CityB(
        municipality=municipality,
        site=site,
        day=day,
        slot=slot,
        other_slot=other_slot,
        campaign=campaign,
        resident=ticket.resident,
        ticket=ticket,
        reservation=reservation,
        vaccinated=vaccinated_ticket.resident,
        vaccination=vaccination,
        staff=staff,
        device=device,
        followup=followup,
        answer=answer,
        followup_call=followup_call,
        photo=photo,
        voice_call=voice_call,
    )
    # The admin's object pages: B's row of each model. Rows no city owns (national vaccines,
    # programmes and rules, the role groups, django-axes' sign-in log) are walked with a
    # national row or none: they show no resident, and the markers still apply.
    city.objects = {
        "authtoken.tokenproxy": staff.pk,  # DRF's proxy is addressed by its user's pk
        "reservations.municipality": municipality.pk,
        "reservations.site": site.pk,
        "reservations.operatingday": day.pk,
        "reservations.slot": slot.pk,
        "reservations.resident": ticket.resident.pk,
        "reservations.ticket": ticket.pk,
        "reservations.vaccine": world.vaccine.pk,  # national
        "reservations.program": Program.objects.get(code="covid-primary").pk,  # national
        "reservations.campaign": campaign.pk,
        "reservations.eligibilityrule": national_rule.pk,  # national
        "reservations.cohortopening": opening.pk,
        "reservations.intervalrule": national_interval.pk,  # national
        "auth.user": staff.pk,
        "auth.group": staff.groups.get().pk,  # shared by every city
        "reservations.daycancellation": cancellation.pk,
        "reservations.openingcheck": check.pk,
        "reservations.reservation": reservation.pk,
        "reservations.reservationevent": event.pk,
        "reservations.vaccination": vaccination.pk,
        "line.linelink": link.pk,
        "line.lineaccount": account.pk,
        "phone.callvolumeevent": volume.pk,
        "phone.call": call.pk,
        "phone.recordaccess": access.pk,
        "phone.seasonplan": plan.pk,
        "api.partnerkey": b_key.pk,
        "notify.outboundmessage": message.pk,
        "notify.broadcast": broadcast.pk,
        "sms.smsreceipt": receipt.pk,
        "vrs_export.exportbatch": batch.pk,
        "vrs_export.reconcilerun": run.pk,
        # django-axes' logs belong to no city; pk 1 is whatever sign-in came first, or none.
        "axes.accessattempt": 1,
        "axes.accesslog": 1,
        "axes.accessfailurelog": 1,
        "otp_totp.totpdevice": device.pk,
        "followup.questionnaire": home_care.pk,  # national
        "followup.question": home_care.questions.order_by("pk").first().pk,  # national
        "followup.followedperson": followed.pk,
        "followup.followup": followup.pk,
        "voice.voicecall": voice_call.pk,
    }
    if official is not None:
        city.objects["line.lineofficialaccount"] = official.pk
    code = reservation.code
    city.markers = {
        "B resident name": "紫苑",
        "B resident kana": "シオン",
        "B resident name (vaccinated)": "蒼汰",
        "B resident kana (vaccinated)": "ソウタ",
        "B ticket number": ticket.number,
        "B ticket number (vaccinated)": vaccinated_ticket.number,
        "B 予約番号": code,
        "B 予約番号 (formatted)": format_reservation_code(code),
        "B staff login": staff.username,
    }
    if official is not None:
        city.markers["B LINE channel secret"] = official.channel_secret
        city.markers["B LINE access token"] = official.channel_access_token
    return city


def _city_a_staff(world: World) -> CityA:
    users = {
        role: staff_account_save(
            username=f"nichinan-{role}",
            role=role,
            municipality_codes=[world.municipality.code],
            password=STAFF_PASSWORD,
        ).user
        for role in STAFF_ROLES
    }
    # A's own resident and booking, so that A's pages have something of their own to show.
    mine = world.resident(name="日南 花子")
    own = reservation_book(
        ticket=mine,
        slot=world.slot(D(2026, 11, 10)),
        requester=Requester(channel=Channel.WEB),
        now=NOW,
    )
    # A's own follow-up on the walk's day: what A's health-centre staff and doctors see of A.
    a_followed = FollowedPerson.objects.create(
        municipality=world.municipality,
        name="油津 観察",
        phone="+819011110000",
        birth_date=D(1948, 5, 5),
    )
    followup_start(
        person=a_followed,
        questionnaire=Questionnaire.objects.get(code="home-care", version=1),
        start_date=D(2026, 11, 2),
        days=7,
        now=NOW,
    )
    partner = staff_account_save(
        username="nichinan-portal",
        role="admin",
        municipality_codes=[world.municipality.code],
        password=STAFF_PASSWORD,
    ).user
    key, clear = PartnerKey.objects.create_key(
        name="nichinan-portal",
        partner="日南市ポータル",
        user=partner,
        may_read_availability=True,
        may_read_reservations=True,
        may_book=True,
        may_change=True,
        may_record_vaccinations=True,
    )
    assert isinstance(key, PartnerKey)
    key.municipalities.set([world.municipality])
    token = Token.objects.create(user=users["operator"])
    return CityA(
        world=world,
        users=users,
        api_key=clear,
        token=token.key,
        own=[mine.number, own.code, format_reservation_code(own.code), a_followed.name],
    )


@pytest.fixture(scope="module")
def two_cities(django_db_setup: None, django_db_blocker: Any) -> Iterator[TwoCities]:
    """One world for the module, inside a transaction rolled back after its last test; each
    test's own transaction (pytest-django's `db`) nests inside it."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            with (
                time_machine.travel(NOW, tick=False),
                override_settings(
                    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
                ),
            ):
                world = _city_a()
                b = _city_b(world)
                a = _city_a_staff(world)
            yield TwoCities(a=a, b=b)
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


# --- Filling URL parameters with B's values ------------------------------------------------


class UnknownParameter(Exception):
    pass


# Parameter name → [(route prefix it applies under, B's value)], first match wins. A name with
# no entry, or used under no listed prefix, is undecided: the test fails naming the pattern.
# ("" applies everywhere.) Admin object ids come from CityB.objects by the model in the route.
PARAMETERS: dict[str, list[tuple[str, Callable[[CityB], Any]]]] = {
    "pk": [("phone/r/", lambda b: b.resident.pk)],
    "day_id": [("", lambda b: b.day.pk)],
    "reservation_id": [("", lambda b: b.reservation.pk)],
    "ticket_id": [("", lambda b: b.ticket.pk)],
    # The venue's walk-in page names a ticket by a reference signed for one day: B's ticket on
    # B's day, as the find step would hand it out to B's own staff.
    "reference": [("venue/", lambda b: walk_in_reference(day_id=b.day.pk, ticket_id=b.ticket.pk))],
    "record_id": [("", lambda b: b.vaccination.record_id)],
    "code": [
        ("venue/", lambda b: b.reservation.code),
        ("api/", lambda b: b.reservation.code),
        ("p/", lambda b: b.reservation.code),
        # A municipality's own LINE webhook: B's 全国地方公共団体コード.
        ("line/", lambda b: b.municipality.code),
    ],
    # Resident pages: tokens live only in the signing-in browser's session; no staff session
    # can hold B's, so the walk uses one nobody holds (module docstring).
    "token": [
        ("p/", lambda b: "walker-token-of-nobody"),
        # The follow-up's answer link: whoever holds a real one may answer (that is the
        # link's design), so the walk, like the resident pages', uses one nobody holds.
        ("f/", lambda b: "walker-token-of-nobody"),
    ],
    "content_type_id": [("admin/r/", lambda b: ContentType.objects.get_for_model(Resident).pk)],
    "object_id": [("admin/r/", lambda b: b.resident.pk)],
    # The admin's app index and catch-all: B's resident page without its slash.
    "app_label": [("admin/", lambda b: "reservations")],
    "url": [("admin/", lambda b: f"reservations/resident/{b.resident.pk}/change")],
    # The LINE simulator's stand-in for LINE's API, and SMS providers' callbacks.
    "kind": [("line/", lambda b: "push")],
    "provider": [("sms/", lambda b: "test")],
    # The health-centre staff screens: B's follow-up, alert answer, call and photo.
    "followup_id": [("followup/", lambda b: b.followup.pk)],
    "answer_id": [("followup/", lambda b: b.answer.pk)],
    "call_id": [
        ("followup/", lambda b: b.followup_call.pk),
        # An automated call: the provider's signed webhooks and the staff simulator.
        ("voice/", lambda b: b.voice_call.pk),
    ],
    "step": [("voice/", lambda b: "menu")],
    "photo_id": [("followup/", lambda b: b.photo.pk)],
}
# Parameters that name one of B's own rows: a URL carrying one must not answer 2xx to A, even
# where the answer shows no marker (the API's booking shows neither name nor ticket number, and
# its 予約番号 is the one in the path). Admin object ids count unless the row is national.
B_ROW_PARAMETERS = {"pk", "id", "object_id", "day_id", "reservation_id", "ticket_id"}
B_ROW_PARAMETERS |= {"record_id", "code", "reference"}
B_ROW_PARAMETERS |= {"followup_id", "answer_id", "call_id", "photo_id"}
NATIONAL_ADMIN_OBJECTS = {
    "followup.questionnaire",
    "followup.question",
    "reservations.vaccine",
    "reservations.program",
    "reservations.eligibilityrule",
    "reservations.intervalrule",
    "auth.group",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
}
PARAMETER_NAME = re.compile(r"<(?:[^>:]+:)?([^>]+)>")
ADMIN_OBJECT_ROUTE = re.compile(r"^admin/(?P<app>[a-z_]+)/(?P<model>[a-z_]+)/")
ADMIN_OBJECT_PARAMETERS = {"object_id", "pk", "id"}
ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _admin_model(route: str) -> str | None:
    match = ADMIN_OBJECT_ROUTE.match(route)
    if match is None:
        return None
    label = f"{match['app']}.{match['model']}"
    return label if label != "r." else None


def parameter_value(b: CityB, route: str, name: str) -> str:
    label = _admin_model(route)
    if label is not None and name in ADMIN_OBJECT_PARAMETERS:
        if label not in b.objects:
            raise UnknownParameter(
                f"{route}: no B object of the admin model {label} (add it to CityB.objects)"
            )
        return str(b.objects[label])
    for prefix, value in PARAMETERS.get(name, []):
        if route.startswith(prefix):
            return str(value(b))
    raise UnknownParameter(f"{route}: parameter {name!r} has no B value (PARAMETERS)")


def _fill_regex(regex: str, fill: Callable[[str], str]) -> str:
    """A regex pattern's path with each named group replaced by its value; the anchors go."""
    out, i = [], 0
    while i < len(regex):
        if regex.startswith("(?P<", i):
            end_name = regex.index(">", i)
            name = regex[i + 4 : end_name]
            depth, j = 1, end_name + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(regex[j], 0)
                j += 1
            out.append(fill(name))
            i = j
            continue
        if regex[i] in "^$" or regex.startswith("\\Z", i):
            i += 2 if regex[i] == "\\" else 1
            continue
        if regex[i] in "()[]*+?|{}\\":
            raise UnknownParameter(f"{regex}: an unnamed regex part the walk cannot fill")
        out.append(regex[i])
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Walked:
    route: str  # the pattern as written, e.g. "venue/day/<int:day_id>/"
    path: str  # filled with B's values
    admin_model: str | None

    @property
    def has_parameters(self) -> bool:
        return "<" in self.route or "(?P" in self.route

    @property
    def names_b_row(self) -> bool:
        if self.admin_model in NATIONAL_ADMIN_OBJECTS:
            return False
        return bool(B_ROW_PARAMETERS.intersection(PARAMETER_NAME.findall(self.route)))


def walk_patterns(b: CityB) -> tuple[list[Walked], list[str]]:
    """Every URL pattern of the URLconf, filled; and the patterns that could not be."""
    walked: list[Walked] = []
    undecided: list[str] = []

    def visit(resolver: URLResolver, prefix_route: str, prefix_path: str) -> None:
        for entry in resolver.url_patterns:
            route = prefix_route + str(entry.pattern)
            try:
                part = _fill(entry.pattern, prefix_route + str(entry.pattern), b)
            except UnknownParameter as exc:
                undecided.append(str(exc))
                continue
            if isinstance(entry, URLResolver):
                visit(entry, route, prefix_path + part)
            elif isinstance(entry, URLPattern):
                walked.append(Walked(route, "/" + prefix_path + part, _admin_model(route)))

    visit(get_resolver(), "", "")
    return walked, undecided


def _fill(pattern: Any, route: str, b: CityB) -> str:
    if isinstance(pattern, RoutePattern):
        converters = pattern.converters

        def substitute(match: re.Match[str]) -> str:
            name = match["name"]
            return str(converters[name].to_url(parameter_value(b, route, name)))

        return ROUTE_PARAMETER.sub(substitute, str(pattern))
    if isinstance(pattern, RegexPattern):
        return _fill_regex(str(pattern), lambda name: parameter_value(b, route, name))
    raise UnknownParameter(f"{route}: a pattern of type {type(pattern).__name__}")


# --- Requests ------------------------------------------------------------------------------


def b_query(b: CityB) -> dict[str, Any]:
    """B's ids and numbers under the names lists and searches filter by."""
    return {
        "q": b.ticket.number,
        "ticket_number": b.ticket.number,
        "number": b.ticket.number,
        "name": "霧島",
        "code": b.reservation.code,
        "municipality": b.municipality.code,
        "municipality_code": b.municipality.code,
        "municipality__id__exact": b.municipality.pk,
        "site": b.site.pk,
        "site_id": b.site.pk,
        "day": b.day.pk,
        "date": b.day.date.isoformat(),
        "date_from": "2026-10-01",
        "date_to": "2026-11-30",
        "resident": b.resident.pk,
    }


def b_body(b: CityB, admin_model: str | None) -> dict[str, Any]:
    """A form's worth of B's ids: what a page or the API would need to act on B's rows."""
    body: dict[str, Any] = {
        **b_query(b),
        "ticket": b.ticket.pk,
        "ticket_id": b.ticket.pk,
        "birth_date": "1950-04-01",
        "resident_id": b.resident.pk,
        "reservation": b.reservation.pk,
        "reservation_id": b.reservation.pk,
        "reservation_code": b.reservation.code,
        "slot": b.other_slot.pk,
        "slot_id": b.other_slot.pk,
        "new_slot": b.other_slot.pk,
        "operating_day": b.day.pk,
        "day_id": b.day.pk,
        "record_id": str(b.vaccination.record_id),
        "vaccination": b.vaccination.pk,
        "lot_number": "MK0001",
        "lot": "MK0001",
        "vials_opened": 3,
        "dose_number": 1,
        "vaccinated_on": "2026-11-01",
        "outcome": "vaccinated",
        "reason": "歩行テスト",
        "cancel_reason": "歩行テスト",
        "change_reason": "歩行テスト",
        "override_reason": "歩行テスト",
        "phone": "09011112222",
        "sms_consent": "on",
        "confirm": "yes",
        "mode": "apply",
        "format": "ledger",
        "program": "covid-routine",
        # The admin: delete B's row from its list, confirm a delete, set a password.
        "post": "yes",
        "password1": "Zz9-walker-漢字-pass",
        "password2": "Zz9-walker-漢字-pass",
        "select_across": "0",
        "index": "0",
    }
    if admin_model is not None:
        body["action"] = "delete_selected"
        body["_selected_action"] = [b.objects.get(admin_model, 0)]
    return body


def snapshot_b(b: CityB) -> dict[str, list[Any]]:
    """B's rows as they stand: what no request of A's may change."""
    m = b.municipality.pk
    return {
        "municipality": list(Municipality.objects.filter(pk=m).values_list()),
        "sites": list(Site.objects.filter(municipality=m).values_list().order_by("pk")),
        "days": list(
            OperatingDay.objects.filter(site__municipality=m).values_list().order_by("pk")
        ),
        "slots": list(
            Slot.objects.filter(operating_day__site__municipality=m)
            .values_list("pk", "capacity", "phone_reserved", "booked", "booked_staff")
            .order_by("pk")
        ),
        "residents": list(Resident.objects.filter(municipality=m).values_list().order_by("pk")),
        "tickets": list(Ticket.objects.filter(municipality=m).values_list().order_by("pk")),
        "reservations": list(
            Reservation.objects.filter(resident__municipality=m)
            .values_list("pk", "code", "status", "slot_id", "ticket_id", "checked_in_at")
            .order_by("pk")
        ),
        "events": list(
            ReservationEvent.objects.filter(reservation__resident__municipality=m)
            .values_list("pk")
            .order_by("pk")
        ),
        "vaccinations": list(
            Vaccination.objects.filter(resident__municipality=m)
            .values_list("pk", "record_id", "version", "status", "lot_number")
            .order_by("pk")
        ),
        "lots": list(DayLot.objects.filter(operating_day__site__municipality=m).values_list()),
        "day_cancellations": list(
            DayCancellation.objects.filter(operating_day__site__municipality=m).values_list(
                "pk", "approved_at"
            )
        ),
        "line_links": list(
            LineLink.objects.filter(resident__municipality=m).values_list("pk", "is_active")
        ),
        "staff": list(
            User.objects.filter(pk=b.staff.pk).values_list(
                "username", "password", "is_active", "is_staff", "is_superuser"
            )
        ),
        "staff_assignments": list(
            StaffAssignment.objects.filter(user=b.staff).values_list().order_by("pk")
        ),
        "partner_keys": list(
            PartnerKey.objects.filter(municipalities=m).values_list("pk", "revoked").order_by("pk")
        ),
        "totp": list(TOTPDevice.objects.filter(user=b.staff).values_list("pk", "confirmed")),
        "followups": list(
            FollowUp.objects.filter(person__municipality=m)
            .values_list("pk", "status", "ended_at")
            .order_by("pk")
        ),
        "followup_answers": list(
            FollowUpAnswer.objects.filter(followup__person__municipality=m)
            .values_list("pk", "acknowledged_at", "resolved_at", "resolution_note")
            .order_by("pk")
        ),
        "followup_calls": list(
            FollowUpCall.objects.filter(followup__person__municipality=m)
            .values_list("pk", "done_at", "outcome")
            .order_by("pk")
        ),
        "voice_calls": list(
            VoiceCall.objects.filter(municipality=m)
            .values_list("pk", "result", "line", "ended_at", "answered_at")
            .order_by("pk")
        ),
        "voice_keys": list(
            VoiceKeyPress.objects.filter(call__municipality=m).values_list("pk").order_by("pk")
        ),
        "followup_photos": list(
            FollowUpPhoto.objects.filter(followup__person__municipality=m)
            .values_list("pk", "status", "reviewed_at")
            .order_by("pk")
        ),
    }


def response_text(response: HttpResponseBase) -> str:
    """The body as text (UTF-8, and Shift_JIS for exports written in it), with the Location
    of a redirect and JSON's \\u escapes undone."""
    if getattr(response, "streaming", False):
        raw = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    else:
        raw = response.content  # type: ignore[attr-defined]
    texts = [raw.decode("utf-8", errors="replace"), raw.decode("cp932", errors="replace")]
    if response.get("Content-Type", "").startswith("application/json") and raw:
        with contextlib.suppress(ValueError):
            texts.append(json.dumps(json.loads(raw), ensure_ascii=False))
    texts.append(response.get("Location", ""))
    texts.append(unquote(response.get("Location", "")))
    return "\n".join(texts)


@dataclass
class Finding:
    role: str
    route: str
    request: str  # e.g. "POST body /venue/day/7/"
    what: str

    @property
    def area(self) -> str:
        head = self.route.split("/", 1)[0]
        return {"": "web", "p": "web", "signout": "web", "health": "web"}.get(head, head)


def _request(
    client: Client, how: str, path: str, b: CityB, walked: Walked, headers: dict[str, str]
) -> tuple[str, HttpResponseBase]:
    is_api = walked.route.startswith("api/")
    if how == "GET":
        return path, client.get(path, headers=headers)
    if how == "GET query":
        query = urlencode(b_query(b), doseq=True)
        return f"{path}?{query}", client.get(f"{path}?{query}", headers=headers)
    if how == "POST empty":
        return path, client.post(path, headers=headers)
    body = b_body(b, walked.admin_model)
    if is_api:
        data = json.dumps(body)
        return f"{path} {data}", client.post(
            path, data, content_type="application/json", headers=headers
        )
    return f"{path} {urlencode(body, doseq=True)}", client.post(path, body, headers=headers)


REQUESTS = ["GET", "GET query", "POST empty", "POST body"]
WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
SESSION_TABLE = "django_session"


def _client_for(role: str, cities: TwoCities) -> tuple[Client, dict[str, str], User | None]:
    client = Client(raise_request_exception=True)
    if role == "partner_key":
        return client, {"authorization": f"Api-Key {cities.a.api_key}"}, None
    if role == "staff_token":
        return client, {"authorization": f"Token {cities.a.token}"}, None
    if role == "anonymous":
        return client, {}, None
    user = User.objects.get(pk=cities.a.users[role].pk)
    client.force_login(user)  # with the second factor given (tests/conftest.py)
    return client, {}, user


def walk_as(role: str, cities: TwoCities) -> tuple[int, list[Finding], bool]:
    b = cities.b
    walked, undecided = walk_patterns(b)
    assert not undecided, "URL parameters with no decided B value:\n" + "\n".join(undecided)
    client, headers, user = _client_for(role, cities)
    findings: list[Finding] = []
    before = snapshot_b(b)
    saw_own = False
    for entry in walked:
        for how in REQUESTS:
            if how == "GET query" and entry.has_parameters:
                continue  # B's ids are in its path already; lists and searches get the query
            savepoint = transaction.savepoint()
            try:
                with CaptureQueriesContext(connection) as queries:
                    sent, response = _request(client, how, entry.path, b, entry, headers)
            except Exception as exc:  # noqa: BLE001 (every failure is a finding)
                transaction.savepoint_rollback(savepoint)
                findings.append(
                    Finding(role, entry.route, f"{how} {entry.path}", f"raised {exc!r}"[:300])
                )
                continue
            # Rows change only by writing: B's rows are read again only after a request that
            # wrote something other than its session.
            wrote = any(
                WRITE.match(query["sql"]) and SESSION_TABLE not in query["sql"]
                for query in queries.captured_queries
            )
            after = snapshot_b(b) if wrote else before
            transaction.savepoint_rollback(savepoint)
            if entry.names_b_row and 200 <= response.status_code < 300:
                findings.append(
                    Finding(
                        role,
                        entry.route,
                        f"{how} {entry.path}",
                        f"answers {response.status_code} to B's id",
                    )
                )
            if response.status_code == 500:
                findings.append(
                    Finding(role, entry.route, f"{how} {entry.path}", f"{response.status_code}")
                )
            text = response_text(response)
            saw_own = saw_own or any(mine in text for mine in cities.a.own)
            leaked = [
                label
                for label, marker in b.markers.items()
                if marker in text and marker not in sent
            ]
            if leaked:
                findings.append(
                    Finding(
                        role,
                        entry.route,
                        f"{how} {entry.path} → {response.status_code}",
                        "shows " + ", ".join(leaked),
                    )
                )
            if after != before:
                changed = sorted(k for k in before if before[k] != after[k])
                findings.append(
                    Finding(
                        role,
                        entry.route,
                        f"{how} {entry.path} → {response.status_code}",
                        "changes B's " + ", ".join(changed),
                    )
                )
            # A sign-out must not turn the rest of the walk anonymous (it empties the cookie).
            cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
            if user is not None and (cookie is None or not cookie.value):
                client.force_login(user)
    assert snapshot_b(b) == before
    return len(walked), findings, saw_own


def report(findings: list[Finding]) -> str:
    by_area: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_area[finding.area].append(finding)
    lines = []
    for area in sorted(by_area):
        lines.append(f"== {area} ({len(by_area[area])})")
        lines.extend(f"  [{f.role}] {f.route} | {f.request} | {f.what}" for f in by_area[area])
    return "\n".join(lines)


@pytest.mark.parametrize("role", ROLES)
def test_city_a_sees_and_changes_nothing_of_city_b(
    role: str, two_cities: TwoCities, db: None, season_clock: Any
) -> None:
    walked, findings, saw_own = walk_as(role, two_cities)
    print(f"\n{role}: walked {walked} URL patterns")
    assert walked > MIN_PATTERNS
    # The walk is signed in: somewhere A's own booking shows (an admin list, the API's).
    assert saw_own or role in SEES_NOTHING_OF_A, f"{role} never saw A's own data"
    assert not findings, f"{role}: {len(findings)} findings\n" + report(findings)


def test_every_url_parameter_has_a_decided_b_value(two_cities: TwoCities, db: None) -> None:
    walked, undecided = walk_patterns(two_cities.b)
    assert not undecided, "\n".join(undecided)
    assert len(walked) > MIN_PATTERNS
    # The walk reaches the staff areas and the API, with B's ids in their paths.
    paths = {w.path for w in walked}
    b = two_cities.b
    assert f"/venue/day/{b.day.pk}/r/{b.reservation.code}/" in paths
    assert f"/phone/r/{b.resident.pk}/" in paths
    assert f"/followup/{b.followup.pk}/" in paths
    assert f"/followup/alerts/{b.answer.pk}/resolve/" in paths
    assert f"/followup/calls/{b.followup_call.pk}/done/" in paths
    assert f"/followup/photos/{b.photo.pk}/image/" in paths
    assert f"/api/v1/reservations/{b.reservation.code}/" in paths
    assert f"/admin/reservations/resident/{b.resident.pk}/change/" in paths


def test_an_undecided_parameter_fails_naming_the_pattern(two_cities: TwoCities, db: None) -> None:
    with pytest.raises(UnknownParameter, match="m/<str:city>/"):
        parameter_value(two_cities.b, "m/<str:city>/", "city")
    with pytest.raises(UnknownParameter, match="reports/<int:pk>/"):
        parameter_value(two_cities.b, "reports/<int:pk>/", "pk")
    with pytest.raises(UnknownParameter, match="admin/newapp/thing"):
        parameter_value(two_cities.b, "admin/newapp/thing/<path:object_id>/", "object_id")


@pytest.mark.parametrize(
    ("role", "page"),
    [
        ("admin", "/admin/reservations/resident/{resident}/change/"),
        ("operator", "/phone/r/{resident}/"),
        ("venue", "/venue/day/{day}/"),
        ("venue", "/venue/day/{day}/r/{code}/"),
        ("partner_key", "/api/v1/reservations/{code}/"),
        ("health", "/followup/{followup}/"),
        ("health", "/followup/alerts/"),
        ("doctor", "/followup/photos/"),
    ],
)
def test_the_walk_would_see_b_where_b_is_shown(
    role: str, page: str, two_cities: TwoCities, db: None, season_clock: Any
) -> None:
    """The walk's checks can fail: B's own staff are shown B's markers on pages the walk visits,
    and B's own partner key gets a 200 for B's booking."""
    b = two_cities.b
    client = Client()
    headers = {}
    if role == "partner_key":
        key = PartnerKey.objects.get(name="miyakonojo-portal")
        _key, clear = PartnerKey.objects.create_key(
            name="miyakonojo-check", partner=key.partner, user=b.staff, may_read_reservations=True
        )
        assert isinstance(_key, PartnerKey)
        _key.municipalities.set([b.municipality])
        headers = {"authorization": f"Api-Key {clear}"}
    else:
        own = staff_account_save(
            username=f"miyakonojo-{role}",
            role=role,
            municipality_codes=[b.municipality.code],
            password=STAFF_PASSWORD,
        ).user
        client.force_login(User.objects.get(pk=own.pk))
    path = page.format(
        resident=b.resident.pk,
        day=b.day.pk,
        code=b.reservation.code,
        ticket=b.ticket.number,
        followup=b.followup.pk,
    )
    response = client.get(path, headers=headers)
    text = response_text(response)
    # A 2xx alone is what the walk flags on a URL naming B's row (Walked.names_b_row).
    assert response.status_code == 200, f"{path}: {text[:500]}"
    if role != "partner_key":
        shown = [label for label, m in b.markers.items() if m in text and m not in path]
        assert shown, f"{path}: none of B's markers"


@pytest.mark.parametrize("role", ["partner_key", "staff_token"])
def test_a_credentials_reach_a_booking(
    role: str, two_cities: TwoCities, db: None, season_clock: Any
) -> None:
    """The API walk is signed in: A's key and A's operator's token open A's own booking."""
    client, headers, _user = _client_for(role, two_cities)
    code = two_cities.a.own[1]
    response = client.get(f"/api/v1/reservations/{code}/", headers=headers)
    assert response.status_code == 200, response_text(response)[:500]
