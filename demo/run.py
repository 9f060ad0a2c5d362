"""The demo of `make run`: starts the demo program and plays its participants until close-out.

Twenty-one people answer their prompts; one declines a match (and is rematched), one mentor withdraws, one
pair stops meeting (and the coordinator is alerted), one mentor's private pulse is low.
"""

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

import flipside_client
from bootstrap import MOMENTARY, connect, link_signer, ui_link
from demo.personas import Persona, answer_everything
from domain.answers import CoordinatorAction
from domain.metrics import describe_kpi
from domain.program import ProgramPhase, ProgramResult, ProgramStatus
from domain.prompts import PromptKind
from settings import Settings, configure_logging, exit_with
from starter import describe_status, load_program, start_program

HERE = Path(__file__).parent
COORDINATOR = "coach@flipside.example"
STOP_MEETING = "jon.berg@flipside.example"


def cast(emails: list[str]) -> dict[str, Persona]:
    personas = {email: Persona(email) for email in emails}
    personas["marc.dubois@flipside.example"] = Persona("marc.dubois@flipside.example", decline_match=True)
    personas["hugo.silva@flipside.example"] = Persona("hugo.silva@flipside.example", withdraw_at_cycle=3)
    personas["eva.novak@flipside.example"] = Persona("eva.novak@flipside.example", low_pulse=True)
    personas[STOP_MEETING] = Persona(STOP_MEETING, stop_checkins_after=1)
    personas[COORDINATOR] = Persona(COORDINATOR)
    return personas


class Narrator:
    """Prints what happens: phase changes, proposals, notable answers and the alerts coordinators get."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self.read = outbox.stat().st_size if outbox.exists() else 0
        self.phase: ProgramPhase | None = None
        self.shown_proposal = False
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:5.0f}s] {text}", flush=True)

    def status(self, status: ProgramStatus) -> None:
        if status.phase != self.phase or (status.awaiting_approval and status.proposal and not self.shown_proposal):
            self.phase = status.phase
            self.shown_proposal = self.shown_proposal or bool(status.awaiting_approval and status.proposal)
            self.say(describe_status(status))

    def answers(self, lines: list[str]) -> None:
        notable = [line for line in lines if " withdrew" in line or " could not answer " in line]
        for line in notable:
            self.say(line)
        if lines:
            self.say(f"answers sent: {len(lines)}")

    def notices(self) -> list[dict[str, Any]]:
        """The notices sent since the last call; the alerts and the coordinator's news among them are told."""
        if not self.outbox.exists():
            return []
        with self.outbox.open(encoding="utf-8") as handle:
            handle.seek(self.read)
            lines = handle.readlines()
            if lines and not lines[-1].endswith("\n"):  # a line still being written: read it whole next time
                lines.pop()
            self.read += sum(len(line.encode()) for line in lines)
        notices = [json.loads(line) for line in lines]
        for notice in notices:
            if notice["kind"] == "alert":
                self.say(f"ALERT to {notice['to']}: {notice['subject']}")
            elif notice["to"] == COORDINATOR and notice["kind"] in ("info", "report"):
                self.say(f"to the coordinator: {notice['subject']}: {notice['body'].splitlines()[0]}")
        return notices


PATIENCE = 120.0  # seconds the demo waits for an answer to a status question before giving up


async def current_status(client: Client, program: str, narrator: "Narrator") -> ProgramStatus:
    """The program's status, asked again while the worker is too busy to answer in time (a query changes nothing,
    so asking twice is safe); a machine that stays too busy for PATIENCE seconds fails the demo."""
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            return await flipside_client.program_status(client, program)
        except RPCError as error:
            if error.status not in MOMENTARY or time.monotonic() > deadline:
                raise
            narrator.say("the worker is busy; asking again")


async def pair_stops_meeting(client: Client, program: str, personas: dict[str, Persona]) -> None:
    """Both sides of one pair stop meeting, so the coordinator sees a missed check-in alert."""
    member = await flipside_client.member_view(client, program, STOP_MEETING)
    if member is not None and member.pairing_id:
        view = await flipside_client.pairing_view(client, member.pairing_id)
        for email in (view.mentor, view.mentee):
            personas[email].stop_checkins_after = 1


def coordinator_link(settings: Settings, program_id: str) -> str:
    """A fresh single-use sign-in link: every notice carries one too (see the outbox file)."""
    signer = link_signer(settings)
    return signer.link(COORDINATOR, program_id)


async def play(client: Client, settings: Settings) -> ProgramResult:
    spec, roster = load_program(HERE / "program.toml", HERE / "roster.csv")
    spec.slug = f"{spec.slug}-{datetime.now():%Y%m%d-%H%M%S}"  # a new id for every run: ids are never reused
    narrator = Narrator(settings.outbox_path)
    program = await start_program(client, settings, spec, roster)
    narrator.say(f"started {program} with {len(roster)} people")
    narrator.say(f"Temporal UI: {ui_link(program, settings.namespace)}")
    narrator.say(f"Portal, signed in as the coordinator: {coordinator_link(settings, program)}")
    personas = cast([p.email for p in roster])
    stop_meeting_set = False
    asked = set(personas)  # at first everyone looks; then people answer what their notices ask of them
    while True:
        status = await current_status(client, program, narrator)
        narrator.status(status)
        if status.phase in (ProgramPhase.COMPLETED, ProgramPhase.CANCELLED):
            break
        if status.phase == ProgramPhase.MENTORING and not stop_meeting_set:
            await pair_stops_meeting(client, program, personas)
            stop_meeting_set = True
        # The coordinator reads the proposal (printed above, with each pair's reasons) before approving it.
        personas[COORDINATOR].silent = set() if narrator.shown_proposal else {PromptKind.APPROVE_MATCHES}
        if status.awaiting_approval and narrator.shown_proposal:
            asked.add(COORDINATOR)
        narrator.answers(await answer_everything(client, program, {e: personas[e] for e in asked}))
        if status.phase == ProgramPhase.RECRUITMENT and status.funnel.opted_in == status.funnel.invited:
            action = CoordinatorAction(coordinator=COORDINATOR)
            await flipside_client.act(client, program, flipside_client.Action.CLOSE_RECRUITMENT, action)
            narrator.say("coordinator closed recruitment early: everyone has answered")
        await asyncio.sleep(1)
        asked = {n["to"] for n in narrator.notices() if n["kind"] in ("prompt", "reminder") and n["to"] in personas}
    result: ProgramResult = await flipside_client.program_result(client, program)
    return result


async def main() -> None:
    settings = Settings.from_env()
    configure_logging("console", level=30)  # the worker logs every notice; the demo tells the story
    client = await connect(settings)
    started = time.monotonic()
    result = await play(client, settings)
    print(f"\n{result.outcome} (in {time.monotonic() - started:.0f} s)")
    for kpi in result.kpis:
        print(f"  {describe_kpi(kpi)}")
    print(f"\nEvery notice is in {settings.outbox_path}; the program record in {settings.database}.")
    print(f"Browse the program and its pairings: {ui_link(result.program_id, settings.namespace)}")
    print(f"The coordinator's page and report in the portal: {coordinator_link(settings, result.program_id)}")


if __name__ == "__main__":
    exit_with(lambda: asyncio.run(main()))
