"""The admin of health follow-up: questionnaires (published versions read-only, the new
version and publish actions), the people followed and their follow-ups scoped to the member
of staff's municipalities, with resident reads audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from channels.followup.models import FollowedPerson, FollowUp, Question, Questionnaire
from channels.followup.services import followup_answer_record, followup_start
from channels.phone.models import RecordAccess
from reservations import roles
from reservations.models import StaffAssignment
from tests.world import World, jst

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 2)
NOW = jst(2026, 11, 2, 10)


def _followup(world: World, name: str) -> FollowUp:
    resident = world.resident(name=name).resident
    person = FollowedPerson.objects.create(
        municipality=world.municipality,
        resident=resident,
        name=name,
        phone="+819012345678",
        birth_date=resident.birth_date,
    )
    followup = followup_start(
        person=person,
        questionnaire=Questionnaire.objects.get(code="home-care"),
        start_date=DAY,
        days=3,
        now=NOW,
    ).followup
    followup_answer_record(
        followup,
        DAY,
        {"temperature": "36.5", "spo2": "92", "pulse": "70", "symptoms": ["none"]},
        now=NOW,
    )
    return followup


@pytest.fixture
def two(world: World) -> tuple[FollowUp, FollowUp]:
    return _followup(world, "日南 花子"), _followup(world.neighbour(), "都城 次郎")


@pytest.fixture
def root() -> User:
    return User.objects.create_superuser("root", password="x")


def _administrator(world: World) -> User:
    user = User.objects.create_user("a-admin", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.ADMINISTRATORS))
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="followup"))
    StaffAssignment.objects.create(user=user, municipality=world.municipality)
    return User.objects.get(pk=user.pk)


def test_the_pages_open_for_a_superuser(
    client: Client, root: User, two: tuple[FollowUp, FollowUp]
) -> None:
    client.force_login(root)
    questionnaire = Questionnaire.objects.get(code="home-care")
    question = questionnaire.questions.get(key="symptoms")
    pages = [
        reverse("admin:followup_questionnaire_changelist"),
        reverse("admin:followup_questionnaire_add"),
        reverse("admin:followup_questionnaire_change", args=[questionnaire.pk]),
        reverse("admin:followup_question_changelist"),
        reverse("admin:followup_question_change", args=[question.pk]),
        reverse("admin:followup_followedperson_changelist"),
        reverse("admin:followup_followup_changelist"),
    ]
    for followup in two:
        pages += [
            reverse("admin:followup_followup_change", args=[followup.pk]),
            reverse("admin:followup_followedperson_change", args=[followup.person.pk]),
        ]
    for page in pages:
        assert client.get(page).status_code == 200, page
    changelist = client.get(reverse("admin:followup_followup_changelist"))
    assert {row.pk for row in changelist.context["cl"].result_list} == {f.pk for f in two}


def test_a_published_version_is_read_only_and_a_new_one_is_made_by_the_action(
    client: Client, root: User, world: World
) -> None:
    client.force_login(root)
    v1 = Questionnaire.objects.get(code="home-care")
    page = client.get(reverse("admin:followup_questionnaire_change", args=[v1.pk]))
    inline = page.context["inline_admin_formsets"][0]
    assert not inline.has_add_permission and not inline.has_change_permission
    assert "title" in page.context["adminform"].readonly_fields

    response = client.post(
        reverse("admin:followup_questionnaire_changelist"),
        {"action": "new_version", "_selected_action": [v1.pk]},
        follow=True,
    )
    assert "第2版（下書き）を作りました" in response.content.decode()
    v2 = Questionnaire.objects.get(code="home-care", version=2)
    page = client.get(reverse("admin:followup_questionnaire_change", args=[v2.pk]))
    assert page.context["inline_admin_formsets"][0].has_change_permission

    response = client.post(
        reverse("admin:followup_questionnaire_changelist"),
        {"action": "publish", "_selected_action": [v2.pk]},
        follow=True,
    )
    assert response.status_code == 200
    v2.refresh_from_db()
    assert v2.is_active and v2.is_published


def test_a_second_questionnaire_with_a_used_code_is_refused(client: Client, root: User) -> None:
    client.force_login(root)
    response = client.post(
        reverse("admin:followup_questionnaire_add"),
        {
            "code": "home-care",
            "title": "重複",
            "title_en": "",
            "questions-TOTAL_FORMS": "0",
            "questions-INITIAL_FORMS": "0",
            "alert_rules-TOTAL_FORMS": "0",
            "alert_rules-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "code" in response.context["adminform"].form.errors
    assert Questionnaire.objects.filter(code="home-care").count() == 1


def test_an_administrator_sees_only_their_city_and_reads_are_audited(
    client: Client, world: World, two: tuple[FollowUp, FollowUp]
) -> None:
    own, other = two
    staff = _administrator(world)
    client.force_login(staff)
    for name, rows in (("followup", (own, other)), ("followedperson", (own.person, other.person))):
        listing = client.get(reverse(f"admin:followup_{name}_changelist"))
        assert listing.status_code == 200
        assert {row.pk for row in listing.context["cl"].result_list} == {rows[0].pk}
        change = reverse(f"admin:followup_{name}_change", args=[rows[0].pk])
        assert client.get(change).status_code == 200
        for view in ("change", "history", "delete"):
            page = reverse(f"admin:followup_{name}_{view}", args=[rows[1].pk])
            assert client.get(page).status_code == 404, (name, view)
    read = RecordAccess.objects.filter(user=staff)
    assert set(read.values_list("resident_id", flat=True)) == {own.person.resident_id}
    assert read.filter(detail__page="admin_followup_change").exists()


def test_a_person_who_is_no_resident_is_audited_by_subject(
    client: Client, world: World, two: tuple[FollowUp, FollowUp]
) -> None:
    own, _other = two
    FollowedPerson.objects.filter(pk=own.person_id).update(resident=None)
    staff = _administrator(world)
    client.force_login(staff)
    client.get(reverse("admin:followup_followedperson_change", args=[own.person_id]))
    [read] = RecordAccess.objects.filter(user=staff)
    assert (read.resident_id, read.subject) == (None, f"followup.person:{own.person_id}")


def test_staff_end_a_follow_up_and_correct_a_phone_number(
    client: Client, world: World, two: tuple[FollowUp, FollowUp]
) -> None:
    own, other = two
    client.force_login(_administrator(world))
    client.post(
        reverse("admin:followup_followup_changelist"),
        {"action": "end_by_staff", "_selected_action": [own.pk, other.pk]},
    )
    own.refresh_from_db()
    other.refresh_from_db()
    assert (own.status, own.end_reason) == ("ended", "staff")
    assert other.status == "active"  # outside the scope: not even selectable

    page = reverse("admin:followup_followedperson_change", args=[own.person.pk])
    refused = client.post(page, {"phone": "12345", "proxy_phone": ""})
    assert "phone" in refused.context["adminform"].form.errors
    client.post(page, {"phone": "０８０－１１１１－２２２２", "proxy_phone": "0987-11-2222"})
    own.person.refresh_from_db()
    assert (own.person.phone, own.person.proxy_phone) == ("+818011112222", "+81987112222")


def test_questions_of_a_published_version_cannot_be_changed(client: Client, root: User) -> None:
    client.force_login(root)
    question = Question.objects.get(questionnaire__code="home-care", key="spo2")
    client.post(
        reverse("admin:followup_question_change", args=[question.pk]),
        {
            "key": "spo2",
            "max_value": "99",
            "choices-TOTAL_FORMS": "0",
            "choices-INITIAL_FORMS": "0",
        },
    )
    question.refresh_from_db()
    assert question.max_value == 100
