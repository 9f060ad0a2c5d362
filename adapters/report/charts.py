"""The report's four charts, drawn as PNG images with matplotlib's Agg canvas (no display, no pyplot state).

Each chart takes the aggregates from adapters.store.queries and nothing else, so it cannot show more than
they hold: a group below the floor has no value to draw and is marked "too few to report" instead. Every
chart is drawn even with no data yet, saying so, so a report always has the same four images.
"""

import base64
import io
from collections.abc import Sequence
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pydantic import BaseModel

from adapters.report.figures import kpi_value, percent, rating
from adapters.store.queries import CycleAdherence, CycleProgress, FunnelStage, KpiRow, SurveyRating
from domain.spec import RATE_KPIS, SCALE_KPIS

ChartKey = Literal["funnel", "adherence", "ratings", "kpis"]

# Okabe-Ito: told apart with every common colour-vision deficiency, and in greyscale print.
BLUE, ORANGE, GREEN, VERMILION, GREY, INK = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#9a9a9a", "#222222"
WIDTH_INCHES = 6.4
DPI = 110


class Chart(BaseModel):
    key: ChartKey
    title: str
    alt: str  # the chart's figures in words, for screen readers and for a reader whose images are off
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def _figure(height: float) -> Figure:
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _plain(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=INK, labelsize=10)


def _empty(ax: Axes, message: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", color=INK, fontsize=11, transform=ax.transAxes)


def funnel_chart(stages: Sequence[FunnelStage]) -> Chart:
    figure = _figure(3.0)
    ax = figure.add_subplot()
    if not stages or stages[0].people == 0:
        _empty(ax, "Nobody has been invited yet")
    else:
        labels = [s.stage for s in stages][::-1]
        counts = [s.people for s in stages][::-1]
        colours = [VERMILION if s.stage == "withdrawn" else BLUE for s in stages][::-1]
        bars = ax.barh(labels, counts, color=colours)
        ax.bar_label(bars, padding=3, fontsize=9, color=INK)
        ax.set_xlabel("people", fontsize=9, color=INK)
        ax.set_xlim(0, max(counts) * 1.12)
        _plain(ax)
    ax.set_title("Enrolment funnel", loc="left", fontsize=12, color=INK)
    alt = "Enrolment funnel, people at each step: " + ", ".join(f"{s.stage} {s.people}" for s in stages) + "."
    return Chart(key="funnel", title="Enrolment funnel", alt=alt, png=_png(figure))


def adherence_chart(cycles: Sequence[CycleAdherence]) -> Chart:
    figure = _figure(3.2)
    ax = figure.add_subplot()
    if not cycles:
        _empty(ax, "No check-in cycle has closed yet")
    else:
        positions = range(len(cycles))
        shares = [0.0 if c.met.value is None else c.met.value * 100 for c in cycles]
        colours = [GREY if c.met.too_few else GREEN for c in cycles]
        bars = ax.bar(positions, shares, color=colours, width=0.6)
        ax.bar_label(bars, labels=[percent(c.met.value) for c in cycles], padding=3, fontsize=9, color=INK)
        ax.set_xticks(list(positions), [f"cycle {c.cycle}\n{c.met.n} pairings" for c in cycles], fontsize=9)
        ax.set_ylim(0, 115)
        ax.set_ylabel("cycles met (%)", fontsize=9, color=INK)
        _plain(ax)
    ax.set_title("Check-in adherence by cycle", loc="left", fontsize=12, color=INK)
    alt = "Check-in adherence by cycle, share of pairings that met: " + (
        "; ".join(f"cycle {c.cycle}, {c.met.n} pairings, {percent(c.met.value)}" for c in cycles)
        or "no cycle closed yet"
    )
    return Chart(key="adherence", title="Check-in adherence over time", alt=alt + ".", png=_png(figure))


def _progress_axes(ax: Axes, progress: Sequence[CycleProgress]) -> None:
    if not progress:
        _empty(ax, "No check-ins yet")
        return
    shown = [(p.cycle, p.progress.value) for p in progress if p.progress.value is not None]
    if shown:
        ax.plot([c for c, _ in shown], [v for _, v in shown], marker="o", color=BLUE)
    for p in progress:
        if p.progress.value is None:
            ax.annotate("too few", (p.cycle, 1.15), ha="center", fontsize=9, color=GREY)
    ax.set_xticks([p.cycle for p in progress])
    ax.set_xlim(min(p.cycle for p in progress) - 0.5, max(p.cycle for p in progress) + 0.5)
    ax.set_ylim(1, 5.2)
    ax.set_xlabel("check-in cycle", fontsize=9, color=INK)
    ax.set_ylabel("average progress (1-5)", fontsize=9, color=INK)
    _plain(ax)


def _survey_axes(ax: Axes, surveys: Sequence[SurveyRating]) -> None:
    scaled = [s for s in surveys if s.scale == "1-5"]
    if not scaled:
        _empty(ax, "No survey answers yet")
        return
    labels = [f"{s.survey}: {s.question.replace('_', ' ')}" for s in scaled][::-1]
    values = [s.rating.value or 0.0 for s in scaled][::-1]
    colours = [GREY if s.rating.too_few else ORANGE for s in scaled][::-1]
    bars = ax.barh(labels, values, color=colours, left=0)
    ax.bar_label(bars, labels=[rating(s.rating.value) for s in scaled][::-1], padding=3, fontsize=9, color=INK)
    ax.set_xlim(0, 6.2)
    ax.set_xticks([1, 2, 3, 4, 5])
    ax.set_xlabel("average (1-5)", fontsize=9, color=INK)
    ax.tick_params(axis="y", labelsize=9)
    _plain(ax)


def ratings_chart(progress: Sequence[CycleProgress], surveys: Sequence[SurveyRating]) -> Chart:
    figure = _figure(3.4)
    left, right = figure.subplots(1, 2, width_ratios=[1, 1.1])
    _progress_axes(left, progress)
    _survey_axes(right, surveys)
    left.set_title("Progress by check-in cycle", loc="left", fontsize=11, color=INK)
    right.set_title("Survey averages", loc="left", fontsize=11, color=INK)
    parts = [f"cycle {p.cycle}: {rating(p.progress.value)}" for p in progress]
    parts_surveys = [
        f"{s.survey} {s.question.replace('_', ' ')}: {rating(s.rating.value)}" for s in surveys if s.scale == "1-5"
    ]
    alt = (
        "Rating trends. Average progress by check-in cycle: "
        + ("; ".join(parts) or "no check-ins yet")
        + ". Survey averages: "
        + ("; ".join(parts_surveys) or "no answers yet")
        + "."
    )
    return Chart(key="ratings", title="Rating trends", alt=alt, png=_png(figure))


def _kpi_range(kpi: str, target: float, value: float | None) -> tuple[float, float]:
    if kpi in RATE_KPIS:
        return 0.0, 1.0
    if kpi in SCALE_KPIS:
        return 1.0, 5.0
    reach = max(abs(target), abs(value or 0.0), 1.0) * 1.3  # skill gain: symmetric around no change
    return -reach, reach


def kpi_chart(rows: Sequence[KpiRow]) -> Chart:
    figure = _figure(0.55 + 0.75 * max(len(rows), 1))
    if not rows:
        _empty(figure.add_subplot(), "No business goal evaluated yet")
    for ax, row in zip(figure.subplots(len(rows), 1, squeeze=False)[:, 0] if rows else [], rows, strict=True):
        low, high = _kpi_range(row.kpi, row.target, row.value)
        if row.value is not None:
            colour = GREEN if row.status == "met" else ORANGE
            ax.barh([0], [row.value - low], left=low, color=colour, height=0.6)
        ax.axvline(row.target, color=INK, linewidth=2, linestyle="--")
        ax.set_xlim(low, high)
        ax.set_yticks([])
        shown = kpi_value(row.kpi, row.value)
        ax.set_title(
            f"{row.goal}: {shown} (target {kpi_value(row.kpi, row.target)}) - {row.status}",
            loc="left",
            fontsize=10,
            color=INK,
        )
        _plain(ax)
        ax.tick_params(labelsize=9)
        if row.kpi in RATE_KPIS:
            ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    alt = "Business goals, each KPI against its target (dashed line): " + (
        "; ".join(
            f"{r.goal}: {kpi_value(r.kpi, r.value)}, target {kpi_value(r.kpi, r.target)}, {r.status}" for r in rows
        )
        or "none evaluated yet"
    )
    figure.suptitle("KPIs against their targets", x=0.01, ha="left", fontsize=12, color=INK)
    return Chart(key="kpis", title="KPIs against their targets", alt=alt + ".", png=_png(figure))
