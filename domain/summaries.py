"""What the Temporal UI says about a workflow: its summary and details, its current details, and a label on each
activity, timer and child it starts.

Only ids, phases, counts, durations, KPI names and dates, never a name, an email, a purpose, a goal in words or
anything a person wrote: an engineer reads these to find their way round a history, and needs nothing personal
for that. Pairing ids hold the readable part of both people's emails (`pairing-<slug>-<mentor>-<mentee>`); the
pairing id is the workflow's id, shown in the UI anyway, and nothing here adds to it.

The SDK sends every summary and detail through the payload codec like any other payload, so on the server they
are sealed too (README, "Confidential payloads"): an engineer reads them in the UI through the codec server.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from domain.durations import format_duration
from domain.pairing import PairingTerms
from domain.spec import ProgramSpec

_WORDS = {"kickoff": "kick-off", "midpoint_review": "mid-point review", "close_out": "close-out"}


def phase_words(phase: str) -> str:
    """A phase or stage as people write it: "midpoint_review" -> "mid-point review"."""
    return _WORDS.get(phase, phase.replace("_", " "))


def when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _plural(count: int, thing: str, things: str = "") -> str:
    return f"{count} {thing}" if count == 1 else f"{count} {things or thing + 's'}"


# Programs
def phase_plan(spec: ProgramSpec) -> str:
    d = spec.durations
    return (
        f"recruitment {format_duration(d.recruitment)} → training {format_duration(d.training)} → matching → "
        f"kick-off → mentoring {format_duration(d.program_length)} → close-out"
    )


def program_summary(program_id: str, spec: ProgramSpec, people: int) -> str:
    """One line, on the workflow list: "Program program-x: 20 people, recruitment 2d → ... → close-out"."""
    return f"Program {program_id}: {_plural(people, 'person', 'people')}, {phase_plan(spec)}"


def program_details(program_id: str, spec: ProgramSpec, people: int) -> str:
    """Markdown, on the workflow's page: what this run was started with."""
    d, m = spec.durations, spec.matching
    approval = "approved automatically" if m.auto_approve else "approved by a coordinator"
    goals = ", ".join(f"{g.kpi.value} ≥ {g.target:g}" for g in spec.business_goals)
    return "\n".join(
        [
            f"**Program** `{program_id}`",
            "",
            f"- People on the roster: {people}; coordinators: {len(spec.coordinators)}",
            f"- Recruitment: {format_duration(d.recruitment)}",
            f"- Training: {format_duration(d.training)}, {_plural(len(spec.training_modules), 'module')}",
            f"- Matching: {m.mode.value}, {approval}; answers within {format_duration(d.answer_window)}",
            f"- Mentoring: {format_duration(d.program_length)} from kick-off, check-ins every "
            f"{format_duration(d.checkin_cadence)}, mid-point review at {format_duration(d.midpoint)}",
            f"- Close-out: up to {format_duration(2 * d.answer_window + d.checkin_cadence)}",
            f"- Reminders: {format_duration(spec.reminders.nudge_before)} before a deadline",
            f"- Goals: {goals}",
        ]
    )


# Pairings
def stage_plan(terms: PairingTerms) -> str:
    window = format_duration(terms.answer_window)
    return (
        f"introduction {window} → planning {window} → mentoring {format_duration(terms.mentoring_length)} "
        f"(check-ins every {format_duration(terms.default_cadence)}) → close-out {window}"
    )


def pairing_summary(pairing_id: str, terms: PairingTerms) -> str:
    """One line, on the workflow list and on the program's child workflow events."""
    return f"Pairing {pairing_id} of {terms.program_id}: {stage_plan(terms)}"


def pairing_details(pairing_id: str, terms: PairingTerms) -> str:
    window = format_duration(terms.answer_window)
    return "\n".join(
        [
            f"**Pairing** `{pairing_id}` of program `{terms.program_id}`",
            "",
            f"- Introduction: both accept within {window}",
            f"- Planning: a plan agreed within {window}",
            f"- Mentoring: {format_duration(terms.mentoring_length)}, check-ins every "
            f"{format_duration(terms.default_cadence)} (a plan may agree {format_duration(terms.cadence_min)} to "
            f"{format_duration(terms.cadence_max)}), mid-point survey after {format_duration(terms.midpoint_after)}",
            f"- Close-out: a final survey within {window}",
            f"- Coordinators alerted after {_plural(terms.missed_alert_after, 'missed check-in')} in a row",
        ]
    )


def stage_words(stage: str, cycle: int) -> str:
    """A pairing's stage, with the check-in cycle while it mentors: "mentoring, cycle 3"."""
    words = phase_words(stage)
    return f"{words}, cycle {cycle}" if stage in ("mentoring", "midpoint_review") and cycle else words


# As it runs
def current_details(where: str, awaited: int, due: datetime | None, paused: bool) -> str:
    """Markdown kept up to date while a workflow runs: where it is, how many answers it awaits, and by when."""
    lines = [f"**Now:** {where}"]
    if paused:
        lines.append("**Paused** by a coordinator: every deadline moves on by the length of the pause")
    if not awaited:
        lines.append("**Awaiting:** no answers")
    elif due is None:
        lines.append(f"**Awaiting:** {_plural(awaited, 'answer')}, due when the program resumes")
    else:
        lines.append(f"**Awaiting:** {_plural(awaited, 'answer')}, due by {when(due)}")
    return "\n\n".join(lines)


def timer_label(where: str, at_the_end: bool) -> str:
    """A timer's label: the end of what the workflow waits for, or a reminder or prompt deadline before it."""
    return f"{where}: {'until the deadline' if at_the_end else 'until a reminder or a prompt is due'}"


# Activities
def _tally(kinds: Iterable[str]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in Counter(kinds).items())


def notices_label(kinds: list[str]) -> str:
    """ "Send 3 notices: 2 prompt, 1 reminder" (the kinds, never the words or who to)."""
    return f"Send {_plural(len(kinds), 'notice')}: {_tally(kinds)}"


def events_label(kinds: list[str]) -> str:
    return f"Record {_plural(len(kinds), 'event')}: {_tally(kinds)}"


def matching_label(people: int, mode: str) -> str:
    return f"Propose matches for {_plural(people, 'person', 'people')} ({mode})"


def snapshot_label(label: str, running: int) -> str:
    return f"Metrics snapshot {label}: {_plural(running, 'running pairing')} to read"


def pages_label(verb: str, page: int, pages: int, batch: str) -> str:
    """ "Load page 2 of 20: handover-3-members"."""
    return f"{verb} page {page + 1} of {pages}: {batch}"
