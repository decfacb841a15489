"""Demo data: after `migrate` and `seed_demo` alone, residents aged 65+ can book today.

Creates 宮崎県日南市 (a real municipality code; every person, phone number and the clinic are
fictional), three sites with operating days from today through the next 28 days, a few hundred
residents with tickets, and four staff logins. Idempotent: running it again adds nothing, and
running it on a later day adds the days that came into the window. `--today` freezes the date
(tests, and rehearsing a season).

The first three residents are fixed so the README can name them:
ticket 0000000001 born 1950-04-01 (昭和25年4月1日), 0000000002 born 1945-08-15, and
0000000003 born 1963-02-10 (60–64, with the high-risk attestation).

日南市 has automated voice calls on (channels/voice), and the second of them, who has only a
landline (0987-23-0002), is booked for the first operating day after today: the reminder scan
of the day before calls her, and with the console voice backend the call rings in the staff
call simulator (/voice/simulator/).

`--municipality CODE [--name NAME] [--name-en NAME]` adds another demo city beside it (a
deployment serving several cities): its own three sites, days, campaigns and residents, whose
ticket numbers start from the city code (都城市 452025: 4520200001, …) so that they never
collide with 日南市's. The staff logins are made with 日南市 only.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from reservations import roles
from reservations.exceptions import ReservationError
from reservations.identifiers import (
    IdentifierError,
    format_wareki,
    is_mobile_phone,
    normalize_municipality_code,
    normalize_phone,
    published_municipality_name,
)
from reservations.models import (
    Actor,
    Campaign,
    Channel,
    Municipality,
    OperatingDay,
    Reservation,
    Resident,
    Site,
    Slot,
    StaffAssignment,
    Ticket,
    Vaccine,
)
from reservations.services.booking import Requester, reservation_book
from reservations.services.rules import rules_load
from reservations.services.slots import operating_days_generate
from reservations.signals import demo_seeded

MUNICIPALITY_CODE = "452041"
DEMO_DAYS_AHEAD = 28
# A demo campaign made when the national one does not cover the demo window.
DEMO_CAMPAIGN_DAYS = 60
RANDOM_SEED = 452041
# Published in the README; the command refuses to create these logins outside DEBUG.
DEMO_PASSWORD = "madoguchi-demo"  # noqa: S105

FULL_WIDTH_SPACE = "\u3000"


@dataclass(frozen=True)
class DemoSite:
    name: str
    name_en: str
    short_name: str
    kind: str
    address: str
    vaccine: str
    campaign: str
    capacity: int
    phone_reserved: int


SITES = (
    DemoSite(
        "日南市文化センター",
        "Nichinan City Cultural Center",
        "文化センター",
        Site.Kind.MASS,
        "宮崎県日南市中央通1丁目6番地1",
        "pfizer-12",
        "covid-routine-2026",
        6,
        2,
    ),
    DemoSite(
        "油津地区公民館",
        "Aburatsu Community Hall",
        "油津公民館",
        Site.Kind.MASS,
        "宮崎県日南市油津2丁目3番10号",
        "moderna",
        "covid-routine-2026",
        6,
        2,
    ),
    DemoSite(
        "日南ファミリークリニック",
        "Nichinan Family Clinic",
        "ファミリークリニック",
        Site.Kind.CLINIC,
        "宮崎県日南市吾田西1丁目8番12号",
        "influenza-ha",
        "influenza-routine-2026",
        3,
        1,
    ),
)

MUNICIPALITY_NAME_EN = "Nichinan City"
WHAT_TO_BRING_EN = (
    "Vaccination ticket, pre-vaccination questionnaire, photo ID, "
    "medication notebook (if you have one)"
)
# The demo round's programme in English (the national campaigns carry their own name_en).
PROGRAM_NAMES_EN = {
    "covid-routine": "COVID-19 routine vaccination",
    "influenza-routine": "Influenza routine vaccination for older people",
}

SEASON_PATTERN: dict[str, Any] = {
    "weekdays": [0, 1, 2, 3, 4, 5],
    "opens_at": dt.time(9, 0),
    "break_start": dt.time(12, 0),
    "break_end": dt.time(13, 0),
    "closes_at": dt.time(16, 30),
    "slot_minutes": 15,
    "booking_opens_days_before": 60,
    "booking_closes_days_before": 0,
    "change_closes_days_before": 1,
    "phone_reserve_release_hours": 24,
    "skip_closed_days": True,
}

STAFF_ACCOUNTS = (
    ("operator", roles.OPERATORS, False),
    ("venue", roles.VENUE_STAFF, False),
    ("exporter", roles.EXPORTERS, False),
    ("admin", roles.ADMINISTRATORS, True),
    # Health follow-up (channels/followup: its groups are made by its own migrate step).
    ("health", roles.HEALTH_CENTRE_STAFF, False),
    ("doctor", roles.FOLLOWUP_DOCTORS, False),
)

FAMILY_NAMES = (
    ("黒木", "クロキ"),
    ("甲斐", "カイ"),
    ("河野", "カワノ"),
    ("日高", "ヒダカ"),
    ("長友", "ナガトモ"),
    ("児玉", "コダマ"),
    ("戸高", "トダカ"),
    ("押川", "オシカワ"),
    ("岩切", "イワキリ"),
    ("外山", "トヤマ"),
    ("椎葉", "シイバ"),
    ("川越", "カワゴエ"),
    ("田中", "タナカ"),
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("山下", "ヤマシタ"),
    ("松田", "マツダ"),
    ("井上", "イノウエ"),
    ("中村", "ナカムラ"),
    ("谷口", "タニグチ"),
    ("矢野", "ヤノ"),
    ("横山", "ヨコヤマ"),
    ("小野", "オノ"),
)
MALE_NAMES = (
    ("茂", "シゲル"),
    ("勝", "マサル"),
    ("博", "ヒロシ"),
    ("清", "キヨシ"),
    ("正夫", "マサオ"),
    ("和夫", "カズオ"),
    ("隆", "タカシ"),
    ("誠", "マコト"),
    ("健一", "ケンイチ"),
    ("修", "オサム"),
    ("実", "ミノル"),
    ("進", "ススム"),
    ("浩二", "コウジ"),
    ("一郎", "イチロウ"),
)
FEMALE_NAMES = (
    ("和子", "カズコ"),
    ("幸子", "サチコ"),
    ("節子", "セツコ"),
    ("洋子", "ヨウコ"),
    ("恵子", "ケイコ"),
    ("京子", "キョウコ"),
    ("美智子", "ミチコ"),
    ("久美子", "クミコ"),
    ("千代子", "チヨコ"),
    ("文子", "フミコ"),
    ("静子", "シズコ"),
    ("由美子", "ユミコ"),
    ("直美", "ナオミ"),
    ("トシ子", "トシコ"),
)
# (postal code, district) in 日南市.
DISTRICTS = (
    ("887-0001", "油津"),
    ("887-0021", "中央通"),
    ("887-0041", "吾田東"),
    ("887-0034", "風田"),
    ("889-2535", "飫肥"),
    ("887-0013", "木山"),
    ("889-3204", "南郷町中村"),
    ("889-2402", "北郷町郷之原"),
)
LANDLINE_EXCHANGES = ("22", "23", "25", "27", "31")
# The fixed resident with only a landline (黒木 花子, 0987-23-0002) whom the voice demo calls.
VOICE_DEMO_TICKET = "0000000002"
# Her demo booking is made once: a second run finds it by this key (and books nothing).
VOICE_DEMO_IDEMPOTENCY_KEY = "seed-demo-voice-reminder"
VOICE_DEMO_FROM = dt.time(14, 0)


@dataclass(frozen=True)
class DemoCity:
    """One demo municipality: 日南市 (HOME_CITY, the one the README names), or another city
    added with --municipality (`other_city`)."""

    code: str
    name: str
    name_en: str
    prefecture: str
    call_centre_phone: str
    sms_sender_label: str
    sites: tuple[DemoSite, ...]
    # (postal code, district); an empty postal code is left blank.
    districts: tuple[tuple[str, str], ...]
    # Landline numbers are drawn in this area code with LANDLINE_EXCHANGES; "" = none (people
    # without a mobile number have no number on record).
    landline_area: str
    # Added to each person's number for the ticket number: keeps cities' tickets apart.
    ticket_base: int
    seed: int


HOME_CITY = DemoCity(
    code=MUNICIPALITY_CODE,
    name="日南市",
    name_en=MUNICIPALITY_NAME_EN,
    prefecture="宮崎県",
    call_centre_phone="0987-00-0000",
    sms_sender_label="日南市ワクチン予約",
    sites=SITES,
    districts=DISTRICTS,
    landline_area="0987",
    ticket_base=0,
    seed=RANDOM_SEED,
)
# Districts of an added city: the demo knows no real ones, so plain 町 names.
OTHER_DISTRICTS = tuple(("", f"{side}町") for side in ("本", "中", "東", "西", "南", "北"))


def other_city(*, code: str, name: str, name_en: str, prefecture: str) -> DemoCity:
    """A generic demo city: a health centre and a community hall for COVID-19, a clinic for
    influenza, as 日南市 has. Every name, address and number is fictional."""

    def english(place: str) -> str:
        return f"{name_en} {place}" if name_en else ""

    address = f"{prefecture}{name}本町1丁目"
    return DemoCity(
        code=code,
        name=name,
        name_en=name_en,
        prefecture=prefecture,
        call_centre_phone=f"0120-{code[:3]}-{code[3:]}",
        sms_sender_label=f"{name}ワクチン予約",
        sites=(
            DemoSite(
                f"{name}保健センター",
                english("Health Centre"),
                "保健センター",
                Site.Kind.MASS,
                f"{address}1番1号",
                "pfizer-12",
                "covid-routine-2026",
                6,
                2,
            ),
            DemoSite(
                f"{name}中央公民館",
                english("Central Community Hall"),
                "中央公民館",
                Site.Kind.MASS,
                f"{address}2番2号",
                "moderna",
                "covid-routine-2026",
                6,
                2,
            ),
            DemoSite(
                f"{name}本町内科クリニック",
                english("Honmachi Clinic"),
                "本町クリニック",
                Site.Kind.CLINIC,
                f"{address}3番3号",
                "influenza-ha",
                "influenza-routine-2026",
                3,
                1,
            ),
        ),
        districts=OTHER_DISTRICTS,
        landline_area="",
        # Five digits of the code then five of the person: 452025 -> 4520200001, ...
        ticket_base=int(code[:5]) * 100_000,
        seed=int(code),
    )


@dataclass(frozen=True)
class DemoResident:
    number: int
    name: str
    name_kana: str
    sex: str
    birth_date: dt.date
    high_risk_attested: bool
    phone: str
    postal_code: str
    address: str
    ticket_base: int = 0

    @property
    def ticket_number(self) -> str:
        return f"{self.ticket_base + self.number:010d}"

    @property
    def atena_number(self) -> str:
        return f"{self.number + 1_000_000:08d}"


def _fixed_residents() -> list[DemoResident]:
    return [
        DemoResident(
            1,
            "日高\u3000太郎",
            "ヒダカ\u3000タロウ",
            Resident.Sex.MALE,
            dt.date(1950, 4, 1),
            False,
            "+819011110001",
            "887-0021",
            "宮崎県日南市中央通2丁目1-1",
        ),
        DemoResident(
            2,
            "黒木\u3000花子",
            "クロキ\u3000ハナコ",
            Resident.Sex.FEMALE,
            dt.date(1945, 8, 15),
            False,
            "+81987230002",
            "887-0001",
            "宮崎県日南市油津3丁目2-2",
        ),
        DemoResident(
            3,
            "甲斐\u3000次郎",
            "カイ\u3000ジロウ",
            Resident.Sex.MALE,
            dt.date(1963, 2, 10),
            True,
            "+818011110003",
            "889-2535",
            "宮崎県日南市飫肥4丁目3-3",
        ),
    ]


def _random_date(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randrange((last - first).days + 1))


def demo_residents(count: int, city: DemoCity = HOME_CITY) -> list[DemoResident]:
    """The same `count` people on every run: one seeded generator, drawn in a fixed order, so
    the first N of a larger run are the N of a smaller one. The three fixed people the README
    names live in 日南市; another city's people are all drawn."""
    rng = random.Random(city.seed)
    people = _fixed_residents()[:count] if city == HOME_CITY else []
    for number in range(len(people) + 1, count + 1):
        male = rng.random() < 0.45
        family, family_kana = rng.choice(FAMILY_NAMES)
        given, given_kana = rng.choice(MALE_NAMES if male else FEMALE_NAMES)
        band = rng.random()
        attested = False
        if band < 0.75:
            birth = _random_date(rng, dt.date(1930, 1, 1), dt.date(1961, 12, 31))
        elif band < 0.88:
            birth = _random_date(rng, dt.date(1962, 1, 1), dt.date(1966, 12, 31))
            attested = rng.random() < 1 / 3
        else:
            birth = _random_date(rng, dt.date(1967, 1, 1), dt.date(2004, 12, 31))
        if rng.random() < 0.85:
            # Random but valid-looking (phonenumbers rejects unassigned blocks such as
            # 090-0000): they may belong to real people, so never point a real SMS provider
            # at demo data.
            raw_phone = (
                f"{rng.choice(('090', '080', '070'))}{rng.randint(1000, 9999)}"
                f"{rng.randint(0, 9999):04d}"
            )
        elif city.landline_area:
            exchange = rng.choice(LANDLINE_EXCHANGES)
            raw_phone = f"{city.landline_area}{exchange}{rng.randint(0, 9999):04d}"
        else:
            raw_phone = ""
        postal_code, district = rng.choice(city.districts)
        address = (
            f"{city.prefecture}{city.name}{district}{rng.randint(1, 5)}丁目{rng.randint(1, 30)}-"
            f"{rng.randint(1, 20)}"
        )
        people.append(
            DemoResident(
                number=number,
                name=f"{family}{FULL_WIDTH_SPACE}{given}",
                name_kana=f"{family_kana}{FULL_WIDTH_SPACE}{given_kana}",
                sex=Resident.Sex.MALE if male else Resident.Sex.FEMALE,
                birth_date=birth,
                high_risk_attested=attested,
                phone=normalize_phone(raw_phone) if raw_phone else "",
                postal_code=postal_code,
                address=address,
                ticket_base=city.ticket_base,
            )
        )
    return people


def _municipality(city: DemoCity) -> Municipality:
    municipality, _created = Municipality.objects.get_or_create(
        code=city.code,
        defaults={
            "name": city.name,
            "name_en": city.name_en,
            "prefecture": city.prefecture,
            "call_centre_phone": city.call_centre_phone,
            "sms_sender_label": city.sms_sender_label,
            # Residents with neither a mobile number nor LINE are called (channels/voice).
            "voice_calls_enabled": True,
        },
    )
    # A demo seeded before English names existed gets them; one a person edited keeps theirs.
    if not municipality.name_en and city.name_en:
        municipality.name_en = city.name_en
        municipality.save(update_fields=["name_en"])
    return municipality


def _site(municipality: Municipality, spec: DemoSite) -> Site:
    site, _created = Site.objects.get_or_create(
        municipality=municipality,
        name=spec.name,
        defaults={
            "name_en": spec.name_en,
            "short_name": spec.short_name,
            "vrs_name": spec.name,
            "kind": spec.kind,
            "address": spec.address,
            "what_to_bring_en": WHAT_TO_BRING_EN,
        },
    )
    missing = {"name_en": spec.name_en, "what_to_bring_en": WHAT_TO_BRING_EN}
    missing = {field: value for field, value in missing.items() if not getattr(site, field)}
    if missing:
        for field, value in missing.items():
            setattr(site, field, value)
        site.save(update_fields=list(missing))
    return site


def demo_campaign(
    *, national_code: str, municipality: Municipality, today: dt.date, last_day: dt.date
) -> Campaign:
    """The national campaign when it covers the whole demo window; otherwise the
    municipality's own demo round of the same programme, widened on every run to cover
    today + DEMO_CAMPAIGN_DAYS, so the demo works in any season."""
    national = Campaign.objects.select_related("program").get(code=national_code)
    if national.covers(today) and national.covers(last_day):
        return national
    code = f"{national.program.code}-{municipality.code}-demo"
    ends_on = today + dt.timedelta(days=DEMO_CAMPAIGN_DAYS)
    campaign = Campaign.objects.filter(code=code).first()
    program_en = PROGRAM_NAMES_EN.get(national.program.code, national.program.name)
    name_en = f"{program_en} ({municipality.name_en or municipality.name} demo)"
    if campaign is None:
        campaign = Campaign.objects.create(
            code=code,
            name=_("%(program)s（%(city)sデモ）")
            % {"program": national.program.name, "city": municipality.name},
            name_en=name_en,
            program=national.program,
            municipality=municipality,
            starts_on=today,
            ends_on=ends_on,
        )
        campaign.vaccines.set(national.vaccines.all())
        return campaign
    assert campaign.ends_on is not None
    changed = []
    if not campaign.name_en:
        campaign.name_en = name_en
        changed.append("name_en")
    if campaign.starts_on > today or campaign.ends_on < ends_on:
        campaign.starts_on = min(campaign.starts_on, today)
        campaign.ends_on = max(campaign.ends_on, ends_on)
        changed += ["starts_on", "ends_on"]
    if changed:
        campaign.save(update_fields=changed)
    return campaign


def _residents(municipality: Municipality, people: list[DemoResident], today: dt.date) -> int:
    """Create the people and tickets that are missing; returns how many people were new."""
    existing_atena = set(
        Resident.objects.filter(municipality=municipality).values_list("atena_number", flat=True)
    )
    new = [
        Resident(
            municipality=municipality,
            atena_number=p.atena_number,
            name=p.name,
            name_kana=p.name_kana,
            birth_date=p.birth_date,
            sex=p.sex,
            phone=p.phone,
            postal_code=p.postal_code,
            address=p.address,
            high_risk_attested=p.high_risk_attested,
        )
        for p in people
        if p.atena_number not in existing_atena
    ]
    Resident.objects.bulk_create(new, batch_size=500)
    resident_ids = dict(
        Resident.objects.filter(
            municipality=municipality, atena_number__in=[p.atena_number for p in people]
        ).values_list("atena_number", "pk")
    )
    existing_tickets = set(
        Ticket.objects.filter(municipality=municipality).values_list("number", flat=True)
    )
    tickets = []
    for p in people:
        # The 2021 mass-vaccination centres accepted 0000000000; it must never be issued.
        assert p.number >= 1
        if p.ticket_number in existing_tickets:
            continue
        tickets.append(
            Ticket(
                municipality=municipality,
                number=p.ticket_number,
                resident_id=resident_ids[p.atena_number],
                issued_on=today,
            )
        )
    Ticket.objects.bulk_create(tickets, batch_size=500)
    return len(new)


def voice_demo_booking(
    *, municipality: Municipality, today: dt.date, now: dt.datetime
) -> Reservation | None:
    """Book the landline-only demo resident into an afternoon slot of the first operating day
    after `today` at the first mass site, as a family member would online, so the reminder
    scan of the day before calls her. None when she already holds an active booking (a
    later run), or when no day can take her."""
    ticket = (
        Ticket.objects.select_related("resident")
        .filter(municipality=municipality, number=VOICE_DEMO_TICKET)
        .first()
    )
    if ticket is None or ticket.resident is None or is_mobile_phone(ticket.resident.phone):
        return None
    if Reservation.objects.filter(
        resident=ticket.resident, status__in=Reservation.ACTIVE_STATUSES
    ).exists():
        return None
    day = (
        OperatingDay.objects.filter(
            site__municipality=municipality, site__name=SITES[0].name, date__gt=today
        )
        .order_by("date")
        .first()
    )
    if day is None:
        return None
    # An afternoon slot: the morning's first slots stay free for the README's own bookings.
    slots = list(day.slots.order_by("starts_at"))
    afternoon = [s for s in slots if timezone.localtime(s.starts_at).time() >= VOICE_DEMO_FROM]
    if not slots:
        return None
    slot = (afternoon or slots)[0]
    try:
        booked = reservation_book(
            ticket=ticket,
            slot=slot,
            requester=Requester(
                channel=Channel.WEB, actor=Actor.PROXY, proxy_relationship=_("長女")
            ),
            book_next_dose=False,
            idempotency_key=VOICE_DEMO_IDEMPOTENCY_KEY,
            now=now,
        )
    except ReservationError:
        # A rule of the shipped data that refuses her that day: the demo goes on without.
        return None
    # The key's booking of an earlier run, since cancelled, is no demo booking.
    return booked if booked.is_active else None


class Command(BaseCommand):
    help = (
        "デモ用のデータ（日南市、会場、稼働日・予約枠、住民と接種券、職員ログイン）を作成します。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--today",
            default=None,
            help="YYYY-MM-DD（省略時は今日）。この日から28日後までの稼働日を作成します。",
        )
        parser.add_argument("--residents", type=int, default=300, help="住民の人数（既定: 300）")
        parser.add_argument(
            "--municipality",
            default=None,
            help="日南市の代わりに作成する別のデモ自治体の団体コード（6桁。例: 452025 都城市）",
        )
        parser.add_argument(
            "--name",
            default=None,
            help="--municipality の自治体名（省略時は総務省の団体コード一覧の名前）",
        )
        parser.add_argument(
            "--name-en", default="", help="--municipality の英語名（例: Miyakonojo City）"
        )
        parser.add_argument(
            "--allow-demo-accounts",
            action="store_true",
            help="DEBUGがオフでも、公開パスワードのデモ用ログインを作成する",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        today = self._today(options["today"])
        if options["residents"] < 3:
            raise CommandError(_("--residents は3以上にしてください（最初の3人は固定です）。"))
        city = self._city(options)
        last_day = today + dt.timedelta(days=DEMO_DAYS_AHEAD)
        people = demo_residents(options["residents"], city)
        try:
            with transaction.atomic():
                rules_load()
                municipality = _municipality(city)
                created_days = created_slots = 0
                closed: set[tuple[dt.date, str]] = set()
                for spec in city.sites:
                    site = _site(municipality, spec)
                    campaign = demo_campaign(
                        national_code=spec.campaign,
                        municipality=municipality,
                        today=today,
                        last_day=last_day,
                    )
                    report = operating_days_generate(
                        site=site,
                        vaccine=Vaccine.objects.get(code=spec.vaccine),
                        campaign=campaign,
                        date_from=today,
                        date_to=last_day,
                        capacity=spec.capacity,
                        phone_reserved=spec.phone_reserved,
                        **SEASON_PATTERN,
                    )
                    created_days += len(report.created_days)
                    created_slots += report.created_slots
                    closed.update(report.skipped_closed_days)
                new_people = _residents(municipality, people, today)
                voice_booking = (
                    voice_demo_booking(municipality=municipality, today=today, now=self._now(today))
                    if city == HOME_CITY
                    else None
                )
                channel_notes = [
                    str(note)
                    for _receiver, note in demo_seeded.send(
                        sender=self.__class__,
                        municipality=municipality,
                        today=today,
                        last_day=last_day,
                    )
                    if note
                ]
        except ValidationError as exc:
            raise CommandError("\n".join(str(m) for m in exc.messages)) from None

        accounts = (
            self._accounts(allow=options["allow_demo_accounts"], municipality=municipality)
            if city == HOME_CITY
            else None
        )
        for note in channel_notes:
            self.stdout.write(note)
        if voice_booking is not None:
            self._voice_note(voice_booking)
        self._summary(
            municipality=municipality,
            today=today,
            last_day=last_day,
            people=people,
            new_people=new_people,
            created_days=created_days,
            created_slots=created_slots,
            closed=sorted(closed),
            accounts=accounts,
        )
        if city != HOME_CITY:
            self.stdout.write(
                _(
                    "職員ログインは作成していません。この自治体の担当は、管理画面で職員に"
                    "割り当ててください。"
                )
            )

    def _city(self, options: dict[str, Any]) -> DemoCity:
        """日南市, or the city --municipality names (its name from --name or the published
        list; a code only in MUNICIPALITY_CODES_ADDED needs --name)."""
        if options["municipality"] is None:
            if options["name"] is not None:
                raise CommandError(_("--name は --municipality と一緒に指定してください。"))
            return HOME_CITY
        try:
            code = normalize_municipality_code(options["municipality"])
        except IdentifierError as error:
            raise CommandError(str(error.message)) from None
        if code == HOME_CITY.code:
            return HOME_CITY
        published = published_municipality_name(code)
        name = (options["name"] or "").strip() or (published[1] if published else "")
        if not name:
            raise CommandError(
                _("団体コード %(code)s の自治体名が一覧にありません。--name で指定してください。")
                % {"code": code}
            )
        prefecture = published[0] if published else ""
        return other_city(
            code=code, name=name, name_en=options["name_en"].strip(), prefecture=prefecture
        )

    def _today(self, value: str | None) -> dt.date:
        if value is None:
            return timezone.localdate()
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise CommandError(
                _("--today「%(value)s」が読めません。2026-12-01 のように指定してください。")
                % {"value": value}
            ) from None

    def _now(self, today: dt.date) -> dt.datetime:
        """The clock's time when `today` is today; else early on `today` (--today), so that a
        booking made "today" is made before that day's slots."""
        now = timezone.now()
        if timezone.localdate(now) == today:
            return now
        return timezone.make_aware(dt.datetime.combine(today, dt.time(8, 0)))

    def _voice_note(self, reservation: Reservation) -> None:
        start = timezone.localtime(reservation.slot.starts_at)
        self.stdout.write(
            _(
                "自動音声電話のデモ: 接種券 %(ticket)s（固定電話のみ）の予約 %(when)s。"
                "前日のお知らせの電話は、前日の定期処理のあと /voice/simulator/ で受けられます。"
            )
            % {"ticket": VOICE_DEMO_TICKET, "when": start.strftime("%Y-%m-%d %H:%M")}
        )

    def _accounts(self, *, allow: bool, municipality: Municipality) -> list[tuple[str, str]] | None:
        """Create the missing staff logins, working for the demo city (so they keep seeing it
        once a second demo city is added); existing users (and passwords) are left alone."""
        if not settings.DEBUG and not allow:
            self.stdout.write(
                self.style.WARNING(
                    _(
                        "DEBUGがオフのため、デモ用ログインは作成しませんでした。パスワードが公開されている"
                        "アカウントを本番環境に作らないためです。必要なら --allow-demo-accounts を"
                        "付けて実行してください。"
                    )
                )
            )
            return None
        roles.ensure_staff_groups()
        user_model = get_user_model()
        result = []
        with transaction.atomic():
            for username, group_name, superuser in STAFF_ACCOUNTS:
                if user_model.objects.filter(username=username).exists():
                    result.append((username, _("既存のため変更なし")))
                    continue
                user = user_model(username=username, is_staff=True, is_superuser=superuser)
                user.set_password(DEMO_PASSWORD)
                user.save()
                user.groups.add(Group.objects.get(name=group_name))
                StaffAssignment.objects.create(user=user, municipality=municipality)
                result.append((username, _("作成")))
        return result

    def _summary(
        self,
        *,
        municipality: Municipality,
        today: dt.date,
        last_day: dt.date,
        people: list[DemoResident],
        new_people: int,
        created_days: int,
        created_slots: int,
        closed: list[tuple[dt.date, str]],
        accounts: list[tuple[str, str]] | None,
    ) -> None:
        out = self.stdout.write
        days = OperatingDay.objects.filter(site__municipality=municipality)
        out(
            self.style.SUCCESS(
                _("デモデータ: %(city)s（%(code)s）")
                % {
                    "city": municipality.name,
                    "code": municipality.code,
                }
            )
        )
        out(
            _(
                "稼働日: %(from)s〜%(to)s（月〜土、祝日・年末年始を除く）、"
                "今回の作成 %(days)s日・予約枠 %(slots)s件、合計 %(total_days)s日・予約枠 "
                "%(total_slots)s件"
            )
            % {
                "from": today.isoformat(),
                "to": last_day.isoformat(),
                "days": created_days,
                "slots": created_slots,
                "total_days": days.count(),
                "total_slots": Slot.objects.filter(operating_day__in=days).count(),
            }
        )
        for day, name in closed:
            out(_("  休業日: %(date)s（%(name)s）") % {"date": day.isoformat(), "name": name})
        week = days.filter(date__gte=today, date__lt=today + dt.timedelta(days=7)).count()
        if week == 0:
            out(self.style.WARNING(_("今後7日間に稼働日がありません（休業日が続くため）。")))
        out(
            _("住民: %(total)s人（今回の追加 %(new)s人）")
            % {
                "total": Resident.objects.filter(municipality=municipality).count(),
                "new": new_people,
            }
        )
        out(_("ログインに使える接種券（自治体コード %(code)s）:") % {"code": municipality.code})
        for p in people[:3]:
            note = _("、60〜64歳・対象者申告あり") if p.high_risk_attested else ""
            out(
                f"  {p.ticket_number}  {p.birth_date.isoformat()}（{format_wareki(p.birth_date)}）"
                f"  {p.name}{note}"
            )
        if accounts is not None:
            out(_("職員ログイン（パスワード: %(password)s）:") % {"password": DEMO_PASSWORD})
            for username, outcome in accounts:
                out(f"  {username}（{outcome}）")
