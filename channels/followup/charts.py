"""A follow-up's body temperature and SpO2 over its days, drawn on the server as inline SVG (no
JavaScript, prints, works on the closed municipal networks), in the manner of
channels/phone/charts.py.

The alert bands come from the questionnaire version's own AlertRules for the charted question
(≤ a threshold: the band below it; ≥: the band above), so what the chart marks is what raised
the alerts. A band carries its level in words as well as in colour. Each chart has a <title>
and a <desc> naming every value, and the page puts a table of the same numbers beside it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from channels.followup.models import AlertLevel, AlertRule, Question
from channels.followup.rules import answer_number

# Drawn for the width of a phone's card (the page scales it up on a desk's): its text stays
# legible at 360 px.
WIDTH, HEIGHT = 420, 230
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 30
# At most this many tick lines on the y axis.
MAX_TICKS = 6


@dataclass(frozen=True)
class Band:
    condition: str  # AlertRule.Condition: lte (below the threshold) or gte (above)
    threshold: Decimal
    level: str
    consecutive_days: int

    @property
    def level_word(self) -> str:
        return _("赤") if self.level == AlertLevel.RED else _("黄")

    def words(self, unit: str, places: int) -> str:
        value = f"{self.threshold:.{places}f}{unit}"
        if self.condition == AlertRule.Condition.AT_MOST:
            text = _("%(value)s以下") % {"value": value}
        else:
            text = _("%(value)s以上") % {"value": value}
        if self.consecutive_days > 1:
            text = _("%(text)s（%(days)d日続く）") % {"text": text, "days": self.consecutive_days}
        return _("%(level)s：%(text)s") % {"level": self.level_word, "text": text}


@dataclass(frozen=True)
class Point:
    day: dt.date
    value: Decimal | None


@dataclass(frozen=True)
class VitalChart:
    key: str
    title: str
    unit: str
    places: int
    points: list[Point]
    bands: list[Band]
    svg: SafeString

    def text(self, value: Decimal | None) -> str:
        return "—" if value is None else f"{value:.{self.places}f}{self.unit}"

    @property
    def band_words(self) -> list[str]:
        return [band.words(self.unit, self.places) for band in self.bands]


def chart_questions(questions: Sequence[Question]) -> list[tuple[str, Question]]:
    """The questions charted, with the chart's title: the body temperature (the number
    question in ℃: `temperature` of home-care, `fever` after vaccination) and SpO2 (`spo2`)."""
    found: list[tuple[str, Question]] = []
    numbers = [q for q in questions if q.kind == Question.Kind.NUMBER]
    temperature = next((q for q in numbers if q.unit == "℃"), None)
    if temperature is not None:
        found.append((_("体温"), temperature))
    spo2 = next((q for q in numbers if q.key == "spo2"), None)
    if spo2 is not None:
        found.append((_("SpO2"), spo2))
    return found


def _bands(rules: Sequence[AlertRule], key: str) -> list[Band]:
    return [
        Band(
            condition=rule.condition,
            threshold=rule.threshold,
            level=rule.level,
            consecutive_days=rule.consecutive_days,
        )
        for rule in rules
        if rule.question_key == key
        and rule.condition in (AlertRule.Condition.AT_MOST, AlertRule.Condition.AT_LEAST)
        and rule.threshold is not None
    ]


def _nice_step(span: float, places: int) -> float:
    """A round tick step giving about four intervals over `span` (never finer than the
    question's own precision)."""
    smallest = 10.0**-places
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100):
        if step >= smallest - 1e-9 and span / step <= MAX_TICKS - 1:
            return float(step)
    return max(span / (MAX_TICKS - 1), smallest)


def _axis(
    question: Question, values: list[Decimal], bands: list[Band]
) -> tuple[float, float, float]:
    """The y axis (low, high, tick step): every value and threshold with a margin, on round
    ticks, within the question's own bounds (no 105% SpO2)."""
    marks = [float(v) for v in values] + [float(b.threshold) for b in bands]
    if not marks:
        marks = [
            float(bound) for bound in (question.min_value, question.max_value) if bound is not None
        ] or [0.0, 100.0]
    places = question.decimal_places
    margin = max((max(marks) - min(marks)) * 0.15, 10.0**-places * 5)
    low, high = min(marks) - margin, max(marks) + margin
    step = _nice_step(high - low, places)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    if question.min_value is not None:
        low = max(low, float(question.min_value))
    if question.max_value is not None:
        high = min(high, float(question.max_value))
    if high <= low:
        high = low + step
    return low, high, step


def vital_chart(
    *,
    title: str,
    question: Question,
    rules: Sequence[AlertRule],
    days: Sequence[tuple[dt.date, Mapping[str, Any] | None]],
) -> VitalChart:
    """One question's values over the days (a gap for a day without an answer) over its alert
    bands."""
    unit, places = question.unit, question.decimal_places
    points = [
        Point(day=day, value=answer_number(values.get(question.key)) if values else None)
        for day, values in days
    ]
    bands = _bands(rules, question.key)
    low, high, tick_step = _axis(question, [p.value for p in points if p.value is not None], bands)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(points), 1)

    def x(i: int) -> float:
        return LEFT + step * (i + 0.5)

    def y(value: float) -> float:
        clamped = min(max(value, low), high)
        return TOP + plot_h * (1 - (clamped - low) / (high - low))

    key = escape(question.key)
    values_words = _("、").join(
        f"{p.day.month}/{p.day.day} {'—' if p.value is None else f'{p.value:.{places}f}{unit}'}"
        for p in points
    )
    band_words = _("、").join(band.words(unit, places) for band in bands) or _("なし")
    description = _("%(title)sの推移。%(values)s。アラートの範囲：%(bands)s。") % {
        "title": title,
        "values": values_words or _("回答なし"),
        "bands": band_words,
    }
    parts = [
        f'<svg class="vital-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-{key}-title chart-{key}-desc" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-{key}-title">{escape(_("%(title)sの推移") % {"title": title})}</title>',
        f'<desc id="chart-{key}-desc">{escape(description)}</desc>',
    ]
    for band in bands:
        edge = y(float(band.threshold))
        top, bottom = (edge, TOP + plot_h) if band.condition == "lte" else (TOP, edge)
        words = band.words(unit, places)
        parts.append(
            f'<rect class="band band-{escape(band.level)}" data-condition="{band.condition}" '
            f'data-threshold="{band.threshold:.{places}f}" x="{LEFT}" y="{top:.1f}" '
            f'width="{plot_w}" height="{bottom - top:.1f}"><title>{escape(words)}</title></rect>'
            f'<line class="threshold threshold-{escape(band.level)}" x1="{LEFT}" '
            f'x2="{LEFT + plot_w}" y1="{edge:.1f}" y2="{edge:.1f}"/>'
        )
        # The level in words inside its band: colour is never the only sign.
        label_y = edge + 14 if band.condition == "lte" else edge - 5
        parts.append(
            f'<text class="band-label" x="{LEFT + plot_w - 4}" y="{label_y:.1f}" '
            f'text-anchor="end">{escape(words)}</text>'
        )
    first_tick = math.ceil(low / tick_step - 1e-9) * tick_step
    ticks = int((high - first_tick) / tick_step + 1e-9) + 1
    for tick in range(ticks):
        value = first_tick + tick * tick_step
        ty = y(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
            f'<text class="tick" x="{LEFT - 4}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{value:.{places}f}</text>"
        )
    every = max(1, -(-len(points) // 7))  # at most 7 day labels: they never overlap
    for i, point in enumerate(points):
        if i % every == 0:
            parts.append(
                f'<text class="tick" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 18}" '
                f'text-anchor="middle">{point.day.month}/{point.day.day}</text>'
            )
    # The line breaks where a day has no answer: a gap, never a guess.
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, point in enumerate(points):
        if point.value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x(i):.1f},{y(float(point.value)):.1f}")
    if segment:
        segments.append(segment)
    for line in segments:
        parts.append(f'<polyline class="vital-line" fill="none" points="{" ".join(line)}"/>')
    for i, point in enumerate(points):
        if point.value is None:
            continue
        text = f"{point.day.month}/{point.day.day} {point.value:.{places}f}{unit}"
        parts.append(
            f'<circle class="vital-point" cx="{x(i):.1f}" cy="{y(float(point.value)):.1f}" '
            f'r="4"><title>{escape(text)}</title></circle>'
        )
    parts.append("</svg>")
    # Every text above was escaped; numbers and classes are ours.
    svg = mark_safe("".join(parts))  # noqa: S308
    return VitalChart(
        key=question.key,
        title=title,
        unit=unit,
        places=places,
        points=points,
        bands=bands,
        svg=svg,
    )


def vital_charts(
    *,
    questions: Sequence[Question],
    rules: Sequence[AlertRule],
    days: Sequence[tuple[dt.date, Mapping[str, Any] | None]],
) -> list[VitalChart]:
    """The temperature and SpO2 charts of a follow-up (those its questionnaire asks)."""
    return [
        vital_chart(title=title, question=question, rules=rules, days=days)
        for title, question in chart_questions(questions)
    ]
