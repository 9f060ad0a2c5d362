"""The coordinator's command line: start a program, watch it, steer it, answer prompts for scripts and demos.

python starter.py start SPEC.toml ROSTER.csv
python starter.py status PROGRAM [--json]
python starter.py approve PROGRAM --coordinator EMAIL [--pair MENTOR:MENTEE ...]
python starter.py close-recruitment | pause | resume | nudge | cancel PROGRAM --coordinator EMAIL [--reason TEXT]
python starter.py add-participant PROGRAM PEOPLE.csv --coordinator EMAIL
python starter.py rematch PROGRAM PAIRING_ID --coordinator EMAIL [--reason TEXT]
python starter.py prompts PROGRAM PERSON [--json]
python starter.py respond PROGRAM PERSON PROMPT_ID [--answer JSON]
python starter.py schema
python starter.py rebuild
python starter.py programs [--json]
python starter.py report PROGRAM [--out DIR]

The reading commands (status, prompts, programs) print for people; with --json, the same data as JSON for scripts
(the models of `domain` and `adapters.store.queries`, as `schema` prints the spec's).
"""

import argparse
import asyncio
import json
import os
import sys
import zoneinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from pydantic import BaseModel, TypeAdapter, ValidationError
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

import flipside_client
from bootstrap import connect, ui_link
from domain.answers import Approval, CoordinatorAction, NewParticipant, PairChoice, RematchRequest
from domain.people import Participant, RosterError, decode_roster, describe_validation_error, parse_roster
from domain.program import ProgramStatus
from domain.prompts import PendingPrompt
from domain.spec import ProgramSpec, SpecError, decode_spec, id_already_used, load_spec
from flipside_client import Action, Refused, act, build_answer, program_status, prompts_for, send_answer
from settings import (
    ProcessError,
    Settings,
    UserMistake,
    configure_logging,
    exit_with,
    record_unreachable,
    safe_url,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from adapters.store.pages import PageShelf


class CliError(UserMistake):
    """A problem the user can fix; printed without a traceback, exit status 2."""


def program_id(name: str) -> str:
    return name if name.startswith("program-") else f"program-{name}"


def load_program(spec_path: Path, roster_path: Path) -> tuple[ProgramSpec, list[Participant]]:
    """Read and check both files; every problem is reported and nothing starts from a bad file."""
    try:
        spec = load_spec(decode_spec(_read(spec_path)))
    except SpecError as error:
        raise CliError(f"{spec_path}:\n{error}") from error
    return spec, load_roster(roster_path)


def load_roster(roster_path: Path) -> list[Participant]:
    """People from a roster file, every problem reported by line; nobody is taken from a bad file."""
    try:
        return parse_roster(decode_roster(_read(roster_path)), frozenset(zoneinfo.available_timezones()))
    except RosterError as error:
        raise CliError(f"{roster_path}:\n{error}") from error


def _read(path: Path) -> bytes:
    """A file's bytes; decoded by the domain, so that a file that is not UTF-8 is reported by line."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror or error}") from error


async def start_program(client: Client, settings: Settings, spec: ProgramSpec, roster: list[Participant]) -> str:
    """Start a program run under an id never used before: refused if the record or Temporal knows the id."""
    check_id_unused_in_record(settings, spec)
    shelf = member_shelf(settings)
    try:
        # Temporal refuses an id it still remembers, even of a closed run; the record remembers longer.
        await flipside_client.start_program(client, spec, roster, settings.task_queue, shelf)
    except flipside_client.AlreadyStarted as error:
        raise CliError(id_already_used(spec.program_id, spec.slug, _describe_run(error.earlier))) from error
    finally:
        if shelf is not None:
            shelf.engine.dispose()
    return spec.program_id


def member_shelf(settings: Settings) -> "PageShelf | None":
    """Where the roster waits for the program (in the record), or None when the record has no place for it yet
    (no worker has made it, or an older one): the roster then goes in the program's input, as before."""
    import sqlalchemy

    from adapters.store.pages import PageShelf
    from bootstrap import sealer

    engine = open_record(settings, missing_ok=True)
    if engine is None or not sqlalchemy.inspect(engine).has_table("state_pages"):
        return None
    return PageShelf(engine, sealer(settings))


def check_id_unused_in_record(settings: Settings, spec: ProgramSpec) -> None:
    """The record keeps every program ever run here, after Temporal has forgotten closed ones (retention)."""
    import sqlalchemy.exc

    from adapters.store.queries import ProgramNotFound, program_header

    engine = open_record(settings, missing_ok=True)
    if engine is None:
        return
    try:
        earlier = program_header(engine, spec.program_id)
    except ProgramNotFound:
        return
    except sqlalchemy.exc.SQLAlchemyError as error:
        raise record_unreachable(settings.database, error) from error
    finally:
        engine.dispose()
    when = f"started {earlier.started_at:%Y-%m-%d %H:%M} UTC, {_phase_words(earlier.phase)}"
    raise CliError(id_already_used(spec.program_id, spec.slug, when))


def _describe_run(run: flipside_client.EarlierRun) -> str:
    where = _phase_words(run.phase) if run.phase and run.status in ("running", "completed") else f"now {run.status}"
    return f"started {run.started_at:%Y-%m-%d %H:%M} UTC, {where}"


def _phase_words(phase: str) -> str:
    return "now cancelled" if phase == "cancelled" else "now completed" if phase == "completed" else f"now in {phase}"


def describe_status(status: ProgramStatus) -> str:
    f = status.funnel
    lines = [
        f"{status.name} ({status.program_id}): {status.phase.value}{' (paused)' if status.paused else ''}",
        f"  invited {f.invited}, opted in {f.opted_in}, trained {f.trained}, matched {f.matched}, "
        f"excluded {f.excluded}, withdrawn {f.withdrawn}",
        f"  pairings running {status.pairings_running}, ended {status.pairings_by_outcome or 'none yet'}",
    ]
    if status.awaiting_approval and status.proposal:
        lines.append("  proposed pairs, awaiting approval:")
        lines += [
            f"    {p.mentor} mentors {p.mentee} ({p.score:g}): {'; '.join(p.reasons)}" for p in status.proposal.pairs
        ]
        lines += [f"    unmatched {u.email}: {u.reason}" for u in status.proposal.unmatched]
    for label, metrics in status.snapshots.items():
        lines.append(f"  {label}: adherence {metrics.checkin_adherence}, at risk {metrics.pairings_at_risk}")
    return "\n".join(lines)


async def coordinator_action(client: Client, program: str, action: Action, payload: BaseModel) -> str:
    """A coordinator's action, sent once with a fresh request id (an id of its own for every run of the CLI)."""
    try:
        return await act(client, program_id(program), action, payload)
    except Refused as refusal:
        raise CliError(f"refused: {refusal.sentence}") from refusal


async def add_participants(client: Client, program: str, coordinator: str, people: list[Participant]) -> str:
    """Invite each person in turn; a refusal (already invited, recruitment closed) stops nobody else's invitation,
    and the command then ends as refused, listing what happened to everyone."""
    lines, refused = [], False
    for person in people:
        try:
            reply = await act(
                client,
                program_id(program),
                Action.ADD_PARTICIPANT,
                NewParticipant(coordinator=coordinator, participant=person),
            )
        except Refused as refusal:
            reply, refused = f"refused: {refusal.sentence}", True
        lines.append(f"{person.email}: {reply}")
    if refused:
        raise CliError("\n".join(["some people were not added:", *lines]))
    return "\n".join(lines)


async def respond(client: Client, program: str, person: str, prompt_id: str, answer: dict[str, Any]) -> str:
    prompts = await prompts_for(client, program_id(program), person)
    matching = [p for p in prompts if p.id == prompt_id]
    if not matching:
        open_ids = ", ".join(p.id for p in prompts) or "none"
        raise CliError(f"{person} has no pending prompt {prompt_id!r} (pending: {open_ids})")
    try:
        return await send_answer(client, matching[0], build_answer(matching[0], person, answer))
    except ValidationError as error:
        raise CliError(f"answer not understood: {describe_validation_error(error)}") from error
    except Refused as refusal:
        raise CliError(f"refused: {refusal}") from refusal


def rebuild(settings: Settings) -> str:
    from adapters.store.sql import SqlEventStore

    store = SqlEventStore(settings.database)
    try:
        replayed = store.rebuild()
    finally:
        store.dispose()
    return f"read model rebuilt from {replayed} events"


@overload
def open_record(settings: Settings) -> "Engine": ...
@overload
def open_record(settings: Settings, missing_ok: Literal[True]) -> "Engine | None": ...
def open_record(settings: Settings, missing_ok: bool = False) -> "Engine | None":
    """The program record, for reading only: never created or migrated here, so a typo cannot make a new one.

    A record not made yet is a mistake to report, or None with `missing_ok`; one that cannot be reached is
    `Unreachable`.
    """
    # Imported here: the commands that only talk to Temporal start sooner without SQLAlchemy.
    import sqlalchemy

    from adapters.store.sql import make_engine

    url = settings.database
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        if missing_ok:
            return None
        raise CliError(f"no program record at {url}; has a worker run (make run)?")
    engine = make_engine(url)
    try:
        ready = sqlalchemy.inspect(engine).has_table("programs")
    except sqlalchemy.exc.SQLAlchemyError as error:
        engine.dispose()
        raise record_unreachable(url, error) from error
    if not ready:
        engine.dispose()
        if missing_ok:
            return None
        raise CliError(f"the program record at {safe_url(url)} has no tables yet; has a worker run (make run)?")
    return engine


def _json(kind: Any, value: object) -> str:
    """`value`, of type `kind`, as the indented JSON its pydantic model gives."""
    return TypeAdapter(kind).dump_json(value, indent=2).decode()


def list_programs(settings: Settings, as_json: bool = False) -> str:
    # Imported here, not at the top: the report modules load matplotlib and scipy, which other commands never need.
    from adapters.report.figures import percent
    from adapters.store.queries import ProgramSummary
    from adapters.store.queries import list_programs as query

    engine = open_record(settings)
    try:
        programs = query(engine)
    finally:
        engine.dispose()
    if as_json:
        return _json(list[ProgramSummary], programs)
    if not programs:
        return f"no programs in the record at {safe_url(settings.database)} yet"
    rows = [["program", "phase", "participants", "pairings", "adherence", "KPIs met", "name"]]
    rows += [
        [
            p.program_id,
            p.phase,
            f"{p.participants}/{p.invited}",
            str(p.pairings),
            percent(p.adherence.value),
            f"{p.kpis_met}/{p.kpis_total}" if p.kpis_total else "-",
            p.name,
        ]
        for p in programs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]) for row in rows)


def report(settings: Settings, program: str, out: Path | None) -> str:
    from adapters.report.write import write_report
    from adapters.store.queries import ProgramNotFound

    pid = program_id(program)
    out_dir = out or settings.data_dir / "reports" / pid
    engine = open_record(settings)
    try:
        written = write_report(engine, pid, out_dir, progress=lambda line: print(line, file=sys.stderr, flush=True))
    except ProgramNotFound as error:
        where = safe_url(settings.database)
        raise CliError(f"no program {pid} in the record at {where}; has its worker run?") from error
    finally:
        engine.dispose()
    files = ", ".join(path.name for path in written.csv_files)
    return f"report: {written.html.resolve().as_uri()}\nCSV exports next to it: {files}"


CONTROLS = {
    "close-recruitment": "close a program's recruitment before its deadline",
    "pause": "pause a program: every deadline and check-in waits",
    "resume": "resume a paused program",
    "cancel": "cancel a program, with notice to everyone",
    "nudge": "remind everyone the program is waiting for an answer from (at most once a day)",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="starter.py", description="Run reverse mentoring programs on Temporal.")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start a program run from a spec and a roster")
    start.add_argument("spec", type=Path)
    start.add_argument("roster", type=Path)
    status = commands.add_parser("status", help="where a program stands")
    status.add_argument("program")
    approve = commands.add_parser("approve", help="approve the proposed pairs, or your own edit of them")
    approve.add_argument("program")
    approve.add_argument("--pair", action="append", metavar="MENTOR:MENTEE", help="repeat to give the full edit")
    for name in CONTROLS:
        action = commands.add_parser(name, help=CONTROLS[name])
        action.add_argument("program")
        action.add_argument("--reason", default="")
    add = commands.add_parser("add-participant", help="invite more people while recruitment is open")
    add.add_argument("program")
    add.add_argument("roster", type=Path, help="a roster file with the columns `start` takes")
    rematch = commands.add_parser("rematch", help="end a running pairing and put its two people back in the pool")
    rematch.add_argument("program")
    rematch.add_argument("pairing", help="the pairing's id, as the program's page in the portal shows it")
    rematch.add_argument("--reason", default="")
    for sub in commands.choices.values():
        if sub.prog.split()[-1] in ("approve", *CONTROLS, "add-participant", "rematch"):
            sub.add_argument("--coordinator", default=os.environ.get("FLIPSIDE_COORDINATOR", ""))
    prompts = commands.add_parser("prompts", help="a person's pending prompts")
    prompts.add_argument("program")
    prompts.add_argument("person")
    answer = commands.add_parser("respond", help="answer a prompt on a person's behalf (scripts, demos)")
    answer.add_argument("program")
    answer.add_argument("person")
    answer.add_argument("prompt_id")
    answer.add_argument("--answer", default="{}", help="JSON fields, e.g. '{\"accept\": true}'")
    commands.add_parser("schema", help="print the JSON Schema of a program spec")
    commands.add_parser("rebuild", help="drop the read model and project it again from the event log")
    programs = commands.add_parser("programs", help="list the programs in the record, with headline figures")
    for reading in (status, prompts, programs):
        reading.add_argument("--json", action="store_true", help="print the data as JSON, for scripts")
    report_command = commands.add_parser("report", help="write a program's HTML report and CSV exports")
    report_command.add_argument("program")
    report_command.add_argument(
        "--out", type=Path, default=None, help="folder to write into (default: <data dir>/reports/PROGRAM)"
    )
    return parser.parse_args(argv)


def _coordinator(args: argparse.Namespace) -> str:
    if not args.coordinator:
        raise CliError("say who you are: --coordinator EMAIL (or set FLIPSIDE_COORDINATOR)")
    return str(args.coordinator)


async def run(args: argparse.Namespace, settings: Settings) -> str:
    if args.command == "schema":
        return json.dumps(ProgramSpec.model_json_schema(), indent=2)
    if args.command == "rebuild":
        return rebuild(settings)
    if args.command == "programs":
        return list_programs(settings, as_json=args.json)
    if args.command == "report":
        return report(settings, args.program, args.out)
    if args.command == "start":
        spec, roster = load_program(args.spec, args.roster)
        client = await connect(settings)
        started = await start_program(client, settings, spec, roster)
        return f"started {started} with {len(roster)} people\nwatch it: {ui_link(started, settings.namespace)}"
    client = await connect(settings)
    if args.command == "status":
        status = await program_status(client, program_id(args.program))
        return status.model_dump_json(indent=2) if args.json else describe_status(status)
    if args.command == "approve":
        pairs = None
        if args.pair:
            pairs = [PairChoice(mentor=p.split(":")[0], mentee=p.split(":")[-1]) for p in args.pair]
        approval = Approval(coordinator=_coordinator(args), pairs=pairs)
        return await coordinator_action(client, args.program, Action.APPROVE, approval)
    if args.command in CONTROLS:
        action = CoordinatorAction(coordinator=_coordinator(args), reason=args.reason)
        return await coordinator_action(client, args.program, Action(args.command), action)
    if args.command == "add-participant":
        return await add_participants(client, args.program, _coordinator(args), load_roster(args.roster))
    if args.command == "rematch":
        request = RematchRequest(coordinator=_coordinator(args), pairing_id=args.pairing, reason=args.reason)
        return await coordinator_action(client, args.program, Action.REMATCH, request)
    if args.command == "prompts":
        pending = await prompts_for(client, program_id(args.program), args.person)
        if args.json:
            return _json(list[PendingPrompt], pending)
        return "\n".join(f"{p.id} [{p.kind.value}] due {p.due_at or 'paused'}: {p.question}" for p in pending) or (
            "no pending prompts"
        )
    if args.command == "respond":
        return await respond(client, args.program, args.person, args.prompt_id, json.loads(args.answer))
    raise CliError(f"unknown command {args.command}")


UNREACHABLE = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)


def main(argv: list[str] | None = None) -> int:
    """0 after success, 2 for a mistake the user can fix, 1 when Temporal or the record cannot be reached."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    try:
        print(asyncio.run(run(args, settings)))
    except ProcessError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.status
    except json.JSONDecodeError as error:
        print(f"error: --answer is not JSON: {error}", file=sys.stderr)
        return 2
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            print(f"error: no such program or pairing ({error.message})", file=sys.stderr)
            return 2
        if error.status in UNREACHABLE:
            print(f"error: lost Temporal at {settings.temporal_address}: {error.message}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    exit_with(main)
