"""The coordinator's report of one program: report.html (self-contained, charts embedded) and CSV exports.

    write_report(engine, "program-x", Path("out"), progress=print)

reads the aggregates (adapters.store.queries), runs the paired before/after evaluation (domain.evaluation),
draws the charts (adapters.report.charts) and writes report.html next to funnel.csv, adherence.csv,
ratings.csv, kpis.csv, snapshots.csv, alerts.csv and evaluation.csv. Only aggregates are written: every file
holds what the page shows, and nothing about one pair or one person.
"""

import csv
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from adapters.report.charts import Chart, adherence_chart, funnel_chart, kpi_chart, ratings_chart
from adapters.report.html import render_html
from adapters.store.queries import TOO_FEW, ProgramReport, Source, program_report
from domain.evaluation import MENTEES_ON_PLAN_SKILLS, MENTORS_ON_LEADERSHIP, PairedEvaluation, evaluate_paired

Cell = str | int | float | bool | None
Progress = Callable[[str], None]


class WrittenReport(BaseModel):
    program_id: str
    html: Path
    csv_files: list[Path]


def evaluations(report: ProgramReport) -> list[PairedEvaluation]:
    return [
        evaluate_paired(MENTEES_ON_PLAN_SKILLS, report.evaluation.mentees),
        evaluate_paired(MENTORS_ON_LEADERSHIP, report.evaluation.mentors),
    ]


def charts(report: ProgramReport) -> dict[str, Chart]:
    drawn = [
        funnel_chart(report.funnel),
        adherence_chart(report.adherence),
        ratings_chart(report.progress, report.surveys),
        kpi_chart(report.kpis.rows),
    ]
    return {chart.key: chart for chart in drawn}


def _note(value: object) -> str:
    return TOO_FEW if value is None else ""


def csv_tables(report: ProgramReport, evaluated: Sequence[PairedEvaluation]) -> dict[str, list[list[Cell]]]:
    """Each export as its rows, header first; an empty value with the note "too few to report" is withheld."""
    ratings: list[list[Cell]] = [["measure", "survey", "cycle", "question", "people", "average", "note"]]
    ratings += [
        ["progress", "checkin", p.cycle, "progress", p.progress.n, p.progress.value, _note(p.progress.value)]
        for p in report.progress
    ]
    ratings += [
        [
            "share" if s.scale == "share" else "average",
            s.survey,
            None,
            s.question,
            s.rating.n,
            s.rating.value,
            _note(s.rating.value),
        ]
        for s in report.surveys
    ]
    snapshot_fields = [
        "label",
        "taken_at",
        "invited",
        "opted_in",
        "trained",
        "matched",
        "withdrawn",
        "pairings_running",
        "pairings_at_risk",
        "checkin_cycles",
        "enrolment_rate",
        "training_completion",
        "match_rate",
        "checkin_adherence",
        "average_progress",
        "satisfaction",
    ]
    evaluation_fields = ["group", "n", "enough_data", "mean_before", "mean_after", "mean_change", "ci_low", "ci_high"]
    evaluation_fields += ["t_statistic", "p_value", "wilcoxon_p_value", "effect_size", "effect_label", "verdict"]
    return {
        "funnel.csv": _rows(["stage", "people"], ([s.stage, s.people] for s in report.funnel)),
        "adherence.csv": _rows(
            ["cycle", "pairings", "share_met", "note"],
            ([c.cycle, c.met.n, c.met.value, _note(c.met.value)] for c in report.adherence),
        ),
        "ratings.csv": ratings,
        "kpis.csv": _rows(
            ["goal", "kpi", "value", "target", "status", "source"],
            ([k.goal, k.kpi, k.value, k.target, k.status, report.kpis.source] for k in report.kpis.rows),
        ),
        "snapshots.csv": _rows(snapshot_fields, (_fields(s, snapshot_fields) for s in report.snapshots)),
        "alerts.csv": _rows(["reason", "alerts"], ([a.reason, a.count] for a in report.alerts)),
        "evaluation.csv": _rows(evaluation_fields, (_fields(e, evaluation_fields) for e in evaluated)),
    }


def _rows(header: Sequence[str], body: Iterable[Sequence[Cell]]) -> list[list[Cell]]:
    return [list(header), *(list(row) for row in body)]


def _fields(model: BaseModel, names: Sequence[str]) -> list[Cell]:
    values = model.model_dump(mode="json")
    return [_cell(values[name]) for name in names]


def _cell(value: object) -> Cell:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


# A spreadsheet takes a cell that starts with one of these for a formula (=HYPERLINK(...) in a goal's words).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Cell) -> Cell:
    """A cell a spreadsheet shows as the text it is: text that would start a formula gets a leading apostrophe,
    the mark spreadsheets read as "this is text". Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def write_csv(path: Path, rows: list[list[Cell]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([[spreadsheet_safe(v) for v in row] for row in rows])


def write_report(
    source: Source,
    program_id: str,
    out_dir: Path,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> WrittenReport:
    """Write report.html and the CSV exports into out_dir; raises ProgramNotFound for an unknown program."""
    say = progress or (lambda _: None)
    report = program_report(source, program_id)
    say(f"read {report.header.name} ({program_id}), phase {report.header.phase}")
    evaluated = evaluations(report)
    drawn = charts(report)
    say(f"drew {len(drawn)} charts: {', '.join(drawn)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = csv_tables(report, evaluated)
    written = []
    for name, rows in tables.items():
        write_csv(out_dir / name, rows)
        written.append(out_dir / name)
    say(f"wrote {len(written)} CSV files: {', '.join(tables)}")
    html_path = out_dir / "report.html"
    html = render_html(report, drawn, evaluated, list(tables), now or datetime.now(UTC))
    html_path.write_text(html, encoding="utf-8")
    say(f"wrote {html_path} ({len(html.encode()) // 1024} KiB)")
    return WrittenReport(program_id=program_id, html=html_path, csv_files=written)
