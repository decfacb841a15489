"""Charts drawn on the server as inline SVG: no JavaScript, nothing fetched from a CDN, and
they print. Each chart also has a table beside it for screen readers and exact numbers.

Kept by hand after weighing the libraries: pygal renders server-side SVG but wires in its
tooltips' JavaScript from a CDN unless told not to and styles by its own themes, and matplotlib
draws text as paths (CJK fonts on the server) at a cost of tens of megabytes; the two chart
kinds needed here (lines with bars, a step line) are a page of arithmetic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from reservations.localized import localized
from reservations.models import Channel

WIDTH, HEIGHT = 900, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 14, 40
LEGEND_ROW = 16
# Colours for series that are not fixed kinds (one per site): classes in console.css.
PALETTE_SIZE = 8


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str
    kind: str = "line"  # "line", "bar" or "step"


def _nice_max(value: float) -> float:
    """The smallest round top of the y axis at or above `value` whose quarter ticks are round."""
    if value <= 0:
        return 4.0
    for top in (4, 8, 12, 20, 40, 60, 80, 100, 200, 400, 600, 800, 1000, 2000, 4000, 10000):
        if value <= top:
            return float(top)
    return float(value)


def _text_width(text: str) -> float:
    """Roughly how wide the legend's 11 px text is: a kanji or kana is a full em, Latin half."""
    return sum(11.0 if ord(char) > 0x2E7F else 6.5 for char in text)


def _legend(series: Sequence[Series]) -> list[tuple[float, int, Series]]:
    """Each series' legend entry (x, row): in rows under the plot, wrapping before the edge,
    so long names (a site's full name) are written out instead of cut."""
    placed, x, row = [], float(LEFT), 0
    for s in series:
        width = 16 + _text_width(s.name) + 18
        if x > LEFT and x + width > WIDTH - RIGHT:
            x, row = float(LEFT), row + 1
        placed.append((x, row, s))
        x += width
    return placed


def chart(
    *, title: str, labels: Sequence[str], series: Sequence[Series], y_max: float | None = None
) -> SafeString:
    """A chart with a y axis, up to 8 x labels, bars (grouped) and lines, and a legend that
    wraps onto as many rows as it needs."""
    count = max(len(labels), 1)
    legend = _legend(series)
    height = HEIGHT + LEGEND_ROW * max((row for _x, row, _s in legend), default=0)
    peak = max([v for s in series for v in s.values if v is not None] or [0])
    top = y_max if y_max is not None else _nice_max(float(peak))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / count

    def x(i: float) -> float:
        return LEFT + step * (i + 0.5)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - min(v, top) / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in range(5):
        value = top * tick / 4
        ty = y(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
        )
        label = f"{value:g}"
        parts.append(
            f'<text class="tick" x="{LEFT - 4}" y="{ty + 4:.1f}" text-anchor="end">{label}</text>'
        )
    every = max(1, -(-count // 8))  # at most 8 labels, so they never overlap
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(
                f'<text class="tick" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    bars = [s for s in series if s.kind == "bar"]
    bar_w = min(step * 0.8 / max(len(bars), 1), 36.0)
    group_w = bar_w * len(bars)
    for b, s in enumerate(bars):
        for i, v in enumerate(s.values):
            if v is None or v <= 0:
                continue
            bx = x(i) - group_w / 2 + bar_w * b
            parts.append(
                f'<rect class="{s.css}" x="{bx:.1f}" y="{y(v):.1f}" width="{bar_w:.1f}" '
                f'height="{TOP + plot_h - y(v):.1f}"><title>{escape(labels[i])} {escape(s.name)}: '
                f"{v:g}</title></rect>"
            )
    for s in series:
        if s.kind == "bar":
            continue
        points = []
        for i, v in enumerate(s.values):
            if v is None:
                continue
            if s.kind == "step":
                points.append(
                    f"{LEFT + step * i:.1f},{y(v):.1f} {LEFT + step * (i + 1):.1f},{y(v):.1f}"
                )
            else:
                points.append(f"{x(i):.1f},{y(v):.1f}")
        if points:
            parts.append(f'<polyline class="{s.css}" fill="none" points="{" ".join(points)}"/>')
    for lx, row, s in legend:
        ly = HEIGHT + LEGEND_ROW * row
        parts.append(
            f'<rect class="{s.css} legend" x="{lx:.1f}" y="{ly - 14}" width="12" height="8"/>'
            f'<text class="legend" x="{lx + 16:.1f}" y="{ly - 6}">{escape(s.name)}</text>'
        )
    parts.append("</svg>")
    # Every interpolated label was escaped above; numbers are formatted by us.
    return mark_safe("".join(parts))  # noqa: S308


def forecast_chart(rows: Sequence[Any]) -> SafeString:
    labels = [f"{r.starts_at:%m/%d %H:%M}" for r in rows]
    return chart(
        title=_("入電予測と実績、必要人数"),
        labels=labels,
        series=[
            Series(_("予測入電"), [r.forecast_calls for r in rows], "s-forecast"),
            Series(_("実績入電"), [r.actual_calls for r in rows], "s-actual"),
            Series(_("必要人数"), [r.staffing.staff for r in rows], "s-required", "step"),
            Series(_("実績人数"), [r.staffed for r in rows], "s-staffed", "step"),
        ],
    )


def plan_chart(rows: Sequence[Any]) -> SafeString:
    """The season plan's forecast (planning.PlannedInterval rows) against the call log."""
    return chart(
        title=_("計画からの入電予測と実績、必要オペレーター"),
        labels=[f"{r.starts_at:%m/%d %H:%M}" for r in rows],
        series=[
            Series(_("予測入電"), [r.blended_calls for r in rows], "s-forecast"),
            Series(_("実績入電"), [r.actual_calls for r in rows], "s-actual"),
            Series(_("掛け直しを含む発信"), [r.attempts for r in rows], "s-staffed"),
            Series(_("必要オペレーター"), [r.operators_needed for r in rows], "s-required", "step"),
        ],
    )


def fill_rate_chart(fills: Sequence[Any]) -> SafeString:
    """Days along the x axis, one bar per site (and vaccine, where several are given) in its
    own colour, named in full in the legend: an x label holds the date only, so it is never
    cut short (it used to read 「12/07 日南ファ」)."""
    dates = sorted({f.date for f in fills})
    index = {d: i for i, d in enumerate(dates)}
    keys = sorted({(localized(f, "site_name"), localized(f, "vaccine_name")) for f in fills})
    several_vaccines = len({vaccine for _site, vaccine in keys}) > 1
    series = []
    for n, (site, vaccine) in enumerate(keys):
        values: list[float | None] = [None] * len(dates)
        for f in fills:
            if (localized(f, "site_name"), localized(f, "vaccine_name")) == (site, vaccine):
                values[index[f.date]] = round(f.rate * 100, 1)
        name = _("%(site)s（%(vaccine)s）") % {"site": site, "vaccine": vaccine}
        series.append(
            Series(name if several_vaccines else site, values, f"s-site{n % PALETTE_SIZE}", "bar")
        )
    return chart(
        title=_("会場・日別の予約率（%）"),
        labels=[f"{d:%m/%d}" for d in dates],
        series=series,
        y_max=100,
    )


def channel_chart(rows: Sequence[dict[str, Any]]) -> SafeString:
    days = sorted({r["day"] for r in rows})
    index = {d: i for i, d in enumerate(days)}
    labels = dict(Channel.choices)
    series = []
    for channel in sorted({r["channel"] for r in rows}):
        values: list[float | None] = [0.0] * len(days)
        for r in rows:
            if r["channel"] == channel:
                values[index[r["day"]]] = r["n"]
        series.append(Series(str(labels.get(channel, channel)), values, f"s-{channel}", "bar"))
    return chart(
        title=_("受付経路別の予約件数（日別）"), labels=[f"{d:%m/%d}" for d in days], series=series
    )


def loss_chart(rows: Sequence[dict[str, Any]]) -> SafeString:
    return chart(
        title=_("キャンセルと来場なし（接種日別）"),
        labels=[f"{r['slot__operating_day__date']:%m/%d}" for r in rows],
        series=[
            Series(_("キャンセル"), [r["cancelled"] for r in rows], "s-cancelled", "bar"),
            Series(_("来場なし"), [r["no_show"] for r in rows], "s-noshow", "bar"),
        ],
    )
