"""Group mentoring: with `mentor_capacity` above 1, one newer colleague mentors several senior ones at once."""

from collections import Counter

from demo.personas import Persona
from domain.metrics import PairingOutcome
from domain.views import MemberStatus
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import J0, roster, spec
from tests.helpers.programs import member, result, start_program, status


def two_mentors_four_mentees() -> list:  # type: ignore[type-arg]
    people = roster(4)
    return [p for p in people if p.email not in ("junior02@example.com", "junior03@example.com")]


async def test_each_mentor_takes_two_mentees_and_all_four_pairings_complete(harness: Harness) -> None:
    people = two_mentors_four_mentees()
    program = spec(durations={"program_length": "3w"}, matching={"mentor_capacity": 2, "auto_approve": True})
    handle = await start_program(harness, program, people)
    await drive(harness, handle, personas_for(people))
    outcome = await result(handle)

    final = await status(handle)
    assert final.pairings_by_outcome == {PairingOutcome.COMPLETED.value: 4}
    assert final.proposal is not None
    assert Counter(p.mentor for p in final.proposal.pairs) == {J0: 2, "junior01@example.com": 2}
    assert outcome.outcome == "all business goals met"
    assert {(await member(handle, p.email)).status for p in people} == {MemberStatus.COMPLETED}


async def test_a_group_mentor_who_withdraws_ends_every_one_of_their_pairings(harness: Harness) -> None:
    people = two_mentors_four_mentees()
    program = spec(durations={"program_length": "3w"}, matching={"mentor_capacity": 2, "auto_approve": True})
    handle = await start_program(harness, program, people)
    cast = personas_for(people, junior00=Persona(J0, withdraw_at_cycle=2))
    await drive(harness, handle, cast)
    await result(handle)

    final = await status(handle)
    assert final.pairings_by_outcome == {PairingOutcome.WITHDRAWN.value: 2, PairingOutcome.COMPLETED.value: 2}
    assert (await member(handle, J0)).status == MemberStatus.WITHDRAWN
    assert final.funnel.withdrawn == 1  # the mentor left; their two mentees did not
