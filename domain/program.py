"""A program run: its members, phases and the rules of each coordinator and participant action.

Like `domain.pairing`, `check_*` refuses bad input without touching state and `apply_*` changes it.
"""

import hashlib
import json
from datetime import timedelta
from enum import StrEnum
from itertools import islice
from typing import Any, TypeVar

from pydantic import BaseModel

from domain.answers import (
    MAX_SHORT,
    Approval,
    CoordinatorAction,
    NewParticipant,
    OptIn,
    Preferences,
    RematchRequest,
    TrainingCompleted,
    Withdrawal,
    check_items,
    check_text,
    listed,
    require,
)
from domain.core import WorkflowCore
from domain.matching import MatchContext, MatchProposal, ProposedPair, UnmatchedPerson, check_edited_pairs, why_not
from domain.metrics import FunnelCounts, KpiResult, PairingOutcome, PairingSummary, ProgramMetrics
from domain.people import Participant, handle, is_deliverable, management_chain, named, quoted
from domain.prompts import Prompt, PromptContext, PromptKind
from domain.spec import MatchingMode, ProgramSpec
from domain.views import FINISHED as FINISHED
from domain.views import MemberStatus, MemberView
from domain.views import ProgramPhase as ProgramPhase
from domain.views import ProgramStatus as ProgramStatus

MAX_PREFERENCES = 5
T = TypeVar("T")
SHOWN_PER_BATCH = 200  # member views journaled per batch of events (a batch takes up to 200 events)
PER_PAGE = 500  # records per stored page: 500 members are about 350 KB, far under the 2 MB payload limit


class Member(BaseModel):
    person: Participant
    status: MemberStatus = MemberStatus.INVITED
    modules_done: list[str] = []
    preferences: list[str] = []
    pairing_id: str | None = None  # the current pairing
    pairing_ids: list[str] = []  # every pairing, past and present: a group mentor has several at once
    opted_in: bool = False
    trained: bool = False
    matched: bool = False
    unmatched_reason: str | None = None


class AfterPairing(StrEnum):
    """What a pairing's end means for one of its two people."""

    CARRIES_ON = "carries_on"  # still in another pairing (a group mentor), or nothing changes for them
    INACTIVE = "inactive"  # did not answer the match in time
    WITHDREW = "withdrew"  # left from inside the pairing: now withdrawn from the program
    BACK_TO_POOL = "back_to_pool"  # waits for a rematch
    TOO_LATE = "too_late"  # ended past the mid-point: no new partner this run, and told so


class PairingRecord(BaseModel):
    pairing_id: str
    mentor: str
    mentee: str
    score: float
    reasons: list[str]
    started: bool = False
    summary: PairingSummary | None = None  # set when the pairing reports its end
    rematch_requested: bool = False

    @property
    def running(self) -> bool:
        return self.started and self.summary is None


class ProgramState(WorkflowCore):
    phase: ProgramPhase = ProgramPhase.RECRUITMENT
    phase_opened: bool = False  # prompts of the current phase were sent (survives continue-as-new)
    phase_due: timedelta = timedelta(0)
    members: dict[str, Member] = {}
    recruitment_closed: bool = False
    proposal: MatchProposal | None = None
    matching_failed: str | None = None  # why matching could not run: the coordinators then pair people themselves
    approved: bool = False
    pairings: dict[str, PairingRecord] = {}
    excluded_pairs: list[tuple[str, str]] = []
    rematch_pool: list[str] = []  # unmatched people a rematch may pair
    rematch_pending: bool = False  # someone came back to the pool since the last rematch
    kickoff_at: timedelta | None = None
    midpoint_done: bool = False
    cycles_snapshotted: int = 0  # program-wide metric snapshots taken, one per check-in cadence
    snapshots: dict[str, ProgramMetrics] = {}
    cancel_reason: str | None = None
    handovers: int = 0  # runs that handed their members over in pages: names the next handover's batch
    nudges: int = 0  # coordinators' reminders sent to everyone with a question open: names each round's notices
    last_nudge: timedelta | None = None  # when the latest went out (active clock)
    # While tracking, the members whose view (MemberView) changed since the workflow last told the record (an
    # ordered set): pages then read each person's place in the program from the record, never the workflow.
    members_tracking: bool = False
    members_touched: dict[str, None] = {}


class PagesRef(BaseModel):
    """Where records of a program wait outside its workflow input, in pages: the roster it starts with, the
    members and pairings a run hands over to the next, a pool sent to matching. A workflow's input is decoded in
    one step of the SDK's, which must finish in 2 s (its deadlock limit) while every other workflow on the worker
    shares the GIL: a 4,000-person program's 2.7 MB took longer on a busy machine, and 10,000 people exceed the
    2 MB payload limit. Pages load one at a time, each in a step of its own.
    """

    workflow_id: str
    # "roster-<digest>"; "handover-<n>-members" and "handover-<n>-pairings" from the n-th handover; "pool-<...>"
    batch: str
    count: int  # records in all its pages
    pages: int
    handover: int | None = None  # the n-th handover's pages: once stored, the handovers before n - 1 can go


class PageOf(BaseModel):
    """Which page: what a run asks for as it starts."""

    ref: PagesRef
    page: int


class Page(PageOf):
    """A page of records (members or pairings), each as `model_dump(mode="json")` gives it."""

    items: list[dict[str, Any]]


class ProgramInput(BaseModel):
    spec: ProgramSpec
    roster: list[Participant]
    state: ProgramState | None = None  # set when continuing as new
    # In pages rather than here (roster, state.members and state.pairings then empty); records that changed after
    # their page was stored, as the last run handed over, travel here and replace theirs.
    members_ref: PagesRef | None = None
    members_changed: list[Member] = []
    pairings_ref: PagesRef | None = None
    pairings_changed: list[PairingRecord] = []


class ProgramResult(BaseModel):
    program_id: str
    outcome: str
    cancelled: bool
    kpis: list[KpiResult]
    metrics: ProgramMetrics


NUDGE_GAP = timedelta(days=1)  # the least time between two reminders a coordinator sends to everyone waiting


class Program:
    """The rules, over one program's spec and state."""

    def __init__(self, spec: ProgramSpec, state: ProgramState) -> None:
        self.spec = spec
        self.state = state

    def member(self, email: str) -> Member:
        found = self.state.members.get(email.strip().lower())
        require(found is not None, f"{named(email)} is not a participant of {self.spec.name}")
        assert found is not None
        return found

    # Members shown in the record
    def track_members(self) -> None:
        """From now on note each member whose view changes; the first time, every member, so the record has all."""
        if not self.state.members_tracking:
            self.state.members_tracking = True
            self.state.members_touched = dict.fromkeys(self.state.members)

    def touch(self, *emails: str) -> None:
        """Note members whose view changed (status, pairings, modules, reason), while tracking."""
        if self.state.members_tracking:
            self.state.members_touched.update(dict.fromkeys(emails))

    def take_touched_members(self, limit: int = SHOWN_PER_BATCH) -> list[MemberView]:
        """The views of up to `limit` members touched since last time, in the order they were touched: a few at
        a time, so showing 10,000 members is spread over many workflow steps rather than one."""
        touched = list(islice(self.state.members_touched, limit))
        for email in touched:
            del self.state.members_touched[email]
        return [self.member_view(email) for email in touched if email in self.state.members]

    def require_coordinator(self, email: str) -> None:
        require(
            email.strip().lower() in self.spec.coordinators, f"{named(email)} is not a coordinator of {self.spec.name}"
        )

    def require_not_finished(self) -> None:
        require(self.state.phase not in FINISHED, f"{self.spec.name} has already {self.state.phase.value}")

    def status_count(self, *statuses: MemberStatus) -> int:
        return sum(1 for m in self.state.members.values() if m.status in statuses)

    def with_status(self, *statuses: MemberStatus) -> list[Member]:
        return [m for m in self.state.members.values() if m.status in statuses]

    # Recruitment
    def check_opt_in(self, answer: OptIn) -> None:
        self.require_not_finished()
        member = self.member(answer.participant)
        require(
            self.state.phase == ProgramPhase.RECRUITMENT and not self.state.recruitment_closed,
            f"recruitment for {self.spec.name} has closed; ask a coordinator about the next run",
        )
        require(member.status == MemberStatus.INVITED, f"{member.person.email} has already answered the invitation")
        require(
            answer.consent_to_ground_rules, "to opt in, you must consent to the ground rules", "consent_to_ground_rules"
        )

    def apply_opt_in(self, answer: OptIn) -> None:
        member = self.member(answer.participant)
        member.status, member.opted_in = MemberStatus.OPTED_IN, True
        self.state.prompts.close(member.person.email, "opt-in")
        self.touch(member.person.email)

    def apply_recruitment_closed(self) -> list[Member]:
        """Recruitment's end: whoever was invited and did not opt in has not joined; returns them, to thank."""
        self.state.recruitment_closed = True
        late = self.with_status(MemberStatus.INVITED)
        for member in late:
            member.status = MemberStatus.NOT_JOINED
            self.state.prompts.close(member.person.email, "opt-in")
            self.touch(member.person.email)
        return late

    def apply_new_participant(self, action: NewParticipant) -> Member:
        member = Member(person=action.participant)
        self.state.members[member.person.email] = member
        self.touch(member.person.email)
        return member

    def check_new_participant(self, action: NewParticipant) -> None:
        self.require_coordinator(action.coordinator)
        require(
            self.state.phase == ProgramPhase.RECRUITMENT and not self.state.recruitment_closed,
            "participants can only be added while recruitment is open",
        )
        person = action.participant
        require(is_deliverable(person.email), f"participant.email: {quoted(person.email)} is not an email address")
        require(person.email not in self.state.members, f"{person.email} is already invited")
        manager = person.manager_email
        require(
            manager is None or is_deliverable(manager),
            f"participant.manager_email: {quoted(manager or '')} is not an email address",
        )
        require(bool(person.name.strip()), "participant.name: missing")  # a blank name has no first name to greet
        require(person.manager_email != person.email, "participant.manager_email: a person cannot be their own manager")
        managers = {e: m.person.manager_email for e, m in self.state.members.items() if m.person.manager_email}
        if person.manager_email:
            managers[person.email] = person.manager_email
        require(
            person.email not in management_chain(person.email, managers),
            f"participant.manager_email: the chain of managers from {person.email} loops back to them",
        )
        for text, field in ((person.name, "name"), (person.department, "department"), (person.timezone, "timezone")):
            check_text(text, f"participant.{field}", MAX_SHORT)
        check_items(person.skills_offered, "participant.skills_offered")
        check_items(person.skills_wanted, "participant.skills_wanted")
        check_items(person.interests, "participant.interests")

    def check_close_recruitment(self, action: CoordinatorAction) -> None:
        self.require_coordinator(action.coordinator)
        check_text(action.reason, "the reason", field="reason")
        require(
            self.state.phase == ProgramPhase.RECRUITMENT and not self.state.recruitment_closed,
            "recruitment is not open",
        )

    # Training and preferences
    def check_training(self, done: TrainingCompleted) -> None:
        self.require_not_finished()
        member = self.member(done.participant)
        require(self.state.phase == ProgramPhase.TRAINING, "training is not open now")
        require(member.status == MemberStatus.OPTED_IN, f"{member.person.email} has no training to complete")
        check_items(done.modules, "modules", field="modules")
        unknown = [quoted(m) for m in done.modules if m not in self.spec.training_modules]
        require(
            not unknown,
            f"unknown module {listed(unknown, ', ')}; the modules are {', '.join(self.spec.training_modules)}",
            "modules",
        )
        require(bool(done.modules), "name at least one module you completed", "modules")

    def modules_left(self, email: str) -> list[str]:
        member = self.member(email)
        return [m for m in self.spec.training_modules if m not in member.modules_done]

    def apply_training_closed(self) -> list[Member]:
        """Training's end: who has not finished is left out of matching (kept, not deleted); returns them."""
        unfinished = self.with_status(MemberStatus.OPTED_IN)
        for member in unfinished:
            member.status = MemberStatus.EXCLUDED
            self.touch(member.person.email)
        self.state.prompts.close_all()
        return unfinished

    def apply_training(self, done: TrainingCompleted) -> bool:
        """Record modules; True once the participant has finished them all."""
        member = self.member(done.participant)
        member.modules_done = sorted(set(member.modules_done) | set(done.modules))
        self.touch(member.person.email)
        if set(member.modules_done) >= set(self.spec.training_modules):
            member.status, member.trained = MemberStatus.TRAINED, True
            self.state.prompts.close(member.person.email, "training")
            return True
        self.state.prompts.touch(member.person.email, "training")  # its context lists the modules done
        return False

    def check_preferences(self, choice: Preferences) -> None:
        """A ranked list of up to five people taking part, each someone the rules let this participant pair with.

        The first list answers the preferences prompt; a later one replaces it while training is still open.
        """
        self.require_not_finished()
        member = self.member(choice.participant)
        require(self.spec.matching.mode != MatchingMode.ALGORITHM, "this program matches people by algorithm")
        you = member.person
        if member.preferences and member.status in (MemberStatus.OPTED_IN, MemberStatus.TRAINED):
            require(
                self.state.phase == ProgramPhase.TRAINING,
                "the lists of preferred partners closed when matching began; your last list is the one used",
            )
        else:
            self.state.prompts.require_pending(you.email, "preferences", "list of preferred partners")
        ranked = [e.strip().lower() for e in choice.ranked]
        require(bool(ranked), "name at least one person you would like to work with", "ranked")
        require(len(ranked) <= MAX_PREFERENCES, f"name at most {MAX_PREFERENCES} people", "ranked")
        require(len(set(ranked)) == len(ranked), "name each person once", "ranked")
        require(you.email not in ranked, "you cannot choose yourself", "ranked")
        taking_part = {
            e for e, m in self.state.members.items() if m.status in (MemberStatus.OPTED_IN, MemberStatus.TRAINED)
        }
        strangers = [e for e in ranked if e not in taking_part]
        require(not strangers, f"not taking part in this program: {', '.join(named(e) for e in strangers)}", "ranked")
        context = self.match_context()
        ruled_out = []
        for email in ranked:
            them = self.state.members[email].person
            if why_not(you, them, context) is not None and why_not(them, you, context) is not None:
                mentor, mentee = (you, them) if you.seniority < them.seniority else (them, you)
                ruled_out.append(f"{email} ({why_not(mentor, mentee, context)})")
        require(not ruled_out, f"the program's rules do not let you be paired with {'; '.join(ruled_out)}", "ranked")

    def apply_preferences(self, choice: Preferences) -> None:
        member = self.member(choice.participant)
        member.preferences = [e.strip().lower() for e in choice.ranked]
        self.state.prompts.close(member.person.email, "preferences")

    # Matching
    def match_context(self, mentees_already: dict[str, int] | None = None) -> MatchContext:
        """The spec's matching policy (weights, capacity, working hours) and what this program has learnt."""
        return MatchContext.for_policy(
            self.spec.matching,
            managers={e: m.person.manager_email for e, m in self.state.members.items() if m.person.manager_email},
            excluded_pairs=list(self.state.excluded_pairs),
            preferences={e: m.preferences for e, m in self.state.members.items() if m.preferences},
            mentees_already=mentees_already,
        )

    def mentors_with_room(self) -> dict[str, int]:
        """Group mentors still under their capacity: email -> mentees they have now. Empty when capacity is 1."""
        capacity = self.spec.matching.mentor_capacity
        load: dict[str, int] = {}
        for record in self.state.pairings.values():
            if record.running or (record.summary is None and not record.started):
                load[record.mentor] = load.get(record.mentor, 0) + 1
        mentees = {r.mentee for r in self.state.pairings.values() if r.running}
        return {email: n for email, n in load.items() if n < capacity and email not in mentees}

    def check_approval(self, approval: Approval) -> None:
        self.require_coordinator(approval.coordinator)
        require(
            self.state.phase == ProgramPhase.MATCHING and self.state.proposal is not None and not self.state.approved,
            "there is no proposal waiting for approval",
        )
        if approval.pairs is None:
            require(
                self.state.proposal is not None and bool(self.state.proposal.pairs),
                "there are no proposed pairs to approve: name the pairs yourself (mentor:mentee), or cancel",
            )
        else:
            require(bool(approval.pairs), "an edited proposal needs at least one pair")
            emails = {e for p in approval.pairs for e in (p.mentor, p.mentee)}
            strangers = sorted(named(e) for e in emails if e not in self.state.members)
            require(not strangers, f"not taking part in this program: {listed(strangers, ', ')}")
            available = {m.person.email: m.person for m in self.with_status(MemberStatus.TRAINED)}
            problems = check_edited_pairs(
                [(p.mentor.lower(), p.mentee.lower()) for p in approval.pairs], available, self.match_context()
            )
            require(not problems, listed(problems), "pairs")

    def apply_approval(self, approval: Approval) -> list[ProposedPair]:
        assert self.state.proposal is not None
        pairs = self.state.proposal.pairs
        if approval.pairs is not None:
            proposed = {(p.mentor, p.mentee): p for p in pairs}
            pairs = [
                proposed.get((c.mentor.lower(), c.mentee.lower()))
                or ProposedPair(
                    mentor=c.mentor.lower(), mentee=c.mentee.lower(), score=0.0, reasons=["chosen by the coordinator"]
                )
                for c in approval.pairs
            ]
        self.state.approved = True
        return pairs

    def apply_unmatched(self) -> list[Member]:
        """After approval, whoever was trained but not paired waits in the pool, with the reason; returns them."""
        left = self.with_status(MemberStatus.TRAINED)
        for member in left:
            member.status = MemberStatus.UNMATCHED
            member.unmatched_reason = self._unmatched_reason(member.person.email)
            self.state.rematch_pool.append(member.person.email)
            self.touch(member.person.email)
        return left

    def _unmatched_reason(self, email: str) -> str:
        proposal = self.state.proposal
        found = [u.reason for u in proposal.unmatched if u.email == email] if proposal else []
        return found[0] if found else "the coordinator paired your proposed partner differently"

    def pairing_id(self, mentor: str, mentee: str) -> str:
        base = f"pairing-{self.spec.slug}-{handle(mentor)}-{handle(mentee)}"
        candidate, n = base, 2
        while candidate in self.state.pairings:
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def add_pairing(self, pair: ProposedPair) -> PairingRecord:
        record = PairingRecord(
            pairing_id=self.pairing_id(pair.mentor, pair.mentee),
            mentor=pair.mentor,
            mentee=pair.mentee,
            score=pair.score,
            reasons=pair.reasons,
        )
        self.state.pairings[record.pairing_id] = record
        self.state.excluded_pairs.append((pair.mentor, pair.mentee))
        for email in (pair.mentor, pair.mentee):
            member = self.member(email)
            member.status, member.matched, member.pairing_id = MemberStatus.PAIRED, True, record.pairing_id
            member.pairing_ids.append(record.pairing_id)
            member.unmatched_reason = None
            if email in self.state.rematch_pool:
                self.state.rematch_pool.remove(email)
            self.touch(email)
        return record

    def pairings_of(self, email: str) -> list[PairingRecord]:
        member = self.member(email)
        return [self.state.pairings[p] for p in member.pairing_ids if p in self.state.pairings]

    def other_running_pairing(self, email: str, besides: str) -> str | None:
        """A pairing this person is still in besides the one that ended (a group mentor has several)."""
        running = [r.pairing_id for r in self.pairings_of(email) if r.running and r.pairing_id != besides]
        return running[0] if running else None

    # Any time
    def check_withdrawal(self, withdrawal: Withdrawal) -> None:
        self.require_not_finished()
        member = self.member(withdrawal.participant)
        require(
            member.status not in (MemberStatus.WITHDRAWN, MemberStatus.COMPLETED),
            f"{member.person.email} has already {member.status.value}",
        )
        check_text(withdrawal.reason, "the reason", field="reason")

    def apply_withdrawal(self, withdrawal: Withdrawal) -> Member:
        """Someone leaves: their prompts close and they are never paired again; nothing they wrote is lost."""
        member = self.member(withdrawal.participant)
        member.status = MemberStatus.WITHDRAWN
        self.state.prompts.close_all(member.person.email)
        self.touch(member.person.email)
        self.leave_pool(member.person.email)
        return member

    def apply_left_proposal(self, member: Member) -> None:
        """Someone who left before the proposal was approved, with no pairing yet, leaves the proposal too."""
        if not member.pairing_ids and self.state.proposal is not None and not self.state.approved:
            self.drop_from_proposal(member.person.email)

    def drop_from_proposal(self, email: str) -> None:
        """Take a withdrawn person out of the proposal; their proposed partner is told why at approval."""
        proposal = self.state.proposal
        assert proposal is not None
        for pair in [p for p in proposal.pairs if email in (p.mentor, p.mentee)]:
            proposal.pairs.remove(pair)
            partner = pair.mentee if email == pair.mentor else pair.mentor
            proposal.unmatched.append(UnmatchedPerson(email=partner, reason="your proposed partner withdrew"))
        proposal.unmatched = [u for u in proposal.unmatched if u.email != email]

    def leave_pool(self, email: str) -> None:
        """Someone who withdrew is never paired again, even if they were waiting for a rematch."""
        if email in self.state.rematch_pool:
            self.state.rematch_pool.remove(email)

    def check_rematch(self, request: RematchRequest) -> None:
        self.require_coordinator(request.coordinator)
        record = self.state.pairings.get(request.pairing_id)
        require(record is not None, f"there is no pairing {quoted(request.pairing_id)} in {self.spec.name}")
        assert record is not None
        require(record.running, f"{request.pairing_id} is not running")
        check_text(request.reason, "the reason", field="reason")

    def apply_rematch(self, request: RematchRequest) -> PairingRecord:
        """A coordinator closes a pairing so both people go back to the pool: returns it, to be ended."""
        record = self.state.pairings[request.pairing_id]
        record.rematch_requested = True
        return record

    def check_pause(self, action: CoordinatorAction, pause: bool) -> None:
        self.require_coordinator(action.coordinator)
        self.require_not_finished()
        check_text(action.reason, "the reason", field="reason")
        if pause:
            require(not self.state.clock.paused, "the program is already paused")
        else:
            require(self.state.clock.paused, "the program is not paused")

    def check_nudge(self, action: CoordinatorAction, elapsed: timedelta) -> None:
        """A reminder to everyone the program is waiting for: at most one a day, so nobody is nagged."""
        self.require_coordinator(action.coordinator)
        self.require_not_finished()
        require(bool(self.waiting_on_people()), "nobody has a question from the program waiting")
        last = self.state.last_nudge
        require(last is None or elapsed - last >= NUDGE_GAP, "everyone waiting was reminded less than a day ago")
        check_text(action.reason, "the reason", field="reason")

    def apply_nudge(self, elapsed: timedelta) -> list[Prompt]:
        """The open prompts to remind now; the round is counted, so its notices are told apart from earlier ones."""
        self.state.nudges += 1
        self.state.last_nudge = elapsed
        return self.waiting_on_people()

    def waiting_on_people(self) -> list[Prompt]:
        """The program's open prompts to participants (a coordinator's own, such as approving, are theirs to see)."""
        return [p for p in self.state.prompts.prompts.values() if p.participant not in self.spec.coordinators]

    def check_cancel(self, action: CoordinatorAction) -> None:
        self.require_coordinator(action.coordinator)
        self.require_not_finished()
        require(self.state.cancel_reason is None, "the program is already being cancelled")
        check_text(action.reason, "the reason", field="reason")

    def apply_cancel(self, action: CoordinatorAction) -> None:
        self.state.cancel_reason = action.reason.strip() or "no reason given"

    # Pairings reporting back
    def apply_pairing_report(self, summary: PairingSummary) -> bool:
        """Keep a pairing's final summary; True when its end concerns its people further (it did not complete,
        and was not simply cancelled), so `after_pairing` is asked for each of them."""
        record = self.state.pairings.get(summary.pairing_id)
        if record is None or record.summary is not None:  # unknown, or reported already
            return False
        record.summary = summary
        self.touch(record.mentor, record.mentee)  # no longer among their running pairings
        if summary.outcome == PairingOutcome.COMPLETED:
            return False
        return summary.outcome != PairingOutcome.CANCELLED or record.rematch_requested

    def after_pairing(self, email: str, summary: PairingSummary, rematch_possible: bool) -> AfterPairing:
        """What the end of `summary`'s pairing means for `email`, applied to their membership."""
        member, outcome = self.member(email), summary.outcome
        self.touch(email)
        ended_it = email in summary.ended_by
        still_in = self.other_running_pairing(email, besides=summary.pairing_id)
        if still_in and not (outcome == PairingOutcome.WITHDRAWN and ended_it):
            member.pairing_id = still_in  # a group mentor goes on with their other mentees
            return AfterPairing.CARRIES_ON
        if outcome == PairingOutcome.UNANSWERED and ended_it:
            member.status = MemberStatus.INACTIVE
            return AfterPairing.INACTIVE
        if outcome == PairingOutcome.WITHDRAWN and ended_it:
            if member.status == MemberStatus.WITHDRAWN:  # withdrew from the program, which ended this pairing
                return AfterPairing.CARRIES_ON
            member.status = MemberStatus.WITHDRAWN
            return AfterPairing.WITHDREW
        if rematch_possible:
            self.return_to_pool(email, "your previous pairing ended")
            return AfterPairing.BACK_TO_POOL
        member.status = MemberStatus.UNMATCHED
        return AfterPairing.TOO_LATE

    def apply_recognition(self, summary: PairingSummary) -> list[tuple[str, str]]:
        """A completed pairing's two people complete the program: (email, partner's name) for each, to thank."""
        if summary.outcome != PairingOutcome.COMPLETED:
            return []
        thanked = []
        for email, partner in ((summary.mentor, summary.mentee), (summary.mentee, summary.mentor)):
            self.state.members[email].status = MemberStatus.COMPLETED
            self.touch(email)
            thanked.append((email, self.state.members[partner].person.name))
        return thanked

    def prompt_context(self, prompt: Prompt) -> PromptContext:
        """What a surface needs to answer one of the program's prompts, from the program's state now."""
        if prompt.kind == PromptKind.OPT_IN:
            return PromptContext(ground_rules=self.spec.ground_rules)
        if prompt.kind == PromptKind.TRAINING:
            done = self.state.members[prompt.participant].modules_done
            return PromptContext(modules=self.spec.training_modules, modules_done=done)
        if prompt.kind == PromptKind.PREFERENCES:
            return PromptContext(max_choices=MAX_PREFERENCES)
        return PromptContext()

    def return_to_pool(self, email: str, reason: str) -> None:
        member = self.member(email)
        if member.status in (MemberStatus.WITHDRAWN, MemberStatus.COMPLETED):
            return
        member.status, member.pairing_id, member.unmatched_reason = MemberStatus.UNMATCHED, None, reason
        self.touch(email)
        if email not in self.state.rematch_pool:
            self.state.rematch_pool.append(email)
        self.state.rematch_pending = True

    def funnel(self) -> FunnelCounts:
        members = self.state.members.values()
        return FunnelCounts(
            invited=len(self.state.members),
            opted_in=sum(1 for m in members if m.opted_in),
            trained=sum(1 for m in members if m.trained),
            excluded=sum(1 for m in members if m.status == MemberStatus.EXCLUDED),
            matched=sum(1 for m in members if m.matched),
            withdrawn=sum(1 for m in members if m.status == MemberStatus.WITHDRAWN),
        )

    def finished_summaries(self) -> list[PairingSummary]:
        return [r.summary for r in self.state.pairings.values() if r.summary is not None]

    def status(self) -> ProgramStatus:
        by_status: dict[str, int] = {}
        for m in self.state.members.values():
            by_status[m.status.value] = by_status.get(m.status.value, 0) + 1
        by_outcome: dict[str, int] = {}
        for summary in self.finished_summaries():
            key = (summary.outcome or PairingOutcome.CANCELLED).value
            by_outcome[key] = by_outcome.get(key, 0) + 1
        return ProgramStatus(
            program_id=self.spec.program_id,
            name=self.spec.name,
            phase=self.state.phase,
            paused=self.state.clock.paused,
            funnel=self.funnel(),
            members_by_status=by_status,
            pairings_running=sum(1 for r in self.state.pairings.values() if r.running),
            pairings_by_outcome=by_outcome,
            proposal=self.state.proposal,
            awaiting_approval=self.state.phase == ProgramPhase.MATCHING and not self.state.approved,
            snapshots=self.state.snapshots,
        )

    def member_view(self, email: str) -> MemberView:
        member = self.member(email)
        return MemberView(
            email=member.person.email,
            name=member.person.name,
            status=member.status,
            pairing_id=member.pairing_id,
            pairing_ids=[r.pairing_id for r in self.pairings_of(email) if r.running],
            modules_done=member.modules_done,
            unmatched_reason=member.unmatched_reason,
        )


def new_program_state(inp: ProgramInput) -> ProgramState:
    return ProgramState(members={p.email: Member(person=p) for p in inp.roster})


def in_pages(records: list[T]) -> list[list[T]]:
    """Records in the pages a `PagesRef` counts: in order, PER_PAGE to a page (one page when none)."""
    return [records[i : i + PER_PAGE] for i in range(0, len(records), PER_PAGE)] or [[]]


def roster_ref(workflow_id: str, roster: list[Participant]) -> PagesRef:
    """Where a program's roster waits before it starts: named by its content, so storing it again is harmless
    and a different roster under the same id never overwrites it."""
    digest = hashlib.sha256(json.dumps([p.model_dump(mode="json") for p in roster]).encode()).hexdigest()
    return pages_ref(workflow_id, f"roster-{digest[:16]}", len(roster))


def pages_ref(workflow_id: str, batch: str, count: int, handover: int | None = None) -> PagesRef:
    pages = max(1, -(-count // PER_PAGE))
    return PagesRef(workflow_id=workflow_id, batch=batch, count=count, pages=pages, handover=handover)


def handover_batch(handover: int | str, kind: str) -> str:
    """ "handover-3-members": the n-th handover's pages of one kind of record (SQL wildcards allowed)."""
    return f"handover-{handover}-{kind}"


def handover_ref(workflow_id: str, handover: int, kind: str, count: int) -> PagesRef:
    return pages_ref(workflow_id, handover_batch(handover, kind), count, handover)
