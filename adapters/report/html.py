"""The report as one self-contained HTML page: inline CSS, charts as data: images, no script, no external URL.

Every piece of text from the record goes through `_e` (html.escape, quotes included) on its way in; the only
markup not built here is the chart images' base64, which cannot hold markup. A Content-Security-Policy meta tag
keeps the page honest: a browser loads nothing but the page itself and its data: images.
"""

from collections.abc import Sequence
from datetime import datetime
from html import escape

from adapters.report.charts import Chart
from adapters.report.figures import kpi_value, percent, rating
from adapters.store.queries import TOO_FEW, ProgramReport
from domain.evaluation import PairedEvaluation
from domain.metrics import MIN_RESPONDENTS

CSS = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d0d7de; --met: #1a7f37; --not: #b35900; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); }
main { max-width: 62rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: 0.5rem 0 0.25rem; line-height: 1.25; }
h2 { font-size: 1.2rem; margin: 2rem 0 0.5rem; padding-bottom: 0.25rem; border-bottom: 1px solid var(--line); }
.purpose { font-size: 1.05rem; margin: 0.25rem 0 0.75rem; }
.meta, .note, figcaption { color: var(--muted); font-size: 0.9rem; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: 0.5rem; margin: 1rem 0; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem 0.75rem; }
.tile b { display: block; font-size: 1.35rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
th, td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.nowrap th, table.nowrap td { white-space: nowrap; }
.status { font-weight: 600; white-space: nowrap; }
.status-met { color: var(--met); } .status-not-met { color: var(--not); } .status-too-few { color: var(--muted); }
figure { margin: 1rem 0; break-inside: avoid; page-break-inside: avoid; }
figure img { display: block; width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
.verdict { border-left: 4px solid var(--line); padding: 0.25rem 0.75rem; margin: 0.5rem 0 1rem; }
@media (max-width: 40rem) { body { font-size: 15px; } main { padding: 0.75rem; } h1 { font-size: 1.35rem; } }
@media print {
  body { font-size: 11pt; } main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; } section, tr { break-inside: avoid; }
  .scroll { overflow: visible; }
}
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = (), nowrap: bool = False
) -> str:
    def cell(tag: str, i: int, value: object) -> str:
        return f"<{tag}{' class=num' if i in numeric else ''}>{_e(value)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    css = ' class="nowrap"' if nowrap else ""
    return f'<div class="scroll"><table{css}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _figure(chart: Chart) -> str:
    return (
        f'<figure><img src="{chart.data_uri}" alt="{_e(chart.alt)}" data-chart="{_e(chart.key)}">'
        f"<figcaption>{_e(chart.title)}</figcaption></figure>"
    )


def _status(status: str) -> str:
    css = {"met": "status-met", "not met": "status-not-met"}.get(status, "status-too-few")
    return f'<span class="status {css}">{_e(status)}</span>'


def _headline(report: ProgramReport, generated_at: datetime) -> str:
    h, s = report.header, report.summary
    outcome = h.outcome or "in progress"
    closed = f", closed {h.closed_at:%Y-%m-%d}" if h.closed_at else ""
    kpis = f"{s.kpis_met} of {s.kpis_total}" if s.kpis_total else "not yet evaluated"
    tiles = [
        ("phase", h.phase.replace("_", " ")),
        ("participants", f"{s.participants} of {s.invited} invited"),
        ("pairings", s.pairings),
        ("check-in adherence", percent(s.adherence.value)),
        ("KPIs met", kpis),
    ]
    tile_html = "".join(f'<div class="tile">{_e(label)}<b>{_e(value)}</b></div>' for label, value in tiles)
    return (
        f"<header><h1>{_e(h.name)}</h1>"
        f'<p class="purpose">{_e(h.purpose)}</p>'
        f'<p class="meta">{_e(h.program_id)} · started {h.started_at:%Y-%m-%d}{_e(closed)} · '
        f"report generated {generated_at:%Y-%m-%d %H:%M} UTC</p>"
        f"<p><strong>Outcome:</strong> {_e(outcome)}</p>"
        f'<div class="tiles">{tile_html}</div></header>'
    )


def _kpi_section(report: ProgramReport, chart: Chart) -> str:
    rows = "".join(
        f"<tr><td>{_e(r.goal)}</td><td>{_e(r.kpi)}</td><td class=num>{_e(kpi_value(r.kpi, r.value))}</td>"
        f"<td class=num>{_e(kpi_value(r.kpi, r.target))}</td><td>{_status(r.status)}</td></tr>"
        for r in report.kpis.rows
    )
    table = (
        '<div class="scroll"><table><thead><tr><th>business goal</th><th>KPI</th><th class=num>value</th>'
        f"<th class=num>target</th><th>status</th></tr></thead><tbody>{rows}</tbody></table></div>"
        if rows
        else "<p>No business goal has been evaluated yet.</p>"
    )
    return (
        "<section><h2>Business goals</h2>"
        f'<p class="note">From the {_e(report.kpis.source)}. A goal is met when its KPI reaches the target.</p>'
        f"{table}{_figure(chart)}</section>"
    )


def _evaluation_section(evaluations: Sequence[PairedEvaluation]) -> str:
    parts = []
    for result in evaluations:
        parts.append(f'<h3>{_e(result.group.capitalize())}</h3><p class="verdict">{_e(result.verdict)}</p>')
        if result.enough_data:
            ci = "-" if result.ci_low is None else f"{result.ci_low:g} to {result.ci_high:g}"
            rows = [
                ("people", result.n),
                ("average before", rating(result.mean_before)),
                ("average after", rating(result.mean_after)),
                ("average change", f"{result.mean_change:+g}" if result.mean_change is not None else "-"),
                ("95% interval of the change", ci),
                ("p (paired t-test)", "-" if result.p_value is None else f"{result.p_value:g}"),
                ("effect size (d_z)", "-" if result.effect_size is None else f"{result.effect_size:g}"),
            ]
            parts.append(_table(["", "value"], rows, numeric=[1]))
    return (
        "<section><h2>Evaluation: before and after</h2>"
        '<p class="note">At close-out each mentee rated the skills in their plan, and each mentor their leadership '
        "skills, as they were before the program and as they are now (1-5). Each person counts once. These are "
        "self-ratings with no comparison group: they show how people feel they changed, not that the program "
        f"caused it.</p>{''.join(parts)}</section>"
    )


def _checkin_section(report: ProgramReport, adherence: Chart, ratings: Chart) -> str:
    cycles = [(c.cycle, c.met.n, percent(c.met.value)) for c in report.adherence]
    progress = [(p.cycle, p.progress.n, rating(p.progress.value)) for p in report.progress]
    surveys = [
        (
            s.survey,
            s.question.replace("_", " "),
            s.rating.n,
            percent(s.rating.value) if s.scale == "share" else rating(s.rating.value),
        )
        for s in report.surveys
    ]
    return (
        "<section><h2>Check-ins</h2>"
        f"{_figure(adherence)}"
        f"{_table(['cycle', 'pairings', 'cycles met'], cycles, numeric=[0, 1, 2]) if cycles else ''}"
        f"<h2>Ratings</h2>{_figure(ratings)}"
        f"{_table(['cycle', 'people', 'average progress'], progress, numeric=[0, 1, 2]) if progress else ''}"
        f"{_table(['survey', 'question', 'people', 'average'], surveys, numeric=[2, 3]) if surveys else ''}"
        "</section>"
    )


def _record_section(report: ProgramReport) -> str:
    alerts = _table(["reason", "alerts"], [(a.reason, a.count) for a in report.alerts], numeric=[1])
    snapshots = _table(
        ["snapshot", "taken", "opted in", "matched", "withdrawn", "running", "at risk", "adherence", "progress"],
        [
            (
                s.label,
                f"{s.taken_at:%Y-%m-%d %H:%M}",
                s.opted_in,
                s.matched,
                s.withdrawn,
                s.pairings_running,
                s.pairings_at_risk,
                percent(s.checkin_adherence) if s.checkin_cycles else "none yet",
                rating(s.average_progress),
            )
            for s in report.snapshots
        ],
        numeric=[2, 3, 4, 5, 6, 7, 8],
        nowrap=True,
    )
    return (
        "<section><h2>Alerts to coordinators</h2>"
        + (alerts if report.alerts else "<p>No alerts.</p>")
        + "<h2>Metric snapshots</h2>"
        + (snapshots if report.snapshots else "<p>No snapshot yet.</p>")
        + "</section>"
    )


def render_html(
    report: ProgramReport,
    charts: dict[str, Chart],
    evaluations: Sequence[PairedEvaluation],
    csv_files: Sequence[str],
    generated_at: datetime,
) -> str:
    title = f"{report.header.name}: program report"
    files = ", ".join(csv_files)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        f"{_headline(report, generated_at)}"
        f"{_kpi_section(report, charts['kpis'])}"
        f"{_evaluation_section(evaluations)}"
        f"<section><h2>Enrolment</h2>{_figure(charts['funnel'])}</section>"
        f"{_checkin_section(report, charts['adherence'], charts['ratings'])}"
        f"{_record_section(report)}"
        f'<footer><h2>About these figures</h2><p class="note">Every share and average covers at least '
        f"{MIN_RESPONDENTS} people (pairings, for check-in adherence); a smaller group is shown as "
        f"&ldquo;{_e(TOO_FEW)}&rdquo;. Counts of people and alerts are shown as they are. Nothing in this report "
        f"is about one pair or one person. The same aggregates are in {_e(files)}, next to this file.</p>"
        "</footer></main></body></html>\n"
    )
