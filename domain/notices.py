"""Notices: the messages Flipside sends people, written here so the words live in one place."""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel

from domain.matching.model import MatchProposal
from domain.metrics import KpiResult, PairingOutcome, ProgramMetrics, describe_kpi


class NoticeKind(StrEnum):
    PROMPT = "prompt"  # please answer something
    REMINDER = "reminder"
    INFO = "info"  # something happened that concerns you
    ALERT = "alert"  # for coordinators: a pairing needs attention
    REPORT = "report"
    RECOGNITION = "recognition"


class Words(NamedTuple):
    """A notice's subject and body."""

    subject: str
    body: str


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


def meetings_cancelled(meeting: Meeting, outcome: PairingOutcome) -> Words:
    """Subject and body for each person invited to a pair's meetings when the pairing ends before they are over."""
    why = {
        PairingOutcome.WITHDRAWN: "one of you has stepped back from the pairing",
        PairingOutcome.CANCELLED: "the program has closed the pairing",
    }.get(outcome, "the pairing has ended")
    return Words(
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


def no_pairs_alert(program: str, pool: int, unmatched: list[tuple[str, str]]) -> Words:
    """Subject and body for coordinators when matching finds nobody to pair: the program ends rather than ask for
    approval of an empty list. `unmatched` holds (email, why) for each person matching could not place."""
    why = "".join(f"\n- {email}: {reason}" for email, reason in unmatched)
    return Words(
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


def rematch_failed_alert(program: str, reason: str, waiting: int) -> Words:
    """Subject and body for coordinators when rematching the people in the pool failed."""
    return Words(
        f"{program}: rematching could not run",
        f"Rematching could not run: {reason}. The {waiting} people waiting for a new partner keep waiting; the "
        "program tries again when someone else comes back to the pool.",
    )


def closed_outside_alert(pairing_id: str, can_rematch: bool) -> Words:
    """Subject and body for coordinators when a pairing turns out to have closed without telling its program."""
    after = (
        "Both people go back to the pool for a new partner."
        if can_rematch
        else "It is counted as cancelled; nothing either person wrote is lost."
    )
    return Words(
        f"{pairing_id} closed outside the program",
        f"{pairing_id} closed outside the program: it was ended from Temporal (by an operator, or after a failure) "
        f"without reporting back, so the program has closed it on its side. {after}",
    )


def conflicting_run_alert(workflow_id: str) -> Words:
    """Subject and body for coordinators when a run finds its workflow id already used in the record."""
    return Words(
        f"{workflow_id} stopped: its name was used before",
        f"{workflow_id} stopped before doing anything more: the program record already holds an earlier run "
        "under the same id, and the two would be mixed up. Nobody was invited by this run. Start the program "
        "again under a new name or slug.",
    )


# A pairing's people
MATCH_DECLINED = Words(
    "Your match will not go ahead",
    "This match will not go ahead. That is fine and nobody is at fault; the program will look for another "
    "partner for you.",
)


def match_unanswered(was_silent: bool) -> Words:
    """To each of a pair whose introduction went unanswered: whether it was they who did not answer."""
    if was_silent:
        return Words(
            "Your match is closed",
            "We did not hear from you in time, so this match is closed. Tell your coordinator if you would still "
            "like to take part.",
        )
    return Words(
        "Your match is closed",
        "Your partner did not answer in time, so the program will look for another partner for you.",
    )


def partner_withdrew(first_name: str) -> Words:
    return Words(
        "Your partner has stepped back",
        f"{first_name} has stepped back from your pairing. Nothing you wrote is lost; the program will look for "
        "another partner if time allows.",
    )


def meeting_title(mentor_first_name: str, mentee_first_name: str) -> str:
    return f"Reverse mentoring: {mentor_first_name} and {mentee_first_name}"


# A pairing's coordinators
def plan_missing_alert(pairing_id: str) -> Words:
    return Words(
        f"{pairing_id}: no plan agreed",
        "The pair did not agree a plan in time; check-ins start on the program's default plan.",
    )


def missed_checkins_alert(pairing_id: str, streak: int) -> Words:
    return Words(f"{pairing_id}: check-ins missed", f"This pair has missed {streak} check-ins in a row.")


def low_progress_alert(pairing_id: str, streak: int) -> Words:
    return Words(
        f"{pairing_id}: progress rated low",
        f"This pair met but rated their progress low {streak} check-ins in a row.",
    )


def low_pulse_alert(pairing_id: str) -> Words:
    # Names the pairing, never who answered: the mentee must not learn of it from anyone.
    return Words(
        f"{pairing_id}: a private check needs you",
        "A private pulse answer in this pairing was low. Please reach out gently.",
    )


def midpoint_at_risk_alert(pairing_id: str) -> Words:
    return Words(f"{pairing_id}: at risk at mid-point", "A mid-point answer was low; the pairing may need support.")


def match_declined_alert(pairing_id: str, participant: str, reason: str) -> Words:
    """For coordinators only: who declined and why (the partner is told no more than that it will not go ahead)."""
    return Words(
        f"{pairing_id}: match declined",
        f"{participant} declined this match. Their reason (for you only): {reason.strip() or 'no reason given'}",
    )


def withdrawal_alert(pairing_id: str) -> Words:
    return Words(f"{pairing_id}: a participant withdrew", "One side of this pairing withdrew.")


# A program's people
def recruitment_closed(program: str) -> Words:
    return Words(
        f"{program} is under way",
        "Recruitment has closed. Thank you for considering it; you are welcome in a later run.",
    )


TRAINING_NOT_FINISHED = Words(
    "Training not finished in time",
    "Your training was not finished by the deadline, so you are not in this round of matching. Nothing is lost: "
    "your progress is kept for the next run.",
)


def unmatched(reason: str) -> Words:
    return Words(
        "No partner this round",
        f"We could not find you a partner this round: {reason}. If someone becomes free, you will be considered first.",
    )


TOO_LATE_TO_REMATCH = Words(
    "No new partner this run",
    "Your pairing ended after the program's mid-point, too late to start a new one well. Thank you for taking "
    "part; you are welcome in the next run.",
)


def recognition(program: str, partner_name: str) -> Words:
    return Words(
        f"Thank you from {program}",
        f"You completed {program} with {partner_name}. Thank you for learning in both directions.",
    )


def program_cancelled(program: str, reason: str) -> Words:
    return Words(
        f"{program} is cancelled",
        f"{program} has been cancelled: {reason}. Nothing you wrote is lost. Thank you.",
    )


# A program's coordinators
def rematched(mentor: str, mentee: str, reasons: list[str]) -> Words:
    return Words("A new pair was formed", f"{mentor} and {mentee} were rematched: {'; '.join(reasons)}")


def midpoint_summary(program: str, metrics: ProgramMetrics) -> Words:
    m = metrics
    adherence = "not enough data" if m.checkin_adherence is None else f"{m.checkin_adherence:.0%}"
    return Words(
        f"{program}: mid-point summary",
        f"{m.pairings_running} pairings running, {m.pairings_completed} finished, check-in adherence {adherence}, "
        f"{m.pairings_at_risk} at risk, {m.funnel.withdrawn} withdrawn.",
    )


def final_report(program: str, outcome: str, kpis: list[KpiResult]) -> Words:
    return Words(f"{program}: evaluation", "\n".join([f"{program}: {outcome}.", *[describe_kpi(k) for k in kpis]]))


# Email: the words around a notice's own (the activity only lays them out as text and HTML)
ANSWER_BUTTON = "Answer in Flipside"
OPEN_BUTTON = "Open Flipside"
EMAIL_FOOTER = "This link is yours alone and signs you in once. Thank you for taking part in Flipside."
SUBJECT_LIMIT = 150


class EmailText(NamedTuple):
    subject: str  # one line a mail client can show (headers have no newlines)
    paragraphs: list[str]
    button: str  # the label of the one link into the portal
    footer: str
    plain: str  # the whole text alternative, the link included


def email_text(notice: Notice, link: str) -> EmailText:
    """A notice as an email's words: its subject's first line, cut to fit; its body's paragraphs; and a button
    to answer (for prompts and reminders) or to open the portal."""
    first = " ".join(notice.subject.split("\n", 1)[0].split())
    subject = first if len(first) <= SUBJECT_LIMIT else first[: SUBJECT_LIMIT - 1].rstrip() + "…"
    button = ANSWER_BUTTON if notice.kind in (NoticeKind.PROMPT, NoticeKind.REMINDER) else OPEN_BUTTON
    body = notice.body.strip()
    plain = f"{body}\n\n{button}: {link}\n\n{EMAIL_FOOTER}\n"
    return EmailText(subject, body.split("\n\n"), button, EMAIL_FOOTER, plain)
