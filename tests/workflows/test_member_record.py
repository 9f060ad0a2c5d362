"""The record shows each member their place in the program, each pair its own record, and the coordinators the
program's status, as the workflows hold them, at every step.

Pages learn who is looking from the record (adapters/store/views.py): the program records a member's view
whenever it changes (`MemberShown`, `StatusShown`, `ProposalShown`), a pairing its pair's record
(`PairRecordShown`, sealed). A whole program
runs here with someone who never opts in, someone who declines a match and goes back to the pool, someone who
leaves, and someone who never finishes training; at every step each member's view, each pair's record and the
status in the record are compared with the workflows' answers to queries. The record follows by an append's
round trip, so each comparison waits (bounded) for them to agree.
"""

import asyncio
from typing import Any

from sqlalchemy import Table

from adapters.store import tables as t
from adapters.store.views import ViewShelf
from bootstrap import sealer
from demo.personas import Persona
from domain.prompts import PromptKind
from domain.views import MemberStatus, MemberView
from flipside_client import member_view, pair_record, program_status
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import roster, spec
from tests.helpers.programs import Handle, start_program

AGREE_LIMIT = 10.0  # seconds for the record to catch up with the workflow; only stops a test that never would


async def differences(h: Harness, shelf: ViewShelf, program_id: str, people: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    pairings: dict[str, str] = {}  # each running pairing, with one of its people
    for email in people:
        held, recorded = await member_view(h.client, program_id, email), shelf.member(program_id, email)
        if recorded != held:
            found[email] = {"workflow": held, "record": recorded}
        pairings.update(dict.fromkeys(held.pairing_ids if held else [], email))
    held_status, recorded_status = await program_status(h.client, program_id), shelf.status(program_id)
    if recorded_status != held_status:
        found["status"] = {"workflow": held_status, "record": recorded_status}
    for pairing_id, email in pairings.items():
        held_record, recorded_record = await pair_record(h.client, pairing_id, email), shelf.pair_record(pairing_id)
        if recorded_record != held_record:
            found[pairing_id] = {"workflow": held_record, "record": recorded_record}
    return found


async def record_agrees(h: Harness, handle: Handle, people: list[str]) -> list[MemberView]:
    """Wait until the record shows every member and pair as the workflows hold them; return the members' views."""
    shelf = ViewShelf(h.store.engine, sealer(h.settings))
    deadline = asyncio.get_running_loop().time() + AGREE_LIMIT
    while found := await differences(h, shelf, handle.id, people):
        assert asyncio.get_running_loop().time() < deadline, f"record and workflows disagree: {found}"
        await asyncio.sleep(0.05)
    return [view for email in people if (view := shelf.member(handle.id, email)) is not None]


def statuses(views: list[MemberView]) -> set[MemberStatus]:
    return {v.status for v in views}


async def test_the_record_shows_each_member_as_the_program_holds_them_at_every_step(harness: Harness) -> None:
    people = roster(5)
    emails = [p.email for p in people]
    cast = personas_for(
        people,
        junior00=Persona("junior00@example.com", silent={PromptKind.OPT_IN}),
        senior01=Persona("senior01@example.com", silent={PromptKind.TRAINING}),
        junior02=Persona("junior02@example.com", decline_match=True),
        junior03=Persona("junior03@example.com", withdraw_at_cycle=2),
    )
    program = spec(durations={"program_length": "4w"})
    handle = await start_program(harness, program, people)
    seen: set[MemberStatus] = set()
    steps = 0

    async def compare() -> bool:
        nonlocal steps
        seen.update(statuses(await record_agrees(harness, handle, emails)))
        steps += 1
        return False

    await drive(harness, handle, cast, until_true=compare)
    await compare()  # and as the program ends
    assert steps > 20
    wanted = {MemberStatus.INVITED, MemberStatus.OPTED_IN, MemberStatus.NOT_JOINED, MemberStatus.EXCLUDED}
    wanted |= {MemberStatus.PAIRED, MemberStatus.WITHDRAWN, MemberStatus.COMPLETED}
    assert wanted <= seen, f"never seen: {wanted - seen}"
    entry = ViewShelf(harness.store.engine, sealer(harness.settings)).program(handle.id)
    assert entry is not None and entry.members_recorded and entry.spec == program
    members, records = sorted_rows(harness, t.member_views), sorted_rows(harness, t.pair_records)
    harness.store.rebuild()
    assert sorted_rows(harness, t.member_views) == members and len(members) == len(people)  # a rebuild: the same
    assert sorted_rows(harness, t.pair_records) == records and len(records) >= 3
    assert not any(b"practised together" in str(row).encode() for row in records)  # recaps only sealed


def sorted_rows(h: Harness, table: Table) -> list[tuple[Any, ...]]:
    with h.store.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(table.select()))
