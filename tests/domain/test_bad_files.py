"""Program specs and rosters are refused at the door, loaded the way `starter.py start` loads them: a bad file is
reported by line or field, nothing starts, and the good files they were spoilt from still load. No server: should a
bad file ever load, `starter.py start` finds none to start anything on.
"""

import csv
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import starter
from domain.people import ROSTER_HEADER
from domain.spec import Kpi, MatchingMode
from tests.helpers.bad_input import CONTROL_TEXT, CONTROLS, MAX_MESSAGE, NOT_READABLE, any_of, cased
from tests.helpers.people import roster, spec

GOOD_SPEC: dict[str, Any] = spec(
    name="Spring reverse mentoring",
    purpose="Newer colleagues teach senior leaders digital practice, over café conversations.",
).model_dump(mode="json", exclude_none=True)
DURATION_KEYS = {"recruitment", "training", "answer_window", "checkin_cadence", "program_length", "nudge_before"}
SOME_TIME = datetime(2026, 1, 1, 9, 0)  # a TOML date-time, where text or a number belongs


def toml(data: dict[str, Any]) -> str:
    """`data` as a TOML document: plain keys first, then a [table] or [[array of tables]] per nested one."""
    lines: list[str] = []
    _toml_table(data, [], lines)
    return "\n".join(lines) + "\n"


def _toml_table(data: dict[str, Any], path: list[str], lines: list[str]) -> None:
    nested = {k: v for k, v in data.items() if isinstance(v, dict) or _is_tables(v)}
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data.items() if k not in nested]
    for key, value in nested.items():
        name = ".".join(_toml_key(p) for p in [*path, key])
        for table in value if isinstance(value, list) else [value]:
            lines += ["", f"[[{name}]]" if isinstance(value, list) else f"[{name}]"]
            _toml_table(table, [*path, key], lines)


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML's, \u0000 included
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


FieldPath = tuple[str | int, ...]


def leaves(data: Any, path: FieldPath = ()) -> dict[FieldPath, str]:
    """Every field of a spec and its kind: text, list, duration, int, float, bool, enum or table."""
    found: dict[FieldPath, str] = {}
    if isinstance(data, dict):
        if path:
            found[path] = "table"
        for key, value in data.items():
            found |= leaves(value, (*path, key))
    elif isinstance(data, list):
        found[path] = "list"
        if data:
            found |= leaves(data[0], (*path, 0))
    elif isinstance(data, bool):
        found[path] = "bool"
    elif isinstance(data, int | float):
        found[path] = "int" if isinstance(data, int) else "float"
    else:
        found[path] = "duration" if path[-1] in DURATION_KEYS else "enum" if path[-1] in ("mode", "kpi") else "text"
    return found


SPEC_FIELDS = leaves(GOOD_SPEC)
REQUIRED = [
    ("name",),
    ("purpose",),
    ("coordinators",),
    ("business_goals",),
    ("ground_rules",),
    ("durations",),
    ("reminders",),
    ("reminders", "nudge_before"),
    ("business_goals", 0, "goal"),
    ("business_goals", 0, "kpi"),
    ("business_goals", 0, "target"),
    *[("durations", d) for d in ("recruitment", "training", "answer_window", "checkin_cadence", "program_length")],
]
# Values TOML can hold that no field of that kind takes (pydantic would read "5" as 5 and true as 1: left out).
WRONG_IN_TOML: dict[str, st.SearchStrategy[Any]] = {
    "text": st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([1.5, True, [1], {"a": 1}, SOME_TIME])),
    "list": st.sampled_from(["text", 5, True, {"a": 1}, SOME_TIME]),
    "duration": st.sampled_from(
        [5, 1.5, True, [], {"a": 1}, SOME_TIME, "soon", "0s", "-1d", "2 weeks", "", "1x", "99999999999999w", "9" * 5000]
    ),
    "int": st.sampled_from(["five", 1.5, [], {"a": 1}, SOME_TIME]),
    "float": st.sampled_from(["high", [], {"a": 1}, SOME_TIME]),
    "bool": st.sampled_from(["maybe", 2, 1.5, [], {"a": 1}, SOME_TIME]),
    "enum": st.one_of(
        st.text(max_size=20).filter(lambda t: t not in {*MatchingMode, *Kpi}),
        st.sampled_from([5, True, []]),
    ),
    "table": st.sampled_from(["text", 5, True, [1]]),
}
OUT_OF_RANGE_IN_SPEC: dict[FieldPath, st.SearchStrategy[Any]] = {
    ("reminders", "missed_checkins_alert"): st.integers(-(2**63), 0),
    ("reminders", "low_answer"): st.one_of(st.integers(-(2**63), 0), st.integers(5, 2**63 - 1)),
    ("matching", "mentor_capacity"): st.one_of(st.integers(-(2**63), 0), st.integers(6, 2**63 - 1)),
    ("matching", "working_hours", "start"): st.one_of(st.integers(-(2**63), -1), st.integers(24, 2**63 - 1)),
    ("matching", "working_hours", "end"): st.one_of(st.integers(-(2**63), 0), st.integers(25, 2**63 - 1)),
    ("matching", "weights", "skills_taught"): st.one_of(st.floats(max_value=-0.01), st.floats(min_value=100.01)),
    ("business_goals", 0, "target"): st.one_of(
        st.floats(max_value=-0.01), st.floats(min_value=1.01), st.just(math.nan)
    ),
}


def dotted(path: FieldPath) -> str:
    return ".".join(str(p) for p in path)


def changed(data: Any, path: FieldPath, value: Any = None, drop: bool = False) -> Any:
    """A deep copy of `data` with the field at `path` set to `value`, or dropped."""
    copy = json.loads(json.dumps(data))
    *parents, last = path
    target = copy
    for part in parents:
        target = target[part]
    if drop:
        del target[last]
    else:
        target[last] = value
    return copy


@dataclass(frozen=True)
class BadFile:
    spec: bytes
    roster: bytes
    spoilt: str  # "spec" or "roster": the file the error must name
    names: tuple[str, ...]  # the error must hold one of these: the field, or the line and the column


def spec_problem(data: dict[str, Any], *names: str) -> BadFile:
    return BadFile(toml(data).encode(), GOOD_ROSTER, "spec", names)


def bad_specs() -> st.SearchStrategy[BadFile]:
    return any_of(*_bad_spec_values(), *_bad_spec_texts())


def _bad_spec_values() -> list[st.SearchStrategy[BadFile]]:
    """A spec whose TOML is sound but one value is wrong: missing, of the wrong kind, out of range, unknown."""
    texts = [p for p, kind in SPEC_FIELDS.items() if kind == "text"]
    durations = ("durations", "program_length"), ("durations", "checkin_cadence")
    return [
        st.sampled_from(REQUIRED).map(lambda p: spec_problem(changed(GOOD_SPEC, p, drop=True), dotted(p))),
        st.sampled_from(sorted(SPEC_FIELDS, key=str)).flatmap(
            lambda p: WRONG_IN_TOML[SPEC_FIELDS[p]].map(lambda v: spec_problem(changed(GOOD_SPEC, p, v), dotted(p)))
        ),
        st.sampled_from(sorted(OUT_OF_RANGE_IN_SPEC, key=str)).flatmap(
            lambda p: OUT_OF_RANGE_IN_SPEC[p].map(
                lambda v: spec_problem(changed(GOOD_SPEC, p, v), dotted(p[:2] if p[0] == "business_goals" else p))
            )
        ),
        st.tuples(
            st.sampled_from([p for p, kind in SPEC_FIELDS.items() if kind == "table"] + [()]),
            st.from_regex(r"[a-z_]{1,20}", fullmatch=True),
        )
        .filter(lambda t: t[0] + (t[1],) not in SPEC_FIELDS)
        .map(lambda t: spec_problem(changed(GOOD_SPEC, (*t[0], t[1]), 1), dotted((*t[0], t[1])))),
        st.sampled_from(["1w", "6d", "4d"]).map(  # a program of 1w has room for two check-ins of 3d 12h at most
            lambda c: spec_problem(changed(changed(GOOD_SPEC, durations[0], "1w"), durations[1], c), "durations")
        ),
        st.integers(1, 23).flatmap(
            lambda start: st.integers(1, start).map(
                lambda end: spec_problem(
                    changed(GOOD_SPEC, ("matching", "working_hours"), {"start": start, "end": end}),
                    "matching.working_hours",
                )
            )
        ),
        st.sampled_from(["coach", "coach@", "@example.com", "co ach@example.com", ""]).map(
            lambda c: spec_problem(changed(GOOD_SPEC, ("coordinators",), [c]), "coordinators")
        ),
        st.sampled_from(["coordinators", "business_goals", "ground_rules"]).map(
            lambda f: spec_problem(changed(GOOD_SPEC, (f,), []), f)
        ),
        st.tuples(st.sampled_from(texts), CONTROL_TEXT).map(
            lambda t: spec_problem(changed(GOOD_SPEC, t[0], t[1]), dotted(t[0]), "line ")  # DEL: not even TOML
        ),
    ]


def _bad_spec_texts() -> list[st.SearchStrategy[BadFile]]:
    """A spec spoilt as text: a bad slug or name, a broken line, the wrong encoding."""
    lines = toml(GOOD_SPEC).splitlines()

    def corrupt(index: int, how: str) -> BadFile:
        edited = list(lines)
        if how == "duplicate":
            edited.insert(index + 1, edited[index])
            index += 1
        else:
            edited[index] = {"no equals": "purpose café", "unclosed": edited[index] + ' "', "table": "[matching"}[how]
        return BadFile(("\n".join(edited) + "\n").encode(), GOOD_ROSTER, "spec", (f"line {index + 1}",))

    key_lines = [i for i, line in enumerate(lines) if " = " in line]
    purpose_line = next(i for i, line in enumerate(lines) if line.startswith("purpose")) + 1
    return [
        st.sampled_from(["Bad Slug", "-x", "x" * 64, "ünï", "a_b"]).map(
            lambda s: spec_problem(changed(GOOD_SPEC, ("slug",), s), "slug")
        ),
        st.text(st.characters(categories=["Lo", "Nl", "Zs"]), min_size=1, max_size=20)
        .filter(lambda n: n.strip())
        .map(lambda n: spec_problem(changed(changed(GOOD_SPEC, ("slug",), drop=True), ("name",), n), "slug")),
        st.tuples(st.sampled_from(key_lines), st.sampled_from(["no equals", "unclosed", "duplicate"])).map(
            lambda t: corrupt(*t)
        ),
        st.just(
            BadFile(toml(GOOD_SPEC).encode("latin-1"), GOOD_ROSTER, "spec", (f"line {purpose_line}: byte 0xe9 is not",))
        ),
        st.just(
            BadFile(toml(GOOD_SPEC).encode("utf-16"), GOOD_ROSTER, "spec", ("line 1: the file is saved as UTF-16",))
        ),
    ]


# Rosters: a good one is generated, then one row of it is spoilt

ROLES = ["mentor", "mentee", "either"]
ZONES = ["UTC", "Europe/London", "America/New_York", "Asia/Tokyo", ""]
CELL_TEXT = st.text(st.characters(categories=["L", "N", "Zs", "P", "S"], exclude_characters="\n\r;"), max_size=15)
NAMES = st.tuples(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=3), CELL_TEXT).map("".join)
COLUMN = {name: i for i, name in enumerate(ROSTER_HEADER)}


@st.composite
def good_rows(draw: st.DrawFn, min_size: int = 2) -> list[list[str]]:
    """Rows of a roster that must load: unique emails in any case, managers only among the rows above."""
    rows: list[list[str]] = []
    for i in range(draw(st.integers(min_size, 8))):
        email = draw(cased(f"person{i}@example.com").map(str.strip))
        manager = draw(st.one_of(st.just(""), st.integers(0, i - 1).map(lambda j: rows[j][0]))) if i else ""
        rows.append(
            [
                email,
                draw(NAMES),
                draw(st.sampled_from(ROLES).flatmap(cased).map(lambda r: r.replace("\n", " "))),
                str(draw(st.integers(0, 20))),
                draw(CELL_TEXT),
                ";".join(draw(st.lists(CELL_TEXT, max_size=3))),
                ";".join(draw(st.lists(CELL_TEXT, max_size=3))),
                ";".join(draw(st.lists(CELL_TEXT, max_size=3))),
                draw(st.sampled_from(ZONES)),
                manager,
            ]
        )
    return rows


def roster_csv(rows: list[list[str]], newline: str = "\n", bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(ROSTER_HEADER)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


GOOD_ROSTER = roster_csv([[p.email, p.name, p.role.value, str(p.seniority), "", "", "", "", "", ""] for p in roster(2)])
SPOILT_CELLS: dict[str, st.SearchStrategy[str]] = {
    "email": st.sampled_from(["", "not-an-email", "a b@example.com", "x" * 300 + "@example.com", "a@b", "a@@b.c"]),
    "name": st.sampled_from(["", "   ", "\t"]),
    "role": st.text(max_size=10).filter(lambda r: r.strip().lower() not in ROLES and "\n" not in r and "\r" not in r),
    "seniority": st.sampled_from(["", "-1", "21", "abc", "1.5", "9" * 5000, "\u00b2", "0x1", "1e1"]),
    "timezone": st.sampled_from(["Mars/Olympus_Mons", "Europe/Londn", "GMT+25", "utc+1"]),
    "manager_email": st.sampled_from(["boss", "a b@c.d", "@x.y"]),
}


@st.composite
def bad_rosters(draw: st.DrawFn) -> BadFile:
    rows = draw(good_rows())
    k = draw(st.integers(1, len(rows) - 1))  # the spoilt row; row 0 is left for it to clash with
    line = k + 2
    how = draw(st.sampled_from(["cell", "control", "duplicate", "own manager", "loop", "columns", "quote", "latin-1"]))
    if how == "cell":
        column = draw(st.sampled_from(sorted(SPOILT_CELLS)))
        rows[k][COLUMN[column]] = draw(SPOILT_CELLS[column])
        return BadFile(GOOD_SPEC_BYTES, roster_csv(rows), "roster", (f"line {line}: {column}",))
    if how == "control":  # line breaks left out: a bare one ends the row, as in any CSV file
        column = draw(st.sampled_from(ROSTER_HEADER))
        rows[k][COLUMN[column]] += draw(st.tuples(CELL_TEXT, CONTROLS, CELL_TEXT).map("".join))
        return BadFile(GOOD_SPEC_BYTES, roster_csv(rows), "roster", (f"line {line}: {column}",))
    if how == "duplicate":
        j = draw(st.integers(0, k - 1))
        rows[k][0] = draw(cased(rows[j][0]).map(str.strip))
        return BadFile(GOOD_SPEC_BYTES, roster_csv(rows), "roster", (f"line {line}: email",))
    if how == "own manager":
        rows[k][COLUMN["manager_email"]] = draw(cased(rows[k][0]).map(str.strip))
        return BadFile(GOOD_SPEC_BYTES, roster_csv(rows), "roster", (f"line {line}: manager_email",))
    if how == "loop":
        j = draw(st.integers(0, k - 1))
        rows[k][COLUMN["manager_email"]], rows[j][COLUMN["manager_email"]] = rows[j][0], rows[k][0]
        return BadFile(GOOD_SPEC_BYTES, roster_csv(rows), "roster", (f"line {line}: manager_email: the chain",))
    if how == "columns":
        rows[k] = rows[k][:-1] if draw(st.booleans()) else [*rows[k], "extra"]
        return BadFile(GOOD_SPEC_BYTES, roster_csv(rows), "roster", (f"line {line}: expected 10 columns",))
    text = roster_csv(rows).split(b"\n")
    if how == "quote":
        text[line - 1] = b'"' + text[line - 1]
        return BadFile(GOOD_SPEC_BYTES, b"\n".join(text), "roster", (f"line {line}:",))
    rows[k][COLUMN["name"]] = "Jos\u00e9"  # saved by something that wrote this one name in Latin-1
    text = roster_csv(rows).split(b"\n")
    text[line - 1] = text[line - 1].replace("Jos\u00e9".encode(), b"Jos\xe9")
    return BadFile(GOOD_SPEC_BYTES, b"\n".join(text), "roster", (f"line {line}: byte 0xe9 is not UTF-8",))


GOOD_SPEC_BYTES = toml(GOOD_SPEC).encode()
FILE_CHECKS = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("files")


@pytest.fixture(scope="module", autouse=True)
def unreachable_temporal() -> Iterator[None]:
    """Should a bad file ever load, `starter.py start` finds no server rather than starting anything."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")
        yield


def assert_refused_by_starter(folder: Path, bad: BadFile, capsys: pytest.CaptureFixture[str]) -> None:
    spec_path, roster_path = folder / "spec.toml", folder / "roster.csv"
    spec_path.write_bytes(bad.spec)
    roster_path.write_bytes(bad.roster)
    spoilt = spec_path if bad.spoilt == "spec" else roster_path

    with pytest.raises(starter.CliError) as refused:
        starter.load_program(spec_path, roster_path)
    code = starter.main(["start", str(spec_path), str(roster_path)])
    printed = capsys.readouterr()

    message = str(refused.value)
    assert message.startswith(f"{spoilt}:\n"), message[:300]
    for problem in message.splitlines()[1:]:
        assert problem.strip() and len(problem) <= MAX_MESSAGE, problem[:300]
        for marker in NOT_READABLE:
            assert marker not in problem, f"{marker!r} in {problem!r}"
    assert any(name in message for name in bad.names), f"{message[:500]!r} holds none of {bad.names}"
    assert code == 2 and printed.out == "", "a bad file got past loading"
    assert printed.err == f"error: {message}\n"


@FILE_CHECKS
@given(bad=bad_specs())
def test_a_bad_spec_is_reported_by_field_or_line_and_nothing_starts(
    folder: Path, capsys: pytest.CaptureFixture[str], bad: BadFile
) -> None:
    assert_refused_by_starter(folder, bad, capsys)


@FILE_CHECKS
@given(bad=bad_rosters())
def test_a_bad_roster_is_reported_by_line_and_column_and_nothing_starts(
    folder: Path, capsys: pytest.CaptureFixture[str], bad: BadFile
) -> None:
    assert_refused_by_starter(folder, bad, capsys)


@st.composite
def good_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Specs that must load: any name with a letter or digit to make an id from, coherent durations."""
    cadence_days = draw(st.integers(1, 14))
    durations = {
        "recruitment": draw(st.sampled_from(["90s", "2d", "1w", "1h30m"])),
        "training": draw(st.sampled_from(["1d", "2w", "36h"])),
        "checkin_cadence": f"{cadence_days}d",
        "program_length": f"{cadence_days * draw(st.integers(2, 12))}d",
        "answer_window": f"{draw(st.integers(1, cadence_days * 2 - 1))}d" if cadence_days > 1 else "12h",
    }
    data = changed(GOOD_SPEC, ("durations",), durations)
    data = changed(data, ("slug",), drop=True)
    words = st.text(st.characters(categories=["L", "N", "Zs", "P"]), max_size=60)
    name = "".join(draw(st.tuples(words, st.sampled_from("AZaz09"), words)))  # one letter or digit for its id
    data = changed(data, ("name",), name)
    data = changed(data, ("purpose",), draw(st.text(st.characters(categories=["L", "N", "Zs", "P", "S"]), min_size=1)))
    data = changed(data, ("matching", "mode"), draw(st.sampled_from(["algorithm", "self_select", "hybrid"])))
    data = changed(data, ("matching", "mentor_capacity"), draw(st.integers(1, 5)))
    assert isinstance(data, dict)
    return data


@FILE_CHECKS
@given(
    data=good_specs(),
    rows=good_rows(min_size=1),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
)
def test_the_good_files_the_bad_ones_are_spoilt_from_still_load(
    folder: Path, data: dict[str, Any], rows: list[list[str]], newline: str, bom: bool
) -> None:
    spec_path, roster_path = folder / "good.toml", folder / "good.csv"
    spec_path.write_bytes(toml(data).replace("\n", newline).encode())
    roster_path.write_bytes(roster_csv(rows, newline, bom))

    loaded, people = starter.load_program(spec_path, roster_path)

    assert loaded.name == data["name"] and loaded.purpose == data["purpose"]
    assert 1 <= len(loaded.slug) <= 63 and loaded.program_id == f"program-{loaded.slug}"
    assert [p.email for p in people] == [row[0].lower() for row in rows]
    assert [p.name for p in people] == [row[1].strip() for row in rows]
