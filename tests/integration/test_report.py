"""The coordinator's report: figures checked by hand, the floor of three respondents, nothing per pair or person."""

import base64
import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

import starter
from adapters.report.write import Cell, WrittenReport, write_csv, write_report
from adapters.store import queries as q
from adapters.store.sql import SqlEventStore
from domain.evaluation import MENTEES_ON_PLAN_SKILLS, MENTORS_ON_LEADERSHIP, evaluate_paired
from tests.helpers.report_record import (
    CHARTS,
    COMMENT,
    MAIN,
    NAME,
    PURPOSE,
    TINY,
    build_record,
    expected_mentee_ratings,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlEventStore]:
    record = build_record(f"sqlite:///{tmp_path_factory.mktemp('record')}/r.db")
    yield record
    record.dispose()


@pytest.fixture(scope="module")
def written(store: SqlEventStore, tmp_path_factory: pytest.TempPathFactory) -> dict[str, WrittenReport]:
    out = tmp_path_factory.mktemp("reports")
    return {pid: write_report(store.engine, pid, out / pid, now=NOW) for pid in (MAIN, TINY)}


class Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "img":
            self.images.append(dict(attrs))


def visible_text(html: str) -> str:
    """The page without its style sheet and embedded images, which could hold any short string by chance."""
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.DOTALL)
    return re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', html)


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def check_main_figures(report: q.ProgramReport) -> None:
    """The figures of tests/helpers/report_record.py's main program, worked out by hand in its docstring."""
    assert [(s.stage, s.people) for s in report.funnel] == [
        ("invited", 14),
        ("opted in", 13),
        ("trained", 12),
        ("matched", 12),
        ("completed", 10),
        ("withdrawn", 1),
    ]
    assert [(c.cycle, c.met.n, c.met.value) for c in report.adherence] == [
        (1, 6, 1.0),
        (2, 6, 0.833),
        (3, 5, 0.6),
        (4, 2, None),  # one of two pairings met: 50% would tell each pair what the other did
    ]
    assert [(p.cycle, p.progress.n, p.progress.value) for p in report.progress] == [
        (1, 12, 3.5),
        (2, 10, 4.1),
        (3, 7, 3.71),
        (4, 2, None),
    ]
    assert [(s.survey, s.question, s.rating.n, s.rating.value) for s in report.surveys] == [
        ("pulse", "safe_and_useful", 4, 3.5),
        ("midpoint", "satisfaction", 10, 4.5),
        ("midpoint", "usefulness", 10, 4.0),
        ("closeout", "satisfaction", 10, 4.2),
        ("closeout", "would_recommend", 10, 0.8),
    ]
    assert report.kpis.source == "close-out evaluation"
    assert [(k.kpi, k.value, k.target, k.status) for k in report.kpis.rows] == [
        ("checkin_adherence", 0.789, 0.7, "met"),
        ("skill_gain", 1.14, 1.0, "met"),
        ("satisfaction", 4.2, 4.0, "met"),
        ("completion_rate", 0.833, 0.9, "not met"),
    ]
    assert report.kpis.rows[0].goal == "Pairs keep meeting"
    assert [(a.reason, a.count) for a in report.alerts] == [("at-risk", 1), ("missed", 1), ("pulse", 1)]
    assert [s.label for s in report.snapshots] == ["cycle-1", "mid-point", "close-out"]
    assert [s.checkin_adherence for s in report.snapshots] == [None, 0.917, 0.789]
    assert report.snapshots[-1].withdrawn == 1
    s = report.summary
    assert (s.phase, s.invited, s.participants, s.pairings, s.kpis_met, s.kpis_total) == ("completed", 14, 13, 6, 3, 4)
    assert (s.adherence.n, s.adherence.value) == (6, 0.789)  # 15 of 19 cycles met, over 6 pairings
    assert report.header.outcome == "3 of 4 business goals met"
    assert sorted(report.evaluation.mentees, key=lambda r: (r.person, r.skill)) == sorted(
        expected_mentee_ratings(), key=lambda r: (r.person, r.skill)
    )
    assert len({r.person for r in report.evaluation.mentors}) == 4


def test_the_queries_give_the_figures_worked_out_by_hand(store: SqlEventStore) -> None:
    check_main_figures(q.program_report(store.engine, MAIN))


def test_the_queries_agree_on_postgresql_and_sqlite(database_url: str) -> None:
    record = build_record(database_url)
    try:
        check_main_figures(q.program_report(record.engine, MAIN))
        tiny = q.program_report(record.engine, TINY)
        assert [k.status for k in tiny.kpis.rows] == ["too few to report", "too few to report"]
    finally:
        record.dispose()


def test_a_group_of_two_is_too_few_and_its_value_never_leaves_the_store(store: SqlEventStore) -> None:
    tiny = q.program_report(store.engine, TINY)

    assert [(c.cycle, c.met.n, c.met.value) for c in tiny.adherence] == [(1, 2, None)]
    assert [(p.cycle, p.progress.n, p.progress.value) for p in tiny.progress] == [(1, 2, None)]
    assert {(s.question, s.rating.n, s.rating.value) for s in tiny.surveys} == {
        ("satisfaction", 2, None),
        ("usefulness", 2, None),
    }
    assert (tiny.summary.adherence.n, tiny.summary.adherence.value) == (2, None)
    # The snapshot's KPIs judged adherence over two pairings (0.5, not met); the report withholds it.
    assert tiny.kpis.source == "snapshot mid-point"
    assert [(k.kpi, k.value, k.status) for k in tiny.kpis.rows] == [
        ("checkin_adherence", None, "too few to report"),
        ("satisfaction", None, "too few to report"),
    ]
    assert tiny.snapshots[0].checkin_adherence is None
    assert tiny.snapshots[0].enrolment_rate == 1.0  # five people invited: enough to show


def test_the_too_few_groups_show_as_too_few_in_the_html_and_csv(written: dict[str, WrittenReport]) -> None:
    html = visible_text(written[TINY].html.read_text(encoding="utf-8"))

    assert "too few to report" in html
    for withheld in ("50%", "0.5", "4.5"):  # adherence, progress and satisfaction over two
        assert withheld not in html
    folder = written[TINY].html.parent
    assert read_csv(folder / "adherence.csv") == [["cycle", "pairings", "share_met", "note"], ["1", "2", "", q.TOO_FEW]]
    assert read_csv(folder / "kpis.csv")[1][2:5] == ["", "0.7", "too few to report"]
    main = read_csv(written[MAIN].html.parent / "adherence.csv")
    assert main[1:] == [
        ["1", "6", "1.0", ""],
        ["2", "6", "0.833", ""],
        ["3", "5", "0.6", ""],
        ["4", "2", "", q.TOO_FEW],
    ]


def test_the_csv_exports_hold_the_aggregates(written: dict[str, WrittenReport]) -> None:
    folder = written[MAIN].html.parent
    assert sorted(p.name for p in written[MAIN].csv_files) == sorted(
        ["funnel.csv", "adherence.csv", "ratings.csv", "kpis.csv", "snapshots.csv", "alerts.csv", "evaluation.csv"]
    )
    assert read_csv(folder / "funnel.csv")[1:] == [
        ["invited", "14"],
        ["opted in", "13"],
        ["trained", "12"],
        ["matched", "12"],
        ["completed", "10"],
        ["withdrawn", "1"],
    ]
    ratings = read_csv(folder / "ratings.csv")
    assert ["progress", "checkin", "3", "progress", "7", "3.71", ""] in ratings
    assert ["average", "closeout", "", "satisfaction", "10", "4.2", ""] in ratings
    assert ["share", "closeout", "", "would_recommend", "10", "0.8", ""] in ratings
    kpis = read_csv(folder / "kpis.csv")
    assert kpis[4] == ["Pairs finish together", "completion_rate", "0.833", "0.9", "not met", "close-out evaluation"]
    snapshots = read_csv(folder / "snapshots.csv")
    assert [row[0] for row in snapshots[1:]] == ["cycle-1", "mid-point", "close-out"]
    evaluation = {row[0]: row for row in read_csv(folder / "evaluation.csv")[1:]}
    assert evaluation["mentees: their plan skills"][1:3] == ["5", "True"]
    assert evaluation["mentors: their leadership skills"][1:3] == ["4", "False"]


def test_nothing_per_pair_or_person_reaches_the_html_or_the_csv(written: dict[str, WrittenReport]) -> None:
    for report in written.values():
        texts = [visible_text(report.html.read_text(encoding="utf-8"))]
        texts += [path.read_text(encoding="utf-8") for path in report.csv_files]
        for text in texts:
            assert "@" not in text  # no email
            assert "example.com" not in text
            assert "pairing-" not in text  # no pairing id
            assert "Person " not in text  # no participant name
            assert "mentor1" not in text and "mentee1" not in text
            assert COMMENT not in text  # a kept survey comment is never shown


def test_the_html_is_self_contained_with_the_four_charts(written: dict[str, WrittenReport]) -> None:
    html = written[MAIN].html.read_text(encoding="utf-8")
    page = Images()
    page.feed(html)

    charts = {image["data-chart"]: image for image in page.images}
    assert set(charts) == set(CHARTS)
    for image in charts.values():
        src = image["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.removeprefix("data:image/png;base64,")).startswith(PNG_SIGNATURE)
        assert len(image["alt"] or "") > 20
    assert "Enrolment funnel, people at each step: invited 14, opted in 13" in (charts["funnel"]["alt"] or "")
    assert not page.tags & {"script", "link", "iframe", "object"}
    text = visible_text(html)
    assert "http://" not in text and "https://" not in text and "url(" not in text


def test_the_html_shows_the_headline_kpis_and_evaluation(
    written: dict[str, WrittenReport], store: SqlEventStore
) -> None:
    html = written[MAIN].html.read_text(encoding="utf-8")

    assert escape(NAME) in html and escape(PURPOSE) in html
    assert "<script>" not in html and "<Spring>" not in html
    assert "3 of 4 business goals met" in html
    assert "report generated 2026-05-04 12:00 UTC" in html
    for status in ("met", "not met"):
        assert f">{status}</span>" in html
    mentees = evaluate_paired(MENTEES_ON_PLAN_SKILLS, expected_mentee_ratings())
    assert mentees.enough_data and mentees.mean_change == 1.1
    assert (mentees.mean_before, mentees.mean_after) == (2.1, 3.2)
    assert escape(mentees.verdict) in html
    mentors = evaluate_paired(MENTORS_ON_LEADERSHIP, q.evaluation_inputs(store.engine, MAIN).mentors)
    assert mentors.verdict == "Not enough data: 4 people answered, at least 5 are needed."
    assert mentors.verdict in html


def test_programs_are_listed_newest_first_with_headline_figures(store: SqlEventStore) -> None:
    programs = q.list_programs(store.engine)

    assert [p.program_id for p in programs] == [TINY, MAIN]
    tiny, main = programs
    assert (tiny.phase, tiny.participants, tiny.pairings, tiny.adherence.value, tiny.kpis_met, tiny.kpis_total) == (
        "mentoring",
        5,
        2,
        None,
        0,
        2,
    )
    assert (main.phase, main.adherence.value, main.kpis_met, main.kpis_total) == ("completed", 0.789, 3, 4)


def test_an_unknown_program_is_named_in_the_error(store: SqlEventStore) -> None:
    with pytest.raises(q.ProgramNotFound) as error:
        q.program_report(store.engine, "program-nope")
    assert error.value.program_id == "program-nope"


def test_the_cli_writes_a_report_and_lists_programs(
    store: SqlEventStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", store.url)

    assert starter.main(["report", "report-test", "--out", str(tmp_path / "out")]) == 0  # the short id works
    out = capsys.readouterr()
    assert (tmp_path / "out" / "report.html").exists()
    assert (tmp_path / "out" / "report.html").resolve().as_uri() in out.out
    assert "drew 4 charts" in out.err

    assert starter.main(["programs"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[:3] == ["program", "phase", "participants"]
    assert listing[1].split()[:6] == [TINY, "mentoring", "5/5", "2", "too", "few"]
    assert listing[2].split()[:6] == [MAIN, "completed", "13/14", "6", "79%", "3/4"]

    assert starter.main(["report", "nope"]) == 2
    assert f"no program program-nope in the record at {store.url}; has its worker run?" in capsys.readouterr().err


def test_the_cli_says_when_there_is_no_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")

    assert starter.main(["programs"]) == 2
    assert "no program record at" in capsys.readouterr().err
    assert not missing.exists()  # reading never creates a record


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_written_as_text(tmp_path: Path) -> None:
    """Goal words come from a spec; in a CSV opened in a spreadsheet they must never become a formula."""
    path = tmp_path / "kpis.csv"
    goals = ['=HYPERLINK("https://evil.example","click")', "+1+1", "-2", "@SUM(A1)", "\tx", "Pairs keep meeting"]
    rows: list[list[Cell]] = [["goal", "value"]]
    rows += [[goal, -0.5] for goal in goals]
    write_csv(path, rows)

    with path.open(newline="") as handle:
        written = list(csv.reader(handle))
    assert [row[0] for row in written[1:]] == ["'" + g for g in goals[:-1]] + ["Pairs keep meeting"]
    assert {row[1] for row in written[1:]} == {"-0.5"}  # a number stays a number
