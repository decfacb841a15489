"""Residents' own contact details (reservations.services.contact): a new mobile number is
verified by a code sent to it; SMS on and off; a STOP reply; the history of every change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from reservations.exceptions import PermissionDenied
from reservations.models import Actor, Channel, ContactChange, PhoneVerification, Resident
from reservations.services.booking import Requester
from reservations.services.contact import (
    CODE_MAX_WRONG,
    CODES_PER_WINDOW_PER_RESIDENT,
    SMS_STOPPED,
    SMS_VERIFICATION_CODE,
    NoMobilePhone,
    PhoneInvalid,
    PhoneNotMobile,
    VerificationCodeExpired,
    VerificationCodeLocked,
    VerificationCodeMalformed,
    VerificationCodeWrong,
    VerificationNotStarted,
    VerificationRateLimited,
    contact_phone_change_confirm,
    contact_phone_change_start,
    contact_sms_set,
    contact_sms_stop_for_phone,
    phone_masked,
    resident_contact_update,
)
from reservations.signals import contact_sms_requested
from tests.racing import race
from tests.world import World, jst, staff_with

pytestmark = pytest.mark.django_db

NOW = jst(2026, 11, 2, 9, 0)
NEW_MOBILE = "080-2222-3333"
NEW_MOBILE_E164 = "+818022223333"
WEB = Requester(channel=Channel.WEB)


@pytest.fixture
def requested() -> Iterator[list[dict[str, Any]]]:
    """What the core asked the notify channel to send (the code travels only here)."""
    sent: list[dict[str, Any]] = []

    def receive(sender: Any, **kwargs: Any) -> None:
        sent.append(kwargs)

    contact_sms_requested.connect(receive, dispatch_uid="test-contact-sms")
    yield sent
    contact_sms_requested.disconnect(dispatch_uid="test-contact-sms")


@pytest.fixture
def resident(world: World) -> Resident:
    return world.resident().resident


def start(resident: Resident, sent: list[dict[str, Any]], *, now: dt.datetime = NOW) -> str:
    contact_phone_change_start(resident=resident, phone=NEW_MOBILE, requester=WEB, now=now)
    return str(sent[-1]["code"])


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_it_sends_a_code_and_stores_only_its_hash(
    resident: Resident, requested: list[dict[str, Any]]
) -> None:
    verification = contact_phone_change_start(
        resident=resident, phone="０８０－２２２２－３３３３", requester=WEB, now=NOW
    )
    [asked] = requested
    assert asked["purpose"] == SMS_VERIFICATION_CODE
    assert asked["phone"] == NEW_MOBILE_E164 and asked["resident"].pk == resident.pk
    code = asked["code"]
    assert len(code) == 6 and code.isdigit()
    assert verification.phone == NEW_MOBILE_E164
    assert verification.expires_at == NOW + dt.timedelta(minutes=10) == asked["expires_at"]
    assert code not in verification.code_hash and len(verification.code_hash) == 64
    # Nothing changes until the code comes back.
    resident.refresh_from_db()
    assert resident.phone == "+819012345678"
    assert not ContactChange.objects.exists()


def test_it_refuses_a_landline_with_nothing_written(
    resident: Resident, requested: list[dict[str, Any]]
) -> None:
    with pytest.raises(PhoneNotMobile) as refused:
        contact_phone_change_start(resident=resident, phone="0987-31-1111", requester=WEB, now=NOW)
    assert refused.value.code == "phone_not_mobile"
    assert "携帯電話の番号ではないため" in str(refused.value.message)
    assert not PhoneVerification.objects.exists() and requested == []


@pytest.mark.parametrize("typed", ["090-1234", "abc", "050-1234-5678"])
def test_it_refuses_what_cannot_take_sms(resident: Resident, typed: str) -> None:
    with pytest.raises((PhoneInvalid, PhoneNotMobile)):
        contact_phone_change_start(resident=resident, phone=typed, requester=WEB, now=NOW)
    assert not PhoneVerification.objects.exists()


def test_the_right_code_makes_the_number_theirs_with_sms_on(
    resident: Resident, requested: list[dict[str, Any]]
) -> None:
    resident.sms_consent = False
    resident.save()
    code = start(resident, requested)
    verification = contact_phone_change_confirm(
        resident=resident, code=code, requester=WEB, now=NOW + dt.timedelta(minutes=3)
    )
    assert verification.status == PhoneVerification.Status.CONFIRMED
    assert resident.phone == NEW_MOBILE_E164 and resident.sms_consent  # updated in place
    resident.refresh_from_db()
    assert resident.phone == NEW_MOBILE_E164 and resident.sms_consent
    assert resident.sms_consent_changed_via == Channel.WEB
    history = list(ContactChange.objects.values_list("kind", "phone", "verified", "channel"))
    assert history == [
        (ContactChange.Kind.PHONE, NEW_MOBILE_E164, True, Channel.WEB),
        (ContactChange.Kind.SMS_ON, "", False, Channel.WEB),
    ]
    # The code is used up.
    with pytest.raises(VerificationNotStarted):
        contact_phone_change_confirm(resident=resident, code=code, requester=WEB, now=NOW)


def test_a_code_typed_full_width_with_spaces_is_read(
    resident: Resident, requested: list[dict[str, Any]]
) -> None:
    code = start(resident, requested)
    typed = " " + code[:3].translate({c: c - 48 + 0xFF10 for c in range(48, 58)}) + " " + code[3:]
    contact_phone_change_confirm(resident=resident, code=typed, requester=WEB, now=NOW)
    assert resident.phone == NEW_MOBILE_E164


def test_wrong_codes_are_counted_and_the_last_one_locks(
    resident: Resident, requested: list[dict[str, Any]]
) -> None:
    code = start(resident, requested)
    for left in range(CODE_MAX_WRONG - 1, 0, -1):
        with pytest.raises(VerificationCodeWrong) as failed:
            contact_phone_change_confirm(
                resident=resident, code=wrong(code), requester=WEB, now=NOW
            )
        assert failed.value.attempts_left == left
        assert f"あと{left}回まちがえると" in str(failed.value.message)
    with pytest.raises(VerificationCodeLocked):
        contact_phone_change_confirm(resident=resident, code=wrong(code), requester=WEB, now=NOW)
    verification = PhoneVerification.objects.get()
    assert verification.wrong_attempts == CODE_MAX_WRONG
    assert verification.status == PhoneVerification.Status.LOCKED
    # Even the right code no longer works; a new code does.
    with pytest.raises(VerificationCodeLocked):
        contact_phone_change_confirm(resident=resident, code=code, requester=WEB, now=NOW)
    contact_phone_change_confirm(
        resident=resident, code=start(resident, requested), requester=WEB, now=NOW
    )
    assert resident.phone == NEW_MOBILE_E164


@pytest.mark.parametrize("typed", ["12345", "1234567", "12a456", ""])
def test_a_code_that_is_not_six_digits_is_not_counted(
    resident: Resident, requested: list[dict[str, Any]], typed: str
) -> None:
    start(resident, requested)
    with pytest.raises(VerificationCodeMalformed):
        contact_phone_change_confirm(resident=resident, code=typed, requester=WEB, now=NOW)
    assert PhoneVerification.objects.get().wrong_attempts == 0


def test_a_code_lasts_ten_minutes(resident: Resident, requested: list[dict[str, Any]]) -> None:
    code = start(resident, requested)
    with pytest.raises(VerificationCodeExpired) as expired:
        contact_phone_change_confirm(
            resident=resident, code=code, requester=WEB, now=NOW + dt.timedelta(minutes=10)
        )
    assert "有効期限（10分）" in str(expired.value.message)
    contact_phone_change_confirm(
        resident=resident, code=code, requester=WEB, now=NOW + dt.timedelta(minutes=9, seconds=59)
    )
    assert resident.phone == NEW_MOBILE_E164


def test_a_new_code_replaces_the_old_one(
    resident: Resident, requested: list[dict[str, Any]]
) -> None:
    first = start(resident, requested)
    second = start(resident, requested, now=NOW + dt.timedelta(minutes=1))
    if first != second:
        with pytest.raises(VerificationCodeWrong):
            contact_phone_change_confirm(resident=resident, code=first, requester=WEB, now=NOW)
    contact_phone_change_confirm(resident=resident, code=second, requester=WEB, now=NOW)
    statuses = PhoneVerification.objects.order_by("created_at").values_list("status", flat=True)
    assert list(statuses) == ["replaced", "confirmed"]


def test_no_code_no_confirmation(resident: Resident) -> None:
    with pytest.raises(VerificationNotStarted):
        contact_phone_change_confirm(resident=resident, code="123456", requester=WEB, now=NOW)


def test_three_codes_an_hour_per_resident(
    resident: Resident, requested: list[dict[str, Any]]
) -> None:
    for minute in (0, 10, 20):
        start(resident, requested, now=NOW + dt.timedelta(minutes=minute))
    with pytest.raises(VerificationRateLimited) as limited:
        start(resident, requested, now=NOW + dt.timedelta(minutes=30))
    # The first code leaves the hour at 10:00.
    assert limited.value.retry_after == NOW + dt.timedelta(hours=1)
    assert "10:00以降（約30分後）" in str(limited.value.message)
    assert PhoneVerification.objects.count() == 3 and len(requested) == 3
    start(resident, requested, now=NOW + dt.timedelta(hours=1, seconds=1))
    assert len(requested) == 4


def test_five_codes_an_hour_per_number(world: World, requested: list[dict[str, Any]]) -> None:
    family = [world.resident(name=f"日南 {n}").resident for n in range(6)]
    for minute, member in enumerate(family[:5]):
        start(member, requested, now=NOW + dt.timedelta(minutes=minute))
    with pytest.raises(VerificationRateLimited):
        start(family[5], requested, now=NOW + dt.timedelta(minutes=6))
    # Another number is not held back.
    contact_phone_change_start(resident=family[5], phone="090-4444-5555", requester=WEB, now=NOW)


def test_sms_off_and_on_are_recorded(resident: Resident) -> None:
    assert contact_sms_set(resident=resident, allowed=False, requester=WEB, now=NOW)
    assert not contact_sms_set(resident=resident, allowed=False, requester=WEB, now=NOW)
    resident.refresh_from_db()
    assert not resident.sms_consent and resident.sms_consent_changed_at == NOW
    assert contact_sms_set(resident=resident, allowed=True, requester=WEB, now=NOW)
    kinds = list(ContactChange.objects.values_list("kind", flat=True))
    assert kinds == [ContactChange.Kind.SMS_OFF, ContactChange.Kind.SMS_ON]


def test_sms_cannot_be_turned_on_without_a_mobile_number(resident: Resident) -> None:
    resident.phone = "+81987311111"
    resident.sms_consent = False
    resident.save()
    with pytest.raises(NoMobilePhone):
        contact_sms_set(resident=resident, allowed=True, requester=WEB, now=NOW)
    resident.refresh_from_db()
    assert not resident.sms_consent


def test_staff_need_the_change_resident_permission(world: World, resident: Resident) -> None:
    clerk = Requester(channel=Channel.PHONE, actor=Actor.OPERATOR, user=staff_with("clerk"))
    with pytest.raises(PermissionDenied):
        contact_sms_set(resident=resident, allowed=False, requester=clerk, now=NOW)
    with pytest.raises(PermissionDenied):
        contact_phone_change_start(resident=resident, phone=NEW_MOBILE, requester=clerk, now=NOW)
    allowed = Requester(
        channel=Channel.PHONE,
        actor=Actor.OPERATOR,
        user=staff_with("supervisor", "change_resident"),
    )
    assert contact_sms_set(resident=resident, allowed=False, requester=allowed, now=NOW)
    change = ContactChange.objects.get()
    assert change.actor == Actor.OPERATOR and change.actor_user is not None


def test_a_number_typed_by_an_operator_is_recorded_unverified(
    world: World, resident: Resident
) -> None:
    resident_contact_update(resident=resident, requester=world.phone(), phone=NEW_MOBILE, now=NOW)
    change = ContactChange.objects.get()
    assert (change.kind, change.phone, change.verified) == ("phone", NEW_MOBILE_E164, False)
    assert change.channel == Channel.PHONE and change.actor_user == world.operator


def test_stop_turns_sms_off_for_everyone_with_the_number_and_says_so_once(
    world: World, requested: list[dict[str, Any]]
) -> None:
    couple = [world.resident(name=name).resident for name in ("日南 太郎", "日南 花子")]
    other = world.resident(name="別の人").resident
    other.phone = "+819099998888"
    other.save()
    sms = Requester(channel="sms", actor=Actor.RESIDENT)
    stopped = contact_sms_stop_for_phone(phone="+819012345678", requester=sms, now=NOW)
    assert {r.pk for r in stopped} == {r.pk for r in couple}
    assert list(Resident.objects.filter(sms_consent=False).values_list("pk", flat=True)) == sorted(
        r.pk for r in couple
    )
    [asked] = requested
    assert asked["purpose"] == SMS_STOPPED and asked["phone"] == "+819012345678"
    assert set(ContactChange.objects.values_list("channel", "kind")) == {("sms", "sms_off")}
    # Again: nothing left to stop, nothing sent.
    assert contact_sms_stop_for_phone(phone="+819012345678", requester=sms, now=NOW) == []
    assert len(requested) == 1


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+819012345678", "090-****-5678"),
        ("+81987311111", "0987-**-1111"),
        ("+14155550100", "+1 ***-***-0100"),
        ("", ""),
    ],
)
def test_numbers_are_masked(e164: str, shown: str) -> None:
    assert phone_masked(e164) == shown


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_codes_asked_for_at_once_keep_to_the_limit(resident: Resident) -> None:
    results = race(
        [
            lambda: contact_phone_change_start(
                resident=resident, phone=NEW_MOBILE, requester=WEB, now=NOW
            )
            for _ in range(CODES_PER_WINDOW_PER_RESIDENT + 3)
        ]
    )
    refused = [r for r in results if r == "verification_rate_limited"]
    assert len(refused) == 3, results
    assert PhoneVerification.objects.count() == CODES_PER_WINDOW_PER_RESIDENT
    # One code is left to type: the others were replaced.
    assert PhoneVerification.objects.filter(status="pending").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_wrong_codes_typed_at_once_are_each_counted(
    resident: Resident, requested: list[dict[str, Any]]
) -> None:
    code = start(resident, requested)
    results = race(
        [
            lambda: contact_phone_change_confirm(
                resident=resident, code=wrong(code), requester=WEB, now=NOW
            )
            for _ in range(CODE_MAX_WRONG + 1)
        ]
    )
    assert sorted(results) == sorted(
        ["verification_code_wrong"] * (CODE_MAX_WRONG - 1) + ["verification_code_locked"] * 2
    )
    verification = PhoneVerification.objects.get()
    assert (verification.wrong_attempts, verification.status) == (CODE_MAX_WRONG, "locked")
