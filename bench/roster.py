"""How fast a roster imports: parse_roster on generated 5,000- and 50,000-row CSVs, and how big the roster is as JSON.

    python -m bench.roster [--rows 5000 50000] [--repeat 5] [--profile]

The generator makes a roster a large organisation could send: names, departments, seniority that falls with
distance from the top, skills, interests, real time zones, a manager tree without loops, and cells that need CSV
quoting (commas, quotes, a line break). Three shapes are timed, best of --repeat runs: that tree; a chain where
everyone reports to the previous person (the worst case for the manager-loop check); and the tree with every tenth
row spoiled in one of the ways a roster goes wrong (the time to refuse it). The roster's JSON size is measured
against Temporal's payload limits, since it is a workflow input. Figures go to bench/results/roster.json and
bench/results/roster.md; tests/domain/test_roster.py uses the same generator.
"""

import argparse
import cProfile
import csv
import gc
import io
import itertools
import os
import platform
import pstats
import random
import time
import zoneinfo
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.output import RESULTS, save_figures
from domain.people import ROSTER_HEADER, Participant, RosterError, parse_roster
from domain.program import ProgramInput, new_program_state
from domain.spec import load_spec

ZONES = frozenset(zoneinfo.available_timezones())
# Temporal refuses a payload over 2 MB and warns above 512 KB.
PAYLOAD_LIMIT = 2 * 1024 * 1024
PAYLOAD_WARNING = 512 * 1024

FIRST_NAMES = [
    "Ana", "Bo", "Cara", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kemi", "Luca", "Mei", "Nadia",
    "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe",
]  # fmt: skip
LAST_NAMES = [
    "Lopez", "Chen", "Okafor", "Patel", "Yilmaz", "Adeyemi", "Berg", "Tanaka", "Silva", "Weber", "O'Brien",
    "Rossi", "Wang", "Haddad", "Farouk", "Iyer", "Murphy", "Costa", "Lindqvist", "Singh", "Kowalski", "Novak",
]  # fmt: skip
DEPARTMENTS = [
    "engineering", "sales", "marketing", "finance", "people", "operations", "legal", "data", "design",
    "customer success", "research, development and innovation",
]  # fmt: skip
NEWER_SKILLS = [
    "ai tools", "prompt writing", "social media", "short video", "dashboards", "sql", "automation",
    "collaboration apps", "accessibility", "gen z customers",
]  # fmt: skip
SENIOR_SKILLS = [
    "negotiation", "budgeting", "strategy", "stakeholder management", "public speaking", "hiring",
    "board reporting", "long-range planning",
]  # fmt: skip
INTERESTS = ["climbing", "music", "design", "running", "cooking", "cricket", "chess", "hiking", "film", "gardening"]
TIMEZONES = [
    "Europe/London", "Europe/Madrid", "Europe/Berlin", "America/New_York", "America/Chicago", "America/Sao_Paulo",
    "Asia/Singapore", "Asia/Kolkata", "Asia/Tokyo", "Africa/Lagos", "Australia/Sydney", "UTC",
]  # fmt: skip
SPAN = 7  # direct reports per manager: 5,000 people make a tree five levels deep


def roster_rows(count: int, seed: int = 7) -> list[list[str]]:
    """`count` roster rows (no header) in ROSTER_HEADER order; person i reports to person (i - 1) // SPAN."""
    rng = random.Random(seed)
    rows: list[list[str]] = []
    depth = [0] * count
    emails: list[str] = []
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}{i}@flipside.example".lower().replace("'", "")
        manager = "" if i == 0 else emails[(i - 1) // SPAN]
        depth[i] = 0 if i == 0 else depth[(i - 1) // SPAN] + 1
        seniority = max(0, 14 - 3 * depth[i] - rng.randint(0, 2))
        role = "mentor" if seniority <= 3 else "mentee" if seniority >= 7 else "either"
        offered, wanted = (NEWER_SKILLS, SENIOR_SKILLS) if role == "mentor" else (SENIOR_SKILLS, NEWER_SKILLS)
        # Letters in capitals and stray spaces, as people type them; the parser tidies both.
        name = f"{last}, {first}" if i % 97 == 0 else f"{first} {last}"
        if i % 499 == 0:
            name = f'{first} "{first[:2]}"\n{last}'  # a nickname in quotes and a line break inside the cell
        rows.append(
            [
                email.title() if i % 11 == 0 else email,
                name,
                role.upper() if i % 13 == 0 else role,
                str(seniority),
                rng.choice(DEPARTMENTS),
                "; ".join(rng.sample(offered, rng.randint(1, 3))),
                ";".join(rng.sample(wanted, rng.randint(0, 2))),
                ";".join(rng.sample(INTERESTS, rng.randint(0, 3))),
                "" if i % 17 == 0 else rng.choice(TIMEZONES),
                manager,
            ]
        )
        emails.append(email)
    return rows


def to_csv(rows: list[list[str]], header: list[str] = ROSTER_HEADER) -> str:
    """The rows as a spreadsheet would export them: quoted only where a cell needs it, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def roster_csv(count: int, seed: int = 7) -> str:
    return to_csv(roster_rows(count, seed))


def start_lines(rows: list[list[str]]) -> list[int]:
    """The line each row starts on in to_csv(rows), counted without the csv module: header on line 1."""
    lines, line = [], 2
    for row in rows:
        lines.append(line)
        line += 1 + sum(cell.count("\n") for cell in row)
    return lines


def chain_rows(count: int, seed: int = 7) -> list[list[str]]:
    """The same people, each reporting to the one before: a hierarchy `count` levels deep and no loop."""
    rows = roster_rows(count, seed)
    for previous, row in itertools.pairwise(rows):
        row[9] = previous[0].lower()
    return rows


# What spoil() does to a row, and the words its problem must contain.
SPOILS = {
    "duplicate email": "already appears on line",
    "unknown role": "is not a role; use mentor, mentee or either",
    "bad seniority": "is not a whole number from 0 to 20",
    "bad timezone": "unknown time zone 'Europe/Londn'; did you mean 'Europe/London'?",
    "manager loop": "the chain of managers loops back",
    "own manager": "a person cannot be their own manager",
    "bad email": "is not an email address",
    "column count": "expected 10 columns, found 4",
}


def spoil(rows: list[list[str]], every: int = 10) -> list[tuple[int, str]]:
    """Break every `every`-th row (from row 1), in SPOILS order; returns (row index, kind) for each broken row.

    A manager loop takes two rows: row i and row i + 1 name each other as manager. A duplicate repeats the
    email of row i - 1. `every` of at least 3 keeps these neighbours unspoiled.
    """
    if every < 3:
        raise ValueError("every must be at least 3, so spoiled rows do not touch each other")
    spoiled: list[tuple[int, str]] = []
    kinds = list(SPOILS)
    for n, i in enumerate(range(1, len(rows) - 1, every)):
        kind = kinds[n % len(kinds)]
        row = rows[i]
        if kind == "duplicate email":
            row[0] = rows[i - 1][0].upper()  # the same address in other letters is still the same person
        elif kind == "unknown role":
            row[2] = "boss"
        elif kind == "bad seniority":
            row[3] = "senior"
        elif kind == "bad timezone":
            row[8] = "Europe/Londn"
        elif kind == "manager loop":
            row[9], rows[i + 1][9] = rows[i + 1][0], row[0]
            spoiled.append((i + 1, kind))
        elif kind == "own manager":
            row[9] = row[0]
        elif kind == "bad email":
            row[0] = row[0].replace("@", " at ")
        else:
            del row[4:]
        spoiled.append((i, kind))
    return sorted(spoiled)


def best_of(text: str, repeat: int) -> tuple[float, list[Participant] | RosterError]:
    """The fastest of `repeat` parses in seconds (the others are noise from the machine), and what it gave."""
    timings = []
    outcome: list[Participant] | RosterError = []
    for _ in range(repeat):
        # Drop the last run's roster and collect now, so neither is paid for inside the next timing.
        outcome = []
        gc.collect()
        start = time.perf_counter()
        try:
            outcome = parse_roster(text, ZONES)
        except RosterError as error:
            outcome = error
        timings.append(time.perf_counter() - start)
    return min(timings), outcome


def payload_sizes(participants: list[Participant]) -> dict[str, Any]:
    """Bytes of the roster as JSON, and of the program's workflow input and starting state as Temporal sends them."""
    roster_json = len(TypeAdapter(list[Participant]).dump_json(participants))
    spec = load_spec((Path(__file__).parent.parent / "demo" / "program.toml").read_text(encoding="utf-8"))
    program_input = ProgramInput(spec=spec, roster=participants)
    state = new_program_state(program_input)
    to_payloads = pydantic_data_converter.payload_converter.to_payloads
    input_bytes = to_payloads([program_input])[0].ByteSize()
    return {
        "roster_json_bytes": roster_json,
        "model_dump_json_bytes_sum": sum(len(p.model_dump_json()) for p in participants),  # ASCII: chars = bytes
        "json_bytes_per_participant": round(roster_json / len(participants), 1),
        "program_input_payload_bytes": input_bytes,
        "program_state_payload_bytes": to_payloads([state])[0].ByteSize(),  # carried by continue-as-new
        "input_share_of_2mib": round(input_bytes / PAYLOAD_LIMIT, 3),
        "input_over_512kib_warning": input_bytes > PAYLOAD_WARNING,
        "input_over_2mib_limit": input_bytes > PAYLOAD_LIMIT,
    }


def measure(count: int, repeat: int) -> dict[str, Any]:
    tree_text = roster_csv(count)
    tree_s, participants = best_of(tree_text, repeat)
    chain_s, chained = best_of(to_csv(chain_rows(count)), repeat)
    spoiled_rows = roster_rows(count)
    spoiled = spoil(spoiled_rows)
    refused_s, refused = best_of(to_csv(spoiled_rows), repeat)
    if not isinstance(participants, list) or len(participants) != count or not isinstance(chained, list):
        raise RuntimeError(f"the generated {count}-row rosters should parse: {participants!s:.500}")
    if not isinstance(refused, RosterError):
        raise RuntimeError("the spoiled roster should be refused")
    return {
        "rows": count,
        "csv_bytes": len(tree_text.encode()),
        "parse_s": round(tree_s, 4),
        "rows_per_s": round(count / tree_s),
        "chain_parse_s": round(chain_s, 4),
        "refuse_s": round(refused_s, 4),
        "spoiled_rows": len(spoiled),
        "problems_reported": len(refused.problems),
        **payload_sizes(participants),
    }


def profile(count: int) -> None:
    text = roster_csv(count)
    profiler = cProfile.Profile()
    profiler.runcall(parse_roster, text, ZONES)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def write_results(figures: dict[str, Any]) -> Path:
    path = save_figures("roster", figures)
    lines = [
        "# bench/roster.py results",
        "",
        f"Measured {figures['measured_at']} on {figures['machine']}; best of {figures['repeat']} runs of"
        " `parse_roster` against every known time zone. Tree: the generated organisation. Chain: everyone reports"
        " to the row before (the manager-loop check's worst case). Refuse: every tenth row spoiled, time to report"
        " every problem. Input = `ProgramInput` (demo spec + roster) as Temporal's pydantic converter sends it;"
        " state = the `ProgramState` it starts with, which continue-as-new carries. Temporal warns above 512 KiB"
        " and refuses payloads over 2 MiB.",
        "",
        "| rows | tree s | rows/s | chain s | refuse s | problems | roster JSON bytes | bytes/person | input bytes "
        "| of 2 MiB | state bytes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in figures["runs"]:
        lines.append(
            f"| {r['rows']} | {r['parse_s']} | {r['rows_per_s']} | {r['chain_parse_s']} | {r['refuse_s']} "
            f"| {r['problems_reported']} | {r['roster_json_bytes']} | {r['json_bytes_per_participant']} "
            f"| {r['program_input_payload_bytes']} | {r['input_share_of_2mib']:.0%} "
            f"| {r['program_state_payload_bytes']} |"
        )
    lines += [
        "",
        f"The workflow input reaches Temporal's 512 KiB warning at about {figures['people_at_512kib']} people and"
        f" its 2 MiB limit at about {figures['people_at_2mib']}.",
        "",
    ]
    (RESULTS / "roster.md").write_text("\n".join(lines))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5000, 50000], help="roster sizes (default 5000 50000)")
    parser.add_argument("--repeat", type=int, default=5, help="parses per shape and size; the best counts (default 5)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the first size, and stop")
    args = parser.parse_args()
    if args.repeat < 1 or any(n < 10 for n in args.rows):
        parser.error("--repeat must be positive and --rows at least 10")
    if args.profile:
        profile(args.rows[0])
        return
    runs = []
    for count in args.rows:
        run = measure(count, args.repeat)
        runs.append(run)
        print(
            f"{count} rows: tree {run['parse_s']} s ({run['rows_per_s']} rows/s), chain {run['chain_parse_s']} s, "
            f"refused with {run['problems_reported']} problems in {run['refuse_s']} s; workflow input "
            f"{run['program_input_payload_bytes']} bytes ({run['input_share_of_2mib']:.0%} of Temporal's 2 MiB)"
        )
    # Bytes grow linearly with people; the largest run gives the best slope.
    largest = max(runs, key=lambda r: r["rows"])
    per_person = largest["program_input_payload_bytes"] / largest["rows"]
    figures = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs",
        "repeat": args.repeat,
        "runs": runs,
        "people_at_512kib": int(PAYLOAD_WARNING / per_person),
        "people_at_2mib": int(PAYLOAD_LIMIT / per_person),
    }
    print(f"Written to {write_results(figures)}")


if __name__ == "__main__":
    main()
