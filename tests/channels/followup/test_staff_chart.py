"""The follow-up page's charts: SpO2 and body temperature over the days, over the alert bands of
the questionnaire's own rules, with a title, a description naming every value, and gaps for
days without an answer."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from channels.followup.charts import chart_questions, vital_charts
from channels.followup.models import AlertRule, Questionnaire
from channels.followup.selectors import questionnaire_questions

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [dt.date(2026, 11, 2) + dt.timedelta(days=i) for i in range(4)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (the SVG our own code drew for this test)


def charts_of(code: str, answers: list[dict[str, str] | None]) -> dict[str, ET.Element]:
    questionnaire = Questionnaire.objects.get(code=code, is_active=True)
    charts = vital_charts(
        questions=questionnaire_questions(questionnaire),
        rules=list(questionnaire.alert_rules.all()),
        days=list(zip(DAYS, answers, strict=False)),
    )
    return {chart.key: parse(str(chart.svg)) for chart in charts}


def band(svg: ET.Element, condition: str, threshold: str) -> ET.Element:
    found = [
        rect
        for rect in svg.iter(f"{SVG}rect")
        if rect.get("data-condition") == condition and rect.get("data-threshold") == threshold
    ]
    assert len(found) == 1, [r.attrib for r in svg.iter(f"{SVG}rect")]
    return found[0]


def point_heights(svg: ET.Element) -> list[float]:
    return [float(c.get("cy", "nan")) for c in svg.iter(f"{SVG}circle")]


HOME = [
    {"temperature": "37.0", "spo2": "97"},
    {"temperature": "38.6", "spo2": "92"},
    None,  # no answer that day
    {"temperature": "38.9", "spo2": "95"},
]


def test_the_spo2_chart_draws_the_red_band_at_or_below_93() -> None:
    svg = charts_of("home-care", HOME)["spo2"]
    red = band(svg, "lte", "93")
    assert "band-red" in red.get("class", "")
    top = float(red.get("y", "nan"))
    bottom = top + float(red.get("height", "nan"))
    # The band runs from 93% down to the bottom of the plot: 92% lies in it, 95% and 97% above.
    heights = point_heights(svg)
    assert len(heights) == 3  # the day without an answer has no point
    spo2_97, spo2_92, spo2_95 = heights
    assert top <= spo2_92 <= bottom
    assert spo2_97 < top and spo2_95 < top
    grid_lines = [float(line.get("y1", "nan")) for line in svg.iter(f"{SVG}line")]
    assert bottom >= max(grid_lines) - 0.1  # down to the lowest tick
    # The level is written, not only coloured.
    assert "赤：93%以下" in (red.findtext(f"{SVG}title") or "")
    labels = [t.text for t in svg.iter(f"{SVG}text") if "band-label" in t.get("class", "")]
    assert labels == ["赤：93%以下"]


def test_the_temperature_chart_draws_the_yellow_band_above_its_threshold() -> None:
    svg = charts_of("home-care", HOME)["temperature"]
    yellow = band(svg, "gte", "38.5")
    assert "band-yellow" in yellow.get("class", "")
    top = float(yellow.get("y", "nan"))
    bottom = top + float(yellow.get("height", "nan"))
    t37, t386, t389 = point_heights(svg)
    assert top <= t386 <= bottom and top <= t389 <= bottom
    assert t37 > bottom  # below the band (greater y is lower)
    assert "黄：38.5℃以上（2日続く）" in (yellow.findtext(f"{SVG}title") or "")


def test_the_chart_is_described_for_screen_readers_and_breaks_at_a_missing_day() -> None:
    svg = charts_of("home-care", HOME)["spo2"]
    assert svg.get("role") == "img"
    title_id, desc_id = (svg.get("aria-labelledby") or "").split()
    title = svg.find(f"{SVG}title")
    desc = svg.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert (title.get("id"), desc.get("id")) == (title_id, desc_id)
    assert title.text == "SpO2の推移"
    assert desc.text == (
        "SpO2の推移。11/2 97%、11/3 92%、11/4 —、11/5 95%。アラートの範囲：赤：93%以下。"
    )
    # Two runs of line, split by the day without an answer: a gap, never a guess.
    assert len(list(svg.iter(f"{SVG}polyline"))) == 2


def test_the_bands_follow_the_questionnaires_own_rules() -> None:
    # A municipality's next version with a stricter SpO2 rule charts its own threshold.
    from channels.followup.services import questionnaire_new_version

    draft = questionnaire_new_version(Questionnaire.objects.get(code="home-care", is_active=True))
    AlertRule.objects.filter(questionnaire=draft, question_key="spo2").update(
        threshold=Decimal("94")
    )
    charts = vital_charts(
        questions=questionnaire_questions(draft),
        rules=list(draft.alert_rules.all()),
        days=list(zip(DAYS, HOME, strict=False)),
    )
    svg = parse(str({c.key: c for c in charts}["spo2"].svg))
    band(svg, "lte", "94")
    assert not [r for r in svg.iter(f"{SVG}rect") if r.get("data-threshold") == "93"]


def test_after_vaccination_the_fever_question_is_charted() -> None:
    questionnaire = Questionnaire.objects.get(code="post-vaccination", is_active=True)
    charted = chart_questions(questionnaire_questions(questionnaire))
    assert [(title, q.key) for title, q in charted] == [("体温", "fever")]
    svg = charts_of("post-vaccination", [{"fever": "39.2"}, {"fever": "37.0"}])["fever"]
    band(svg, "gte", "39.0")
