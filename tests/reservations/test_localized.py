"""The name picker: the English name for English readers when there is one, else the Japanese
name; era labels and the HTML lang value per language; the template filter does the same."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.template import Context, Template
from django.test import Client
from django.utils import translation

from reservations.identifiers import ERAS
from reservations.localized import era_label, html_lang, localized, reads_english
from reservations.models import Site, Vaccine
from tests.world import World


@dataclass
class Row:
    site_name: str
    site_name_en: str = ""


def site(name_en: str = "") -> Site:
    return Site(
        name="日南市文化センター", name_en=name_en, what_to_bring="接種券", what_to_bring_en=""
    )


def test_it_picks_the_english_name_for_english_readers() -> None:
    assert localized(site("Culture Centre"), language="en") == "Culture Centre"
    assert localized(site("Culture Centre"), language="en-gb") == "Culture Centre"


@pytest.mark.parametrize("language", ["ja", "ja-easy"])
def test_it_keeps_the_japanese_name_for_japanese_readers(language: str) -> None:
    assert localized(site("Culture Centre"), language=language) == "日南市文化センター"


def test_it_falls_back_to_japanese_when_no_english_name_was_entered() -> None:
    assert localized(site(""), language="en") == "日南市文化センター"
    assert localized(site("   "), language="en") == "日南市文化センター"
    assert localized(site("Culture Centre"), "what_to_bring", language="en") == "接種券"


def test_it_reads_the_active_language_by_default() -> None:
    with translation.override("en"):
        assert reads_english()
        assert localized(Vaccine(name="コミナティ", name_en="Comirnaty")) == "Comirnaty"
    with translation.override("ja"):
        assert not reads_english()
        assert localized(Vaccine(name="コミナティ", name_en="Comirnaty")) == "コミナティ"


def test_it_works_on_rows_and_on_objects_without_an_english_twin() -> None:
    assert localized(Row("会場A", "Site A"), "site_name", language="en") == "Site A"
    assert localized(Row("会場A"), "site_name", language="en") == "会場A"
    assert localized(object(), "name", language="en") == ""


def test_it_labels_the_eras_for_each_reader() -> None:
    showa = next(era for era in ERAS if era.letter == "S")
    reiwa = next(era for era in ERAS if era.letter == "R")
    assert era_label(reiwa, language="en") == "Reiwa (2019–)"
    assert era_label(showa, language="en") == "Showa (1926–)"
    assert era_label(showa, language="ja") == "昭和"
    assert era_label(showa, language="ja-easy") == "昭和（しょうわ）"
    assert {era_label(era, language="en").split()[0] for era in ERAS} == {
        "Meiji",
        "Taisho",
        "Showa",
        "Heisei",
        "Reiwa",
    }


def test_it_writes_easy_japanese_as_a_valid_html_language() -> None:
    assert html_lang("ja-easy") == "ja-x-easy"
    assert html_lang("en") == "en" and html_lang("ja") == "ja"


def test_the_template_filter_picks_the_same_name() -> None:
    template = Template('{% load localized %}{{ site|localized }}|{{ row|localized:"site_name" }}')
    context = Context({"site": site("Culture Centre"), "row": Row("会場A", "Site A")})
    with translation.override("en"):
        assert template.render(context) == "Culture Centre|Site A"
    with translation.override("ja"):
        assert template.render(context) == "日南市文化センター|会場A"
    assert Template("{% load localized %}[{{ nothing|localized }}]").render(Context({})) == "[]"


@pytest.mark.django_db
def test_the_admin_edits_the_english_names(admin_client: Client, world: World) -> None:
    page = admin_client.get(f"/admin/reservations/site/{world.site.pk}/change/").content.decode()
    assert 'name="name_en"' in page and 'name="what_to_bring_en"' in page
    for path in (
        f"/admin/reservations/municipality/{world.municipality.pk}/change/",
        f"/admin/reservations/vaccine/{world.vaccine.pk}/change/",
        f"/admin/reservations/campaign/{world.campaign.pk}/change/",
    ):
        assert 'name="name_en"' in admin_client.get(path).content.decode(), path
    found = admin_client.get("/admin/reservations/site/?q=Culture")
    assert found.status_code == 200
    Site.objects.filter(pk=world.site.pk).update(name_en="Nichinan Culture Centre")
    listing = admin_client.get("/admin/reservations/site/?q=Culture").content.decode()
    assert "Nichinan Culture Centre" in listing
