"""The words of each prompt: its question, and the notice and reminder that carry it to a person.

Workflows pass typed facts; surfaces render a prompt from its typed context (domain.prompts.PromptContext) and
show the question as it is, so no one outside the domain and the workflows builds or reads these words.
"""

from datetime import datetime
from functools import lru_cache

from domain.notices import Words
from domain.prompts import Partner

DATE_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


def opt_in(program: str, purpose: str, ground_rules: list[str]) -> str:
    return (
        f"You are invited to {program}: {purpose} Taking part is voluntary. "
        f"Opt in by agreeing to the ground rules: {'; '.join(ground_rules)}"
    )


def training(modules: list[str]) -> str:
    return f"Complete your training: {', '.join(modules)}"


def preferences(max_choices: int) -> str:
    return f"After the kick-off workshop: whom would you like to work with? Rank up to {max_choices} people."


def accept_match(partner: Partner) -> str:
    if partner.is_mentor:
        return f"Meet {partner.name}, your reverse mentor: will you work together?"
    return f"Meet {partner.name}: will you be their reverse mentor?"


def why_you_two(reasons: list[str]) -> str:
    """The match's reasons, added to the accept-match notice below its question."""
    return f"Why you two: {'; '.join(reasons)}" if reasons else ""


def propose_plan(ground_rules: list[str]) -> str:
    return (
        "Agree your mentoring plan: goals, skills to work on, how often and how you will meet. "
        f"Ground rules: {'; '.join(ground_rules)}"
    )


def agree_plan(proposer: str) -> str:
    return f"{proposer} proposed your mentoring plan: do you agree?"


def check_in(cycle: int) -> str:
    return f"Check-in {cycle}: did you meet, how is it going (1-5), and a short recap for the two of you"


PULSE = "Just for you: is this pairing safe and useful for you? (1-5; your partner never sees this)"
MIDPOINT_SURVEY = "Mid-point survey: how satisfied are you (1-5) and how useful is it (1-5)?"


def closeout_survey(skills: list[str]) -> str:
    return (
        f"Close-out: how satisfied are you (1-5), would you recommend it, and rate {', '.join(skills)} "
        "before and after (1-5)"
    )


def _by_when(question: str, note: str, prompt_id: str, due_at: datetime | None) -> str:
    when = _date_words(due_at) if due_at else "when the program resumes"
    lines = [question, *([note] if note else []), f"Please answer by {when}. Prompt: {prompt_id}."]
    return "\n".join(lines)


@lru_cache(maxsize=64)
def _date_words(due_at: datetime) -> str:
    """A due date in words; a phase asks thousands of people by the same date, so each date is written once."""
    return due_at.strftime(DATE_FORMAT)


def prompt_notice(question: str, note: str, prompt_id: str, due_at: datetime | None) -> Words:
    """The notice that asks: the question as its subject, and by when (None while the program is paused)."""
    return Words(question, _by_when(question, note, prompt_id, due_at))


def reminder_notice(question: str, note: str, prompt_id: str, due_at: datetime | None) -> Words:
    return Words(f"Reminder: {question}", _by_when(question, note, prompt_id, due_at))
