"""Failure modes of running programs, each first shown failing on the code before its fix.

A pairing that closed without telling its program (ended by an operator, failed after a bad deploy, gone past
retention) never takes the program down: whichever path next signals it finds it closed and counts it so. Those
tests end one pairing behind the program's back with a terminate, as an operator would from the Temporal UI, once
the pairing has nothing in flight (a run closed mid-activity stops a time-skipping server's clock).

A request asked again (an overdue approval, a revised plan to agree) reaches the person again: each asking has a
notice key of its own, where the channel used to drop the repeat as a duplicate of the first.

A withdrawal that lands while the kick-off starts pairings in batches starts no pairing for the one who left.

A pause holds whenever it comes: in a pairing's very first step, or with a resume sent while it is still going out.

An update id in the history says nothing of who answered or what: ids are random, and a re-send reuses its id.

An activity that fails for good never fails the program: matching that cannot run on its input asks the
coordinators to pair people themselves, and a snapshot counts the pairings it cannot read. (The solver runs in a
process of its own, so a large match stalls no workflow of its worker: tests/integration/test_large_match.py.)

A program cancelled from Temporal itself (the UI, `temporal workflow cancel`) ends its pairings and tells everyone,
as a coordinator's cancel does.
"""

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import (
    Interceptor,
    SignalExternalWorkflowInput,
    StartChildWorkflowInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from temporalio.workflow import ChildWorkflowHandle

from activities.matching import MatchingActivities
from activities.messages import MatchRequest, SnapshotRequest
from activities.snapshots import SnapshotActivities
from domain.answers import Approval, CoordinatorAction, PairChoice, RematchRequest, Withdrawal
from domain.matching import MatchContext, ProposedPair
from domain.metrics import PairingOutcome, PairingSummary
from domain.pairing import PairingInput, PairingStage, PairingView
from domain.program import ProgramPhase
from domain.prompts import PendingPrompt, PromptKind
from domain.spec import MatchingMode, MatchWeights
from domain.views import MemberStatus
from tests.helpers.driving import drive, opt_in_everyone, personas_for
from tests.helpers.failures import MatchingFails
from tests.helpers.harness import DRAIN_LIMIT, Harness, settled
from tests.helpers.people import COORDINATOR, J0, J1, S0, pairing_terms, roster, spec
from tests.helpers.programs import (
    AS_COORDINATOR,
    Handle,
    awaiting_approval,
    member,
    pairing_of,
    refusal,
    result,
    start_pairing,
    start_program,
    status,
)
from tests.helpers.record import read_model_outcome
from tests.helpers.waiting import skip
from worker import build_worker

ACCEPTED = WorkflowUpdateStage.ACCEPTED


async def mentoring(harness: Harness) -> tuple[Handle, Handle]:
    """A program of two pairs in mentoring, and junior00's pairing, ended by an operator."""
    people = roster(2)
    handle = await start_program(harness, spec(durations={"program_length": "3w"}), people)
    await drive(harness, handle, personas_for(people), until=ProgramPhase.MENTORING)
    pairing = await pairing_of(harness, handle, J0)
    assert await settled(pairing, DRAIN_LIMIT)
    await pairing.terminate("ended by an operator")
    assert (await pairing.describe()).status == WorkflowExecutionStatus.TERMINATED
    return handle, pairing


def alerts_about(harness: Harness, pairing: Handle) -> list[dict[str, Any]]:
    return [n for n in harness.notices() if n["kind"] == "alert" and f"/closed-outside/{pairing.id}/" in n["key"]]


async def test_a_pairing_ended_by_an_operator_is_closed_at_close_out_and_the_program_completes(
    harness: Harness,
) -> None:
    handle, pairing = await mentoring(harness)

    await drive(harness, handle, personas_for(roster(2)))

    outcome = await result(handle)
    assert not outcome.cancelled and (await status(handle)).phase == ProgramPhase.COMPLETED
    assert (await status(handle)).pairings_by_outcome == {"cancelled": 1, "completed": 1}
    assert (await status(handle)).pairings_running == 0
    told = alerts_about(harness, pairing)
    assert [n["to"] for n in told] == [COORDINATOR]
    assert "closed outside the program" in told[0]["body"]
    closed = [e for e in harness.store.read(handle.id) if e.kind == "pairing_closed" and e.pairing_id == pairing.id]
    assert [(e.fact.outcome, e.workflow_id) for e in closed] == [(PairingOutcome.CANCELLED, handle.id)]  # type: ignore[union-attr]
    assert read_model_outcome(harness.store, pairing.id) == ("closed", "cancelled")


async def test_a_coordinator_can_cancel_a_program_with_a_pairing_ended_by_an_operator(harness: Harness) -> None:
    handle, pairing = await mentoring(harness)

    await handle.execute_update("cancel", CoordinatorAction(coordinator=COORDINATOR, reason="reorganisation"))

    outcome = await result(handle)
    assert outcome.cancelled and (await status(handle)).phase == ProgramPhase.CANCELLED
    assert (await status(handle)).pairings_running == 0
    assert len(alerts_about(harness, pairing)) == 1


async def test_a_rematch_of_a_pairing_ended_by_an_operator_returns_both_to_the_pool(harness: Harness) -> None:
    handle, pairing = await mentoring(harness)

    reply = await handle.execute_update(
        "rematch", RematchRequest(coordinator=COORDINATOR, pairing_id=pairing.id, reason="a poor fit"), result_type=str
    )

    assert "back to the pool" in reply
    assert (await member(handle, J0)).pairing_id != pairing.id and (await member(handle, S0)).pairing_id != pairing.id
    await drive(harness, handle, personas_for(roster(2)))
    assert not (await result(handle)).cancelled
    assert (await status(handle)).pairings_running == 0


async def test_someone_whose_pairing_an_operator_ended_can_still_withdraw(harness: Harness) -> None:
    handle, pairing = await mentoring(harness)

    reply = await handle.execute_update("withdraw", Withdrawal(participant=J0, reason="workload"), result_type=str)

    assert "You have withdrawn" in reply
    assert (await member(handle, J0)).status == MemberStatus.WITHDRAWN
    assert (await member(handle, S0)).pairing_id != pairing.id
    await drive(harness, handle, personas_for(roster(2)))
    assert not (await result(handle)).cancelled
    assert (await member(handle, J1)).status == MemberStatus.COMPLETED


async def test_a_program_cancelled_from_temporal_ends_its_pairings_and_tells_everyone(harness: Harness) -> None:
    people = roster(2)
    handle = await start_program(harness, spec(durations={"program_length": "3w"}), people)
    await drive(harness, handle, personas_for(people), until=ProgramPhase.MENTORING)
    pairings = [await pairing_of(harness, handle, email) for email in (J0, J1)]

    await handle.cancel()

    try:
        await handle.result()
        raise AssertionError("the program completed; it was cancelled")
    except WorkflowFailureError as error:
        assert isinstance(error.cause, CancelledError)
    assert (await status(handle)).phase == ProgramPhase.CANCELLED
    for pairing in pairings:
        await pairing.result()
        assert (await pairing.describe()).status == WorkflowExecutionStatus.COMPLETED
        assert (await pairing.query("summary", result_type=PairingSummary)).outcome == PairingOutcome.CANCELLED
    told = [n for n in harness.notices() if n["kind"] == "info" and "/cancelled/" in str(n["key"])]
    assert sorted(n["to"] for n in told) == sorted([*(p.email for p in people), COORDINATOR])
    assert "program_closed" in [e.kind for e in harness.store.read(handle.id) if e.pairing_id is None]


def prompt_notices(harness: Harness, email: str, prompt_id: str) -> list[str]:
    """Keys of the prompt notices (not reminders) that reached `email` for `prompt_id`."""
    return [
        str(n["key"])
        for n in harness.notices()
        if n["to"] == email and n["kind"] == "prompt" and n["prompt_id"] == prompt_id
    ]


async def test_an_overdue_approval_is_asked_again_and_the_repeat_reaches_the_coordinator(harness: Harness) -> None:
    people = roster(2)
    handle = await start_program(harness, spec(), people)
    cast = personas_for(people)
    cast[COORDINATOR].silent = {PromptKind.APPROVE_MATCHES}

    async def asked_three_times() -> bool:
        return len(prompt_notices(harness, COORDINATOR, "approve-matches")) >= 3

    await drive(harness, handle, cast, until_true=asked_three_times, max_steps=40)

    keys = prompt_notices(harness, COORDINATOR, "approve-matches")
    assert len(set(keys)) == len(keys) >= 3
    reminders = [n for n in harness.notices() if n["kind"] == "reminder" and n["to"] == COORDINATOR]
    assert len({n["key"] for n in reminders}) >= 2  # each asking is reminded of once
    assert (await status(handle)).phase == ProgramPhase.MATCHING


async def test_a_revised_plan_asks_the_partner_to_agree_again(harness: Harness) -> None:
    people = roster(1)
    handle = await start_program(harness, spec(), people)
    cast = personas_for(people)
    for email in (J0, S0):
        cast[email].silent = {PromptKind.PROPOSE_PLAN, PromptKind.AGREE_PLAN}

    async def planning() -> bool:
        pairing_id = (await member(handle, J0)).pairing_id
        return pairing_id is not None and bool(prompt_notices(harness, J0, "plan"))

    await drive(harness, handle, cast, until_true=planning)
    pairing = await pairing_of(harness, handle, J0)
    plan = {"goals": ["Use the team's tools"], "skills": ["digital tools"], "channel": "video"}
    # senior00 proposes, junior00 answers with a revision of their own, senior00 revises once more.
    for who, goals in ((S0, 1), (J0, 2), (S0, 3)):
        revision = {**plan, "participant": who, "goals": [f"Goal {n}" for n in range(goals)]}
        await pairing.execute_update("propose_plan", {**revision, "accept_ground_rules": True}, result_type=str)
    await drive(harness, handle, {}, until_true=lambda: _has(prompt_notices(harness, J0, "agree-plan"), 2))

    keys = prompt_notices(harness, J0, "agree-plan")
    assert len(set(keys)) == len(keys) == 2


async def _has(found: list[str], count: int) -> bool:
    return len(found) >= count


async def test_a_program_nobody_can_be_paired_in_ends_and_tells_the_coordinator_why(harness: Harness) -> None:
    people = roster(2)
    handle = await start_program(harness, spec(), people)
    cast = personas_for(people)
    for email in (p.email for p in people):
        cast[email].silent = {PromptKind.OPT_IN}

    await drive(harness, handle, cast)

    outcome = await result(handle)
    assert outcome.cancelled and outcome.outcome == "cancelled: no pairs could be formed"
    assert prompt_notices(harness, COORDINATOR, "approve-matches") == []
    told = [n for n in harness.notices() if n["to"] == COORDINATOR and n["kind"] == "alert"]
    assert [n["subject"] for n in told] == ["Digital Fluency 2026: no pairs could be formed"]
    assert "no pair among the 0 people who finished training" in str(told[0]["body"])


class HoldStart(Interceptor):
    """Holds the start of one pairing until a given person has withdrawn, so that a withdrawal lands mid-kick-off
    every time: between two of its batches, or while the pairing it ends is being started."""

    pairing_id = ""  # set once the proposal names it
    email = ""

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        hold = self

        class Outbound(WorkflowOutboundInterceptor):
            async def start_child_workflow(self, input: StartChildWorkflowInput) -> ChildWorkflowHandle[Any, Any]:
                if input.id == hold.pairing_id:
                    program = workflow.instance()
                    await workflow.wait_condition(lambda: program.state.members[hold.email].status == "withdrawn")
                return await super().start_child_workflow(input)

        class Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                super().init(Outbound(outbound))

        return Inbound


@pytest.mark.parametrize("held", ["the next batch", "its own start"])
async def test_a_withdrawal_during_kick_off_starts_no_pairing_for_the_one_who_left(
    env: WorkflowEnvironment, tmp_path: Path, held: str
) -> None:
    people = roster(120)  # three kick-off batches of 50
    program = spec(training_modules=[], durations={"program_length": "3w"})
    h, hold = Harness(env, tmp_path), HoldStart()
    try:
        async with build_worker(h.client, h.settings, channel=h.channel, store=h.store, interceptors=[hold]):
            handle = await start_program(h, program, people)
            await opt_in_everyone(h.client, handle.id, people)
            await handle.execute_update(
                "close_recruitment", CoordinatorAction(coordinator=COORDINATOR), result_type=str
            )
            await drive(h, handle, {}, until_true=lambda: awaiting_approval(handle))
            proposal = (await status(handle)).proposal
            assert proposal is not None and len(proposal.pairs) == 120
            leaving = proposal.pairs[-1]  # in the last batch
            # Held: the first start of the second batch, or the leaving pair's own start in the third. Once a
            # neighbour of the held one has started, the kick-off is at that batch.
            held_pair, neighbour = (
                (proposal.pairs[50], proposal.pairs[51])
                if held == "the next batch"
                else (
                    leaving,
                    proposal.pairs[-2],
                )
            )
            hold.pairing_id, hold.email = _pairing_of(held_pair), leaving.mentee
            await handle.execute_update("approve_matches", Approval(coordinator=COORDINATOR), result_type=str)
            await drive(h, handle, {}, until_true=lambda: _started(h, neighbour))

            await handle.execute_update("withdraw", Withdrawal(participant=leaving.mentee, reason="workload"))

            async def settled() -> bool:
                current = await status(handle)
                return current.phase == ProgramPhase.MENTORING and current.pairings_running == len(proposal.pairs) - 1

            await drive(h, handle, {}, until_true=settled, max_steps=20)
            assert (await member(handle, leaving.mentee)).pairing_ids == []
            assert (await member(handle, leaving.mentor)).pairing_id is None  # back in the pool
            untracked = h.client.get_workflow_handle(_pairing_of(leaving))
            if held == "the next batch":  # listed for the last batch, removed before it: never started
                with pytest.raises(RPCError) as missing:
                    await untracked.describe()
                assert missing.value.status == RPCStatusCode.NOT_FOUND
            else:  # started as the withdrawal arrived: told once started, and ended so
                await untracked.result()
                summary = await untracked.query("summary", result_type=PairingSummary)
                assert summary.outcome == PairingOutcome.WITHDRAWN
    finally:
        h.store.dispose()


async def _started(h: Harness, *pairs: ProposedPair) -> bool:
    """Whether each pair's pairing workflow exists yet."""
    for pair in pairs:
        try:
            await h.client.get_workflow_handle(_pairing_of(pair)).describe()
        except RPCError:
            return False
    return True


def _pairing_of(pair: ProposedPair) -> str:
    return f"pairing-digital-fluency-2026-{pair.mentor.split('@')[0]}-{pair.mentee.split('@')[0]}"


async def test_a_pause_that_reaches_a_pairing_in_its_first_step_holds(harness: Harness) -> None:
    """The program pauses a pairing it starts while paused; the pause can be in the pairing's first activation."""
    mentor, mentee = roster(1)
    early = pairing_terms("program-early-pause")
    inp = PairingInput(pairing_id="pairing-early-pause", mentor=mentor, mentee=mentee, terms=early)
    # The pause is delivered with the start: in the same first activation, every time
    handle = await start_pairing(harness.client, inp, harness.settings.task_queue, start_signal="pause")
    await skip(harness.env, timedelta(hours=3))  # three answer windows, had the clock been running

    view = await handle.query("view", result_type=PairingView)
    assert view.paused and view.stage == PairingStage.INTRODUCTION
    prompts = await handle.query("pending_prompts", mentor.email, result_type=list[PendingPrompt])
    assert [(p.id, p.paused, p.due_at) for p in prompts] == [("accept-match", True, None)]
    await handle.signal("resume")
    await skip(harness.env, timedelta(hours=2))
    assert (await handle.query("summary", result_type=PairingSummary)).outcome == PairingOutcome.UNANSWERED


class HoldPause(Interceptor):
    """Holds the program's pause signal to one pairing for an hour of workflow time, as a slow batch would, so
    that a resume the coordinator sends meanwhile is ready to overtake it."""

    pairing_id = ""

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        hold = self

        class Outbound(WorkflowOutboundInterceptor):
            async def signal_external_workflow(self, input: SignalExternalWorkflowInput) -> None:
                if input.signal == "pause" and input.workflow_id == hold.pairing_id:
                    await workflow.sleep(timedelta(hours=1))
                await super().signal_external_workflow(input)

        class Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                super().init(Outbound(outbound))

        return Inbound


async def test_a_resume_sent_while_a_pause_goes_out_leaves_no_pairing_paused(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    people = roster(2)
    h, hold = Harness(env, tmp_path), HoldPause()
    try:
        async with build_worker(h.client, h.settings, channel=h.channel, store=h.store, interceptors=[hold]):
            handle = await start_program(h, spec(durations={"program_length": "3w"}), people)
            await drive(h, handle, personas_for(people), until=ProgramPhase.MENTORING)
            pairings = [await pairing_of(h, handle, email) for email in (J0, J1)]
            hold.pairing_id = pairings[1].id

            pausing = await handle.start_update("pause", AS_COORDINATOR, wait_for_stage=ACCEPTED, result_type=str)
            await drive(h, handle, {}, until_true=lambda: _paused(pairings[0]), max_steps=20)
            resuming = await handle.start_update("resume", AS_COORDINATOR, wait_for_stage=ACCEPTED, result_type=str)
            await skip(env, timedelta(hours=2))  # the held pause goes out
            assert "Paused" in await pausing.result() and await resuming.result() == "Resumed."

            assert [await _paused(p) for p in pairings] == [False, False]
            assert not (await status(handle)).paused
    finally:
        h.store.dispose()


async def _paused(pairing: Handle) -> bool:
    view: PairingView = await pairing.query("view", result_type=PairingView)
    return view.paused


async def test_update_ids_in_the_history_reveal_neither_the_person_nor_the_answer(harness: Harness) -> None:
    people = roster(1)
    handle = await start_program(harness, spec(durations={"program_length": "3w"}), people)
    await drive(harness, handle, personas_for(people))
    pairing = await pairing_of(harness, handle, J0)

    ids = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
        for workflow_id in (handle.id, pairing.id)
        async for e in harness.client.get_workflow_handle(workflow_id).fetch_history_events()
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert len(ids) >= 10  # opt-ins, training, approval, match answers, plans, check-ins, pulses, surveys
    names = [p.email.split("@")[0] for p in people]
    assert [i for i in ids if "@" in i or any(name in i for name in names)] == []
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and len(set(ids)) == len(ids)


def too_large_weights() -> MatchContext:
    """Weights no spec can hold (they stop at 100), so large that the solver cannot compare scores exactly: a
    stand-in for any input a solver fails on."""
    weights = MatchWeights.model_construct(**{**MatchWeights().model_dump(), "skills_taught": 1e15})
    return MatchContext(weights=weights)


async def test_a_solver_that_fails_on_its_input_is_not_retried_and_says_why() -> None:
    request = MatchRequest(
        program_id="program-x", people=roster(3), mode=MatchingMode.ALGORITHM, context=too_large_weights()
    )
    with pytest.raises(ApplicationError) as failed:
        await ActivityEnvironment().run(MatchingActivities().propose_matches, request)
    assert (failed.value.type, failed.value.non_retryable) == ("MatchingFailed", True)
    assert "lower the matching weights" in failed.value.message


async def test_when_matching_cannot_run_the_coordinators_pair_people_themselves(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    people = roster(2)
    h = Harness(env, tmp_path)
    try:
        async with build_worker(h.client, h.settings, channel=h.channel, store=h.store, interceptors=[MatchingFails()]):
            handle = await start_program(h, spec(), people)
            await drive(h, handle, personas_for(people), until=ProgramPhase.MATCHING)
            await drive(h, handle, {}, until_true=lambda: awaiting_approval(handle))

            (request,) = [n for n in h.notices() if n["prompt_id"] == "approve-matches"]
            assert "Matching could not run" in request["subject"] and "lower the matching weights" in request["subject"]
            refused = await refusal(handle.execute_update("approve_matches", Approval(coordinator=COORDINATOR)))
            assert refused.startswith("there are no proposed pairs to approve")
            own = [PairChoice(mentor=J0, mentee=S0), PairChoice(mentor=J1, mentee="senior01@example.com")]
            await handle.execute_update(
                "approve_matches", Approval(coordinator=COORDINATOR, pairs=own), result_type=str
            )
            await drive(h, handle, {}, until=ProgramPhase.MENTORING)
            assert (await member(handle, J0)).pairing_id == _pairing_of(
                ProposedPair(mentor=J0, mentee=S0, score=0, reasons=[])
            )
    finally:
        h.store.dispose()


async def test_a_snapshot_counts_a_pairing_it_cannot_read_and_still_completes(harness: Harness, tmp_path: Path) -> None:
    people = roster(2)
    handle = await start_program(harness, spec(durations={"program_length": "3w"}), people)
    await drive(harness, handle, personas_for(people), until=ProgramPhase.MENTORING)
    readable = await pairing_of(harness, handle, J0)
    request = SnapshotRequest(
        program_id=handle.id,
        label="cycle-1",
        funnel=(await status(handle)).funnel,
        finished=[],
        running=[readable.id, "pairing-gone-past-retention"],
    )

    metrics = await ActivityEnvironment().run(SnapshotActivities(harness.client, tmp_path).snapshot_metrics, request)

    assert metrics.pairings_unread == 1 and metrics.pairings_running == 1
    assert (tmp_path / f"{handle.id}-cycle-1.json").exists()
