"""Notices: the messages Flipside sends people, written here so the words live in one place."""

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from domain.matching.model import MatchProposal
from domain.metrics import PairingOutcome


class NoticeKind(StrEnum):
    PROMPT = "prompt"  # please answer something
    REMINDER = "reminder"
    INFO = "info"  # something happened that concerns you
    ALERT = "alert"  # for coordinators: a pairing needs attention
    REPORT = "report"
    RECOGNITION = "recognition"


class Meeting(BaseModel):
    """A pair's recurring check-in, sent as a calendar invitation with each check-in prompt.

    `series` stays the same for a pairing, so a calendar updates one series instead of adding a new one with
    every cycle; `sequence` (the cycle) tells it which version is newest. A `cancelled` one takes the series
    out of the attendees' calendars.
    """

    series: str
    sequence: int
    title: str
    starts_at: datetime
    length: timedelta
    every: timedelta
    occurrences: int
    attendees: list[str]
    cancelled: bool = False


def cancellation(sent: Meeting) -> Meeting:
    """The cancel of a series whose latest invitation was `sent`: the same series, one version newer than any
    sent (invitations carry the cycle, which only grows), so calendars take it over every invitation before it."""
    return sent.model_copy(update={"sequence": sent.sequence + 1, "cancelled": True})


def meetings_cancelled(meeting: Meeting, outcome: PairingOutcome) -> tuple[str, str]:
    """Subject and body for each person invited to a pair's meetings when the pairing ends before they are over."""
    why = {
        PairingOutcome.WITHDRAWN: "one of you has stepped back from the pairing",
        PairingOutcome.CANCELLED: "the program has closed the pairing",
    }.get(outcome, "the pairing has ended")
    return (
        f"Cancelled: {meeting.title}",
        f"Your check-in meetings are cancelled because {why}. The calendar update attached takes them out of "
        "your calendar. Nothing either of you wrote is lost. Thank you for the time you gave each other.",
    )


class Notice(BaseModel):
    key: str  # idempotency key: workflow id and a business key, stable across retries and continue-as-new
    to: str
    kind: NoticeKind
    subject: str
    body: str
    program_id: str
    pairing_id: str | None = None
    prompt_id: str | None = None
    meeting: Meeting | None = None


NO_PAIRS_REASON = "no pairs could be formed"


def no_pairs_alert(program: str, pool: int, unmatched: list[tuple[str, str]]) -> tuple[str, str]:
    """Subject and body for coordinators when matching finds nobody to pair: the program ends rather than ask for
    approval of an empty list. `unmatched` holds (email, why) for each person matching could not place."""
    why = "".join(f"\n- {email}: {reason}" for email, reason in unmatched)
    return (
        f"{program}: no pairs could be formed",
        f"Matching found no pair among the {pool} people who finished training, so {program} ends here instead "
        f"of asking you to approve an empty list.{why}\nNothing anyone wrote is lost. Start a new run when more "
        "people have opted in.",
    )


def approval_request(program: str, proposal: MatchProposal) -> str:
    """The request to approve a proposal: each pair with its score and reasons, and who is left out and why."""
    lines = [f"{p.mentor} mentors {p.mentee} (score {p.score:g}): {'; '.join(p.reasons)}" for p in proposal.pairs]
    lines += [f"unmatched {u.email}: {u.reason}" for u in proposal.unmatched]
    return f"Approve {len(proposal.pairs)} proposed pairs for {program}:\n" + "\n".join(lines)


def matching_failed_request(program: str, reason: str) -> str:
    """The approval request when matching itself failed: the coordinators can still pair people by hand."""
    return (
        f"Matching could not run for {program}: {reason}. Nothing is lost and the program waits for you: pair "
        "people yourself by approving your own pairs (mentor:mentee), or cancel the program."
    )


def rematch_failed_alert(program: str, reason: str, waiting: int) -> tuple[str, str]:
    """Subject and body for coordinators when rematching the people in the pool failed."""
    return (
        f"{program}: rematching could not run",
        f"Rematching could not run: {reason}. The {waiting} people waiting for a new partner keep waiting; the "
        "program tries again when someone else comes back to the pool.",
    )


def closed_outside_alert(pairing_id: str, can_rematch: bool) -> tuple[str, str]:
    """Subject and body for coordinators when a pairing turns out to have closed without telling its program."""
    after = (
        "Both people go back to the pool for a new partner."
        if can_rematch
        else "It is counted as cancelled; nothing either person wrote is lost."
    )
    return (
        f"{pairing_id} closed outside the program",
        f"{pairing_id} closed outside the program: it was ended from Temporal (by an operator, or after a failure) "
        f"without reporting back, so the program has closed it on its side. {after}",
    )


def conflicting_run_alert(workflow_id: str) -> tuple[str, str]:
    """Subject and body for coordinators when a run finds its workflow id already used in the record."""
    return (
        f"{workflow_id} stopped: its name was used before",
        f"{workflow_id} stopped before doing anything more: the program record already holds an earlier run "
        "under the same id, and the two would be mixed up. Nobody was invited by this run. Start the program "
        "again under a new name or slug.",
    )
