"""The answer forms: what each prompt kind asks, how its form fields become an answer, and where errors go.

Field names are part of the portal's contract (see portal/app.py); ids in the page are prefixed per prompt so
several forms can share a page. Who answers, and for which cycle, never comes from the form: the portal takes
them from the session and the prompt (flipside_client.build_answer).
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from domain.durations import format_duration
from domain.pairing import Plan
from domain.program import MAX_PREFERENCES
from domain.prompts import PendingPrompt, PromptKind
from domain.spec import ProgramSpec
from flipside_client import cycle_of

RATINGS = ["1", "2", "3", "4", "5"]
FormValues = Mapping[str, list[str]]

TITLES = {
    PromptKind.OPT_IN: "Join the program",
    PromptKind.TRAINING: "Training",
    PromptKind.PREFERENCES: "Whom would you like to work with?",
    PromptKind.APPROVE_MATCHES: "Approve the proposed pairs",
    PromptKind.ACCEPT_MATCH: "Your match",
    PromptKind.PROPOSE_PLAN: "Propose your mentoring plan",
    PromptKind.AGREE_PLAN: "Agree your mentoring plan",
    PromptKind.CHECK_IN: "Check-in",
    PromptKind.PULSE: "Just for you: a private check",
    PromptKind.MIDPOINT_SURVEY: "Mid-point survey",
    PromptKind.CLOSEOUT_SURVEY: "Close-out survey",
}


@dataclass
class PromptCard:
    """One prompt as a page shows it: the question, what the form needs, what was typed and what went wrong."""

    prompt: PendingPrompt
    values: FormValues = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    form_error: str | None = None
    rules: list[str] = field(default_factory=list)  # ground rules, for consent
    modules: list[str] = field(default_factory=list)
    modules_done: list[str] = field(default_factory=list)
    partner: str | None = None
    reasons: list[str] = field(default_factory=list)
    plan: Plan | None = None
    skills: list[str] = field(default_factory=list)  # rated before/after at close-out
    cadences: list[tuple[str, str]] = field(default_factory=list)  # (value, label) for meeting_every
    default_cadence: str = ""

    @property
    def kind(self) -> str:
        return self.prompt.kind.value

    @property
    def title(self) -> str:
        cycle = cycle_of(self.prompt)
        title = TITLES[self.prompt.kind]
        return f"{title} {cycle}" if self.prompt.kind == PromptKind.CHECK_IN and cycle else title

    @property
    def question(self) -> str:
        """The prompt's question; an accept-match's reasons are shown as a list instead, so not twice."""
        if self.prompt.kind == PromptKind.ACCEPT_MATCH and self.reasons:
            return MATCH_REASONS.sub("", self.prompt.question).strip()
        return self.prompt.question

    @property
    def key(self) -> str:
        return re.sub(r"[^a-z0-9-]+", "-", f"{self.prompt.workflow_id}-{self.prompt.id}".lower())

    @property
    def url(self) -> str:
        return prompt_url(self.prompt)

    @property
    def max_choices(self) -> int:
        return MAX_PREFERENCES

    def field_id(self, name: str) -> str:
        return f"{self.key}-{name}"

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    def value(self, name: str, default: str = "") -> str:
        found = self.values.get(name)
        return found[0] if found else default

    def values_of(self, name: str) -> list[str]:
        return list(self.values.get(name, []))

    def checked(self, name: str, value: str = "yes") -> bool:
        return value in self.values.get(name, [])

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.form_error)


def prompt_url(prompt: PendingPrompt) -> str:
    return f"/prompts/{prompt.workflow_id}/{prompt.id}"


# Each answer form carries the update id its answer is sent with, made when the form is shown: a form sent twice
# (a double click, a retry after a timeout) is one answer, taken once (flipside_client.new_answer_id).
ANSWER_ID_FIELD = "answer_id"


def sent_as(values: dict[str, list[str]]) -> str | None:
    """The answer id a form was shown with (taken out of the values), or None if it carries no well-formed one."""
    found = values.pop(ANSWER_ID_FIELD, [])
    return found[0] if len(found) == 1 and re.fullmatch(r"[0-9a-f]{32}", found[0]) else None


def form_values(items: Iterable[tuple[str, Any]]) -> dict[str, list[str]]:
    """A submitted form as lists of strings per name (file uploads are ignored: no form takes one)."""
    values: dict[str, list[str]] = {}
    for name, value in items:
        if isinstance(value, str):
            values.setdefault(name, []).append(value)
    return values


# Cadence choices: the plan's meeting_every, within the program's shortest and longest cadence.
_CADENCES = [timedelta(days=d) for d in (1, 2, 3, 4, 5, 7, 10, 14, 21, 28, 42, 56)]


def cadence_label(every: timedelta) -> str:
    days = every / timedelta(days=1)
    if every == timedelta(days=7):
        return "every week"
    if days.is_integer() and int(days) % 7 == 0:
        return f"every {int(days) // 7} weeks"
    if days.is_integer():
        return "every day" if days == 1 else f"every {int(days)} days"
    return f"every {format_duration(every)}"


def cadence_choices(spec: ProgramSpec) -> tuple[list[tuple[str, str]], str]:
    d = spec.durations
    low, high = d.shortest_cadence, d.longest_cadence
    choices = sorted({c for c in _CADENCES if low <= c <= high} | {d.checkin_cadence})
    return [(format_duration(c), cadence_label(c)) for c in choices], cadence_label(d.checkin_cadence)


# From a form to the fields of an answer
def _one(values: FormValues, name: str) -> str | None:
    found = values.get(name)
    return found[0] if found else None


def _present(values: FormValues, *names: str) -> dict[str, str]:
    """Fields that were answered; one left out reaches pydantic as missing, which says so next to it."""
    return {name: value for name in names if (value := (_one(values, name) or "").strip())}


def _text(values: FormValues, name: str) -> str:
    return (_one(values, name) or "").strip()


def _lines(values: FormValues, name: str, commas: bool = False) -> list[str]:
    text = _one(values, name) or ""
    parts = re.split(r"[\n,]" if commas else r"\n", text)
    return [p.strip() for p in parts if p.strip()]


def _checked(values: FormValues, name: str) -> bool:
    return bool(_one(values, name))


def answer_fields(card: PromptCard, values: FormValues) -> dict[str, Any]:
    """The loose fields of the answer to `card`'s prompt, read from the names its form uses."""
    kind = card.prompt.kind
    if kind == PromptKind.OPT_IN:
        return {"consent_to_ground_rules": _checked(values, "consent_to_ground_rules")}
    if kind == PromptKind.TRAINING:
        return {"modules": [m for m in values.get("modules", []) if m]}
    if kind == PromptKind.PREFERENCES:
        ranked = [_text(values, f"choice_{n}") for n in range(1, MAX_PREFERENCES + 1)]
        return {"ranked": [r for r in ranked if r]}
    if kind == PromptKind.ACCEPT_MATCH:
        return {**_present(values, "accept"), "reason": _text(values, "reason")}
    if kind == PromptKind.PROPOSE_PLAN:
        return {
            "goals": _lines(values, "goals"),
            "skills": _lines(values, "skills", commas=True),
            **_present(values, "meeting_every"),
            "channel": _text(values, "channel"),
            "accept_ground_rules": _checked(values, "accept_ground_rules"),
        }
    if kind == PromptKind.AGREE_PLAN:
        return {"accept_ground_rules": _checked(values, "accept_ground_rules")}
    if kind == PromptKind.CHECK_IN:
        return {**_present(values, "met", "progress"), "recap": _one(values, "recap") or ""}
    if kind == PromptKind.PULSE:
        return {**_present(values, "safe_and_useful"), "comment": _text(values, "comment")}
    if kind == PromptKind.MIDPOINT_SURVEY:
        return {**_present(values, "satisfaction", "usefulness"), "comment": _text(values, "comment")}
    if kind == PromptKind.CLOSEOUT_SURVEY:
        ratings = [
            {"skill": skill, **_present_as(values, {"before": f"before_{i}", "after": f"after_{i}"})}
            for i, skill in enumerate(card.skills)
        ]
        return {
            **_present(values, "satisfaction", "would_recommend"),
            "skill_ratings": ratings,
            "comment": _text(values, "comment"),
        }
    return {}  # approve_matches: approve the proposal as it stands


def _present_as(values: FormValues, names: dict[str, str]) -> dict[str, str]:
    return {key: value for key, name in names.items() if (value := (_one(values, name) or "").strip())}


# Errors, in words, next to the field they are about
_PYDANTIC_WORDS = {
    "missing": "Please answer this question.",
    "int_parsing": "Choose a whole number from 1 to 5.",
    "int_from_float": "Choose a whole number from 1 to 5.",
    "bool_parsing": "Choose yes or no.",
    "bool_type": "Choose yes or no.",
}
_FIELD_OF_LOC = {"ranked": "choices", "accept": "accept"}


def validation_errors(error: ValidationError) -> dict[str, str]:
    """Pydantic's complaints about a form, keyed by the form field they concern."""
    errors: dict[str, str] = {}
    for problem in error.errors():
        loc = problem["loc"]
        if len(loc) >= 3 and loc[0] == "skill_ratings":
            name = f"{loc[2]}_{loc[1]}"  # ("skill_ratings", 0, "before") -> before_0
        else:
            name = _FIELD_OF_LOC.get(str(loc[0]), str(loc[0])) if loc else "form"
        words = _PYDANTIC_WORDS.get(problem["type"], str(problem["msg"]).removeprefix("Value error, "))
        errors.setdefault(name, words[:1].upper() + words[1:])
    return errors


# A refusal names what it is about in words; these phrases place it next to its field.
_REFUSAL_FIELDS: dict[PromptKind, list[tuple[str, str]]] = {
    PromptKind.OPT_IN: [("ground rules", "consent_to_ground_rules")],
    PromptKind.TRAINING: [("module", "modules")],
    PromptKind.PREFERENCES: [("", "choices")],
    PromptKind.PROPOSE_PLAN: [
        ("ground rules", "accept_ground_rules"),
        ("goal", "goals"),
        ("skill", "skills"),
        ("how you will meet", "channel"),
        ("meet every", "meeting_every"),
    ],
    PromptKind.AGREE_PLAN: [("ground rules", "accept_ground_rules")],
    PromptKind.CHECK_IN: [("progress", "progress"), ("recap", "recap")],
    PromptKind.PULSE: [("the answer", "safe_and_useful")],
    PromptKind.MIDPOINT_SURVEY: [("satisfaction", "satisfaction"), ("usefulness", "usefulness")],
    PromptKind.CLOSEOUT_SURVEY: [("satisfaction", "satisfaction"), ("rate each skill", "skill_ratings")],
}
_SKILL_RATING = re.compile(r"the '(before|after)' rating of (.+?) must")


def place_refusal(card: PromptCard, message: str) -> None:
    """Put a workflow's refusal next to the field it is about, or above the form when it is about no one field."""
    sentence = message[:1].upper() + message[1:]
    if card.prompt.kind == PromptKind.CLOSEOUT_SURVEY and (rating := _SKILL_RATING.search(message)):
        side, skill = rating.groups()
        if skill in card.skills:
            card.errors[f"{side}_{card.skills.index(skill)}"] = sentence
            return
    for phrase, name in _REFUSAL_FIELDS.get(card.prompt.kind, []):
        if phrase in message:
            card.errors[name] = sentence
            return
    card.form_error = sentence


MATCH_REASONS = re.compile(r"Why you two:\s*(.*)$", re.DOTALL)
MATCH_PARTNER = re.compile(r"^Meet (.+?)(?:, your reverse mentor)?:")


def match_intro(question: str) -> tuple[str | None, list[str]]:
    """The partner's name and the match's reasons, as the pairing wrote them into the accept-match prompt."""
    partner = MATCH_PARTNER.search(question)
    reasons = MATCH_REASONS.search(question)
    return (
        partner.group(1) if partner else None,
        [r.strip() for r in reasons.group(1).split(";") if r.strip()] if reasons else [],
    )
