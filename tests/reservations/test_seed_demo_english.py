"""seed_demo names the demo city, its sites, vaccines and campaigns in English too, so the
English pages of the demo show no Japanese-only name."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from pytest_django.fixtures import Settings as SettingsWrapper

from reservations.models import Campaign, Municipality, OperatingDay, Site, Vaccine

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def debug_on(settings: SettingsWrapper) -> None:
    settings.DEBUG = True  # the demo logins are refused without it


def seed_demo(today: str) -> None:
    call_command("seed_demo", "--today", today, "--residents", "5", stdout=StringIO())


def test_it_names_everything_residents_see_in_english() -> None:
    seed_demo("2026-12-01")
    city = Municipality.objects.get(code="452041")
    assert city.name_en == "Nichinan City"
    sites = {site.name: site for site in Site.objects.filter(municipality=city)}
    assert sites["日南市文化センター"].name_en == "Nichinan City Cultural Center"
    assert sites["油津地区公民館"].name_en == "Aburatsu Community Hall"
    assert sites["日南ファミリークリニック"].name_en == "Nichinan Family Clinic"
    assert all(site.what_to_bring_en.startswith("Vaccination ticket") for site in sites.values())
    days = OperatingDay.objects.filter(site__municipality=city)
    vaccines = Vaccine.objects.filter(pk__in=days.values("vaccine"))
    campaigns = Campaign.objects.filter(pk__in=days.values("campaign"))
    assert vaccines.count() == 3 and campaigns.count() == 2
    assert all(vaccine.name_en for vaccine in vaccines), list(vaccines)
    assert all(campaign.name_en for campaign in campaigns), list(campaigns)


def test_it_names_its_own_round_in_english_after_the_national_one_ends() -> None:
    seed_demo("2027-05-10")
    names = set(
        Campaign.objects.filter(municipality__code="452041").values_list("name_en", flat=True)
    )
    assert names == {
        "COVID-19 routine vaccination (Nichinan City demo)",
        "Influenza routine vaccination for older people (Nichinan City demo)",
    }


def test_it_fills_english_names_into_an_older_demo_and_keeps_edited_ones() -> None:
    seed_demo("2027-05-10")
    Municipality.objects.update(name_en="")
    Site.objects.filter(name="日南市文化センター").update(name_en="", what_to_bring_en="")
    Site.objects.filter(name="油津地区公民館").update(name_en="Aburatsu Hall (edited)")
    Campaign.objects.filter(municipality__code="452041").update(name_en="")

    seed_demo("2027-05-11")

    assert Municipality.objects.get(code="452041").name_en == "Nichinan City"
    culture = Site.objects.get(name="日南市文化センター")
    assert culture.name_en == "Nichinan City Cultural Center" and culture.what_to_bring_en
    assert Site.objects.get(name="油津地区公民館").name_en == "Aburatsu Hall (edited)"
    assert all(
        Campaign.objects.filter(municipality__code="452041").values_list("name_en", flat=True)
    )
