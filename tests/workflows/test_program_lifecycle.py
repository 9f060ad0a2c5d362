"""A whole program on the time-skipping server: recruitment to close-out with twenty people."""

from collections import Counter
from statistics import fmean

from domain.metrics import PairingOutcome
from domain.people import Role
from domain.program import ProgramPhase
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, roster, spec
from tests.helpers.programs import result, start_program, status


async def test_twenty_people_run_from_recruitment_to_close_out(harness: Harness) -> None:
    people = roster(10)
    handle = await start_program(harness, spec(), people)

    await drive(harness, handle, personas_for(people))
    outcome = await result(handle)

    final = await status(handle)
    assert final.phase == ProgramPhase.COMPLETED
    assert final.funnel.invited == 20 and final.funnel.opted_in == 20 and final.funnel.trained == 20
    assert final.pairings_by_outcome == {PairingOutcome.COMPLETED.value: 10}
    assert outcome.metrics.checkin_adherence == 1.0
    # Each mentee rated the plan's skill before and after; the personas vary their ratings person by person.
    personas = personas_for(people)
    gains = [personas[p.email].self_rating("digital tools") for p in people if p.role == Role.MENTEE]
    assert outcome.metrics.skill_gain == round(fmean(g["after"] - g["before"] for g in gains), 2)
    assert [k.met for k in outcome.kpis] == [True, True]
    assert outcome.outcome == "all business goals met"
    kinds = Counter(n["kind"] for n in harness.notices())
    assert kinds["recognition"] == 20
    assert any(n["to"] == COORDINATOR and n["kind"] == "report" for n in harness.notices())
